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

const std::vector<OptionSpec> &samplerOptionSpecs()
{
    using O = OptionSpec;
    using R = OptionRange;
    static const std::vector<OptionSpec> specs = {
        O::text("--sampler", "NAME",
                "pc (predictor-corrector), ode (probability flow), or a fast sampler: dpm2m, dpm3m, dpm2s "
                "(DPM-Solver++), edm (Heun), ddim, adaptive (reverse SDE with error control); default: the config's",
                samplingMethodIds()),
        O::text("--predictor", "NAME", "euler_maruyama, reverse_diffusion, ancestral_sampling or none"),
        O::text("--corrector", "NAME", "langevin, ald or none"),
        O::number("--snr", "R", "signal-to-noise ratio of the Langevin corrector", R::positive()),
        O::integer("--corrector-steps", "K", "corrector steps per noise level", R::between(0, 1000)),
        O::integer("--steps", "N",
                   "noise levels (pc; 0: the model's), fixed solver steps (ode euler/heun) or grid points (fast "
                   "samplers)",
                   R::between(0, 100000)),
        O::number("--eps", "T", "last time of the reverse process (default 1e-5 VE, 1e-3 VP)", R::halfOpen(0, 1)),
        O::flag("--denoise", "finish with the noise-free mean (default: the config's)"),
        O::flag("--no-denoise", "keep the last step's noise"),
        O::unsignedInteger("--seed", "S", "seed; image i uses S + i (default: random, printed)"),
        O::number("--temperature", "T", "scale of the prior sample", R::positive(100), "1"),
        O::text("--precision", "NAME",
                "the network's number format: float32, bfloat16 (CPUs with AVX-512, CUDA) or float16 (CUDA); the "
                "sampler's state stays float32",
                precisionIds(), "float32"),
        O::text("--solver", "NAME", "ODE solver: rk45 (adaptive), euler or heun", {"rk45", "euler", "heun"}, "rk45"),
        O::number("--rtol", "X", "RK45 relative tolerance (default 1e-5); adaptive: 0.05", R::positive()),
        O::number("--atol", "X", "RK45 absolute tolerance (default 1e-5); adaptive: 0.0078", R::positive()),
        O::integer("--nfe", "N", "fast samplers: the most score evaluations; sets --steps", R::between(3, 100000),
                   "20"),
        O::number("--eta", "X", "ddim: 0 deterministic (default) to 1 ancestral", R::between(0, 1)),
        O::number("--churn", "X", "edm: stochastic churn S_churn (default 0)", R::between(0, 1000)),
        O::text("--grid", "NAME", "dpm2m, dpm3m, dpm2s: the time grid, logsnr or karras (default karras)",
                timeGridIds()),
        O::number("--rho", "X", "edm, and the karras grid: the exponent of the noise grid (default 7)",
                  R::positive(100)),
    };
    return specs;
}

void addSamplerOptions(CLI::App &command, OptionValues &values)
{
    addOptions(command, samplerOptionSpecs(), values);
}

SamplingSettings samplingSettings(const OptionValues &values, const ModelConfig &config, int64_t batch)
{
    SamplingSettings s = SamplingSettings::fromConfig(config);
    s.method = values.text("--sampler").value_or(s.method);
    if (!isSamplingMethod(s.method))
        throw Error("--sampler must be " + listOfIds(samplingMethodIds()) + ", not '" + s.method + "'");
    const std::optional<int64_t> steps = values.integer("--steps");
    if (isFastSolver(s.method)) {
        FastSamplerOptions &f = s.fast;
        f.solver = s.method;
        f.steps = steps.value_or(stepsForNfe(s.method, *values.integer("--nfe")));
        if (f.steps < 2)
            throw Error("--steps must be between 2 and 100000");
        f.eta = values.number("--eta").value_or(f.eta);
        f.churn = values.number("--churn").value_or(f.churn);
        f.grid = values.text("--grid").value_or(f.grid);
        f.rho = values.number("--rho").value_or(f.rho);
        f.rtol = values.number("--rtol").value_or(f.rtol);
        f.atol = values.number("--atol").value_or(f.atol);
    }
    s.pc.predictor = values.text("--predictor").value_or(s.pc.predictor);
    s.pc.corrector = values.text("--corrector").value_or(s.pc.corrector);
    s.pc.snr = values.number("--snr").value_or(s.pc.snr);
    s.pc.correctorSteps = values.integer("--corrector-steps").value_or(s.pc.correctorSteps);
    s.pc.steps = steps.value_or(s.pc.steps);
    if (s.pc.steps == 1)
        throw Error("--steps must be 0 (the model's) or between 2 and 100000");
    // 0: the SDE's own (1e-5 VE, 1e-3 VP).
    s.pc.eps = s.ode.eps = s.fast.eps = values.number("--eps").value_or(0.0);
    s.pc.temperature = s.ode.temperature = s.fast.temperature = *values.number("--temperature");
    s.ode.ode.method = odeMethodFromName(*values.text("--solver"));
    s.ode.ode.rtol = values.number("--rtol").value_or(s.ode.ode.rtol);
    s.ode.ode.atol = values.number("--atol").value_or(s.ode.ode.atol);
    s.ode.ode.steps = steps.value_or(s.ode.ode.steps);
    if (values.flag("--no-denoise"))
        s.pc.noiseRemoval = s.ode.noiseRemoval = false;
    if (values.flag("--denoise"))
        s.pc.noiseRemoval = s.ode.noiseRemoval = true;
    s.precision = precisionFromId(*values.text("--precision"));
    s.batch = batch;
    if (!(s.pc.snr > 0.0))
        throw Error("--snr must be positive");
    s.seed = values.unsignedInteger("--seed").value_or(std::random_device{}() & 0x7fffffffu);
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
