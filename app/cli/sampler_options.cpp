#include "sampler_options.h"

#include "imaging/generation_record.h"
#include "imaging/image_io.h"
#include "imaging/point_plot.h"
#include "util/build_info.h"
#include "util/error.h"
#include "util/files.h"

#include <iostream>

#include <csignal>
#include <filesystem>
#include <random>

namespace sde::cli {

CancelToken interruptToken;

namespace {

extern "C" void onInterrupt(int)
{
    interruptToken.cancel();
}

} // namespace

// Ctrl+C asks the run to stop within one step instead of killing the process mid-write.
InterruptScope::InterruptScope()
{
    interruptToken.reset();
    previous_ = std::signal(SIGINT, onInterrupt);
}

InterruptScope::~InterruptScope()
{
    std::signal(SIGINT, previous_);
}

int cancelled(ProgressBar &progress, int64_t steps)
{
    progress.finish("cancelled at step " + std::to_string(steps));
    std::cerr << "cancelled: no images were written\n";
    return 130;
}

void addSamplerOptions(Arguments &args)
{
    args.option("--sampler", "NAME",
                "pc (predictor-corrector), ode (probability flow), or a fast sampler: dpm2m, dpm3m, dpm2s "
                "(DPM-Solver++), edm (Heun), ddim, adaptive (reverse SDE with error control); default: the "
                "config's");
    args.option("--predictor", "NAME", "euler_maruyama, reverse_diffusion, ancestral_sampling or none")
        .option("--corrector", "NAME", "langevin, ald or none")
        .option("--snr", "R", "signal-to-noise ratio of the Langevin corrector")
        .option("--corrector-steps", "K", "corrector steps per noise level")
        .option("--steps", "N", "noise levels (pc), fixed solver steps (ode euler/heun) or grid points (fast samplers)")
        .option("--eps", "T", "last time of the reverse process (default 1e-5 VE, 1e-3 VP)")
        .flag("--denoise", "finish with the noise-free mean (default: the config's)")
        .flag("--no-denoise", "keep the last step's noise")
        .option("--seed", "S", "seed; image i uses S + i (default: random, printed)")
        .option("--temperature", "T", "scale of the prior sample (default 1)")
        .option("--device", "DEVICE", "cpu, cuda, cuda:N or auto (default cpu)")
        .option("--precision", "NAME",
                "the network's number format: float32 (default), bfloat16 (CPUs with AVX-512, CUDA) or float16 "
                "(CUDA); the sampler's state stays float32")
        .option("--solver", "NAME", "ODE solver: rk45 (adaptive), euler or heun")
        .option("--rtol", "X", "RK45 relative tolerance (default 1e-5); adaptive: 0.05")
        .option("--atol", "X", "RK45 absolute tolerance (default 1e-5); adaptive: 0.0078")
        .option("--nfe", "N", "fast samplers: the most score evaluations (default 20); sets --steps")
        .option("--eta", "X", "ddim: 0 deterministic (default) to 1 ancestral")
        .option("--churn", "X", "edm: stochastic churn S_churn (default 0)")
        .option("--grid", "NAME", "dpm2m, dpm3m, dpm2s: the time grid, logsnr or karras (default karras)")
        .option("--rho", "X", "edm, and the karras grid: the exponent of the noise grid (default 7)");
}

SamplingSettings settingsFromArguments(const Arguments &args, const ModelConfig &config)
{
    SamplingSettings s = SamplingSettings::fromConfig(config);
    s.method = args.value("--sampler", s.method);
    if (!isSamplingMethod(s.method))
        throw Error("--sampler must be " + listOfIds(samplingMethodIds()) + ", not '" + s.method + "'");
    if (isFastSolver(s.method)) {
        FastSamplerOptions &f = s.fast;
        f.solver = s.method;
        const int64_t nfe = args.integer("--nfe", 20);
        if (nfe < 3 || nfe > 100000)
            throw Error("--nfe must be between 3 and 100000");
        f.steps = args.has("--steps") ? args.integer("--steps", 0) : stepsForNfe(s.method, nfe);
        if (f.steps < 2 || f.steps > 100000)
            throw Error("--steps must be between 2 and 100000");
        f.eta = args.number("--eta", f.eta);
        if (f.eta < 0.0 || f.eta > 1.0)
            throw Error("--eta must be between 0 and 1");
        f.churn = args.number("--churn", f.churn);
        if (f.churn < 0.0 || f.churn > 1000.0)
            throw Error("--churn must be between 0 and 1000");
        f.grid = args.value("--grid", f.grid);
        if (!isTimeGrid(f.grid))
            throw Error("--grid must be " + listOfIds(timeGridIds()) + ", not '" + f.grid + "'");
        f.rho = args.number("--rho", f.rho);
        if (!(f.rho > 0.0) || f.rho > 100.0)
            throw Error("--rho must be in (0, 100]");
        f.rtol = args.number("--rtol", f.rtol);
        f.atol = args.number("--atol", f.atol);
        if (!(f.rtol > 0.0) || !(f.atol > 0.0))
            throw Error("--rtol and --atol must be positive");
    }
    s.pc.predictor = args.value("--predictor", s.pc.predictor);
    s.pc.corrector = args.value("--corrector", s.pc.corrector);
    s.pc.snr = args.number("--snr", s.pc.snr);
    s.pc.correctorSteps = args.integer("--corrector-steps", s.pc.correctorSteps);
    s.pc.steps = args.integer("--steps", s.pc.steps);
    s.pc.eps = s.ode.eps = s.fast.eps = args.number("--eps", 0.0);
    s.pc.temperature = s.ode.temperature = s.fast.temperature = args.number("--temperature", 1.0);
    s.ode.ode.method = odeMethodFromName(args.value("--solver", "rk45"));
    s.ode.ode.rtol = args.number("--rtol", s.ode.ode.rtol);
    s.ode.ode.atol = args.number("--atol", s.ode.ode.atol);
    s.ode.ode.steps = args.integer("--steps", s.ode.ode.steps);
    if (args.has("--no-denoise"))
        s.pc.noiseRemoval = s.ode.noiseRemoval = false;
    if (args.has("--denoise"))
        s.pc.noiseRemoval = s.ode.noiseRemoval = true;
    const std::string precision = args.value("--precision", "float32");
    try {
        s.precision = precisionFromId(precision);
    } catch (const Error &) {
        throw Error("--precision must be " + listOfIds(precisionIds()) + ", not '" + precision + "'");
    }
    s.batch = args.integer("--batch", 1);
    if (s.batch < 1 || s.batch > 4096)
        throw Error("--batch must be between 1 and 4096");
    if (s.pc.steps < 0 || s.pc.steps == 1 || s.pc.steps > 100000)
        throw Error("--steps must be between 2 and 100000");
    if (s.pc.correctorSteps < 0 || s.pc.correctorSteps > 1000)
        throw Error("--corrector-steps must be between 0 and 1000");
    if (!(s.pc.temperature > 0.0) || s.pc.temperature > 100.0)
        throw Error("--temperature must be in (0, 100]");
    if (!(s.pc.snr > 0.0))
        throw Error("--snr must be positive");
    if (s.pc.eps < 0.0 || s.pc.eps >= 1.0)
        throw Error("--eps must be in (0, 1)");
    if (!(s.ode.ode.rtol > 0.0) || !(s.ode.ode.atol > 0.0))
        throw Error("--rtol and --atol must be positive");
    if (auto seed = args.value("--seed")) {
        const int64_t value = args.integer("--seed", 0);
        if (value < 0)
            throw Error("--seed must not be negative");
        s.seed = static_cast<uint64_t>(value);
    } else {
        s.seed = std::random_device{}() & 0x7fffffffu;
    }
    return s;
}

torch::Tensor loadModelImage(const std::string &path, const ScoreModel &model, int64_t channels)
{
    const auto shape = model.sampleShape();
    torch::Tensor image = loadImage(path, channels > 0 ? channels : shape[0]);
    if (image.size(1) != shape[1] || image.size(2) != shape[2])
        throw Error("'" + path + "' is " + std::to_string(image.size(2)) + "x" + std::to_string(image.size(1)) +
                    ", the model takes " + std::to_string(shape[2]) + "x" + std::to_string(shape[1]) +
                    " images (resize it first)");
    return image;
}

void writeResults(const std::string &folder, const std::string &operation, const torch::Tensor &images,
                  const SamplingSettings &settings, const LoadedModel &loaded, int64_t nfe, const Json &inputs)
{
    const torch::Tensor cpu = images.to(torch::kCPU);
    const ScoreModel &model = *loaded.model;
    if (model.config().isPointModel()) {
        // A toy model's samples are points: one CSV and a picture of the cloud.
        writeFileAtomically(folder + "/" + operation + "-points.csv", pointsToCsv(cpu));
        savePng(
            folder + "/" + operation + "-points.png", renderPointCloud(cpu),
            {{"parameters", operation + ": " + describeSettings(settings) + "; model " + baseName(loaded.info.path)}});
        std::cout << folder << "/" << operation << "-points.csv\n" << folder << "/" << operation << "-points.png\n";
        return;
    }
    GenerationRecord record;
    record.operation = operation;
    record.modelFile = baseName(loaded.info.path);
    record.weights = loaded.info.loadedWeights;
    record.settings = settings;
    record.nfe = nfe;
    record.inputs = inputs;
    for (const std::string &path : saveGeneratedBatch(folder, cpu, record, model))
        std::cout << path << "\n";
    if (cpu.size(0) > 1) {
        savePng(folder + "/grid.png", makeGrid(cpu));
        std::cout << folder << "/grid.png\n";
    }
}

} // namespace sde::cli
