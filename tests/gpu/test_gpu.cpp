// The GPU checks of the CUDA flavor: every sampler, the likelihood and the editing methods
// (inpainting, interpolation, classifier guidance, colorization) on CUDA against the same run on
// the CPU, reproducibility per seed, CUDA graph replay against eager
// evaluation, half-precision sampling, training in float32, bfloat16 and float16 with exact
// resume, and data-parallel training on NCCL. Plain C++ (no Qt), so that it builds on a GPU server
// without a desktop:
//
//   build/cuda/tests/gpu/test_gpu [--models DIR] [--dry-run]
//
// --dry-run runs the checks with the CPU in the GPU's place (the CUDA-only ones left out), to
// check the checks themselves on a machine without a GPU.
//
// Exits 77 (CTest's skip) with a message when no CUDA GPU is usable (every CI machine), 1 when a
// check fails, 0 when all pass. Each check prints the figures it compares.
#include "config/presets.h"
#include "editing/colorization.h"
#include "editing/guidance.h"
#include "editing/inpainting.h"
#include "editing/interpolation.h"
#include "io/bundled_models.h"
#include "io/classifier_file.h"
#include "io/model_file.h"
#include "likelihood/likelihood.h"
#include "nets/inference.h"
#include "nets/score_network.h"
#include "sampling/sampling_settings.h"
#include "train/data_parallel.h"
#include "train/trainer.h"
#include "util/cuda_graphs.h"
#include "util/cuda_support.h"
#include "util/device.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;

namespace {

// Tolerances, in pixel units of [0, 1] images (8-bit steps are 0.0039).
constexpr double kSamplerMeanTolerance = 2e-3; // mean |cuda - cpu| over a batch, float32
constexpr double kSamplerMaxTolerance = 5e-2;  // largest single-pixel difference, float32
// The methods that integrate the probability-flow ODE with RK45 (sampling, and interpolation's
// encode-and-decode round trip) amplify rounding differences up to the solver's tolerance: the
// adaptive steps themselves can differ between devices.
constexpr double kOdeMeanTolerance = 5e-3;
constexpr double kBpdTolerance = 2e-3;      // |bits/dim cuda - cpu|
constexpr double kHalfMeanTolerance = 3e-2; // float16 / bfloat16 against float32 on CUDA

int failures = 0;
// The device under test: CUDA, or the CPU with --dry-run (the checks' own logic, against itself).
torch::Device gpu(torch::kCUDA, 0);
bool dryRun = false;

void check(bool ok, const std::string &what)
{
    std::printf("  %s %s\n", ok ? "ok  " : "FAIL", what.c_str());
    std::fflush(stdout);
    if (!ok)
        ++failures;
}

std::string fmt(const char *format, double a, double b = 0.0, double c = 0.0)
{
    char text[256];
    std::snprintf(text, sizeof text, format, a, b, c);
    return text;
}

struct Difference {
    double mean = 0.0, max = 0.0;
};

Difference difference(const torch::Tensor &a, const torch::Tensor &b)
{
    const torch::Tensor d = (a.to(torch::kCPU, torch::kFloat64) - b.to(torch::kCPU, torch::kFloat64)).abs();
    return {d.mean().item<double>(), d.max().item<double>()};
}

bool finite(const torch::Tensor &x)
{
    return torch::isfinite(x).all().item<bool>();
}

std::unique_ptr<sde::ScoreModel> open(const std::string &name, torch::Device device)
{
    sde::LoadOptions options;
    options.device = device;
    auto model = sde::loadModelFile(name, options).model;
    model->to(device);
    return model;
}

double seconds(std::chrono::steady_clock::time_point since)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

sde::SamplingSettings settingsFor(const std::string &method, const sde::ModelConfig &config)
{
    sde::SamplingSettings settings = sde::SamplingSettings::fromConfig(config);
    settings.method = method;
    settings.seed = 7;
    settings.batch = 4;
    settings.pc.steps = 100;
    settings.ode.ode.rtol = settings.ode.ode.atol = 1e-4;
    if (sde::isFastSolver(method)) {
        settings.fast.solver = method;
        settings.fast.steps = method == "adaptive" ? settings.fast.steps : sde::stepsForNfe(method, 20);
    }
    return settings;
}

// Every sampler of the catalogue: CUDA against the CPU, and CUDA twice with one seed.
void samplersMatchTheCpu(const sde::ScoreModel &cpu, const sde::ScoreModel &cuda)
{
    std::printf("samplers: CUDA against the CPU (float32, batch 4, seed 7)\n");
    for (const std::string &method : sde::samplingMethodIds()) {
        const sde::SamplingSettings settings = settingsFor(method, cpu.config());
        const auto t0 = std::chrono::steady_clock::now();
        const sde::SampleResult onCpu = sde::runSampler(cpu, settings);
        const double cpuSeconds = seconds(t0);
        const auto t1 = std::chrono::steady_clock::now();
        const sde::SampleResult onCuda = sde::runSampler(cuda, settings);
        sde::synchronizeDevice(cuda.device());
        const double cudaSeconds = seconds(t1);
        const sde::SampleResult again = sde::runSampler(cuda, settings);
        const Difference d = difference(onCuda.samples, onCpu.samples);
        const Difference repeat = difference(again.samples, onCuda.samples);
        const double meanTolerance = method == "ode" ? kOdeMeanTolerance : kSamplerMeanTolerance;
        check(
            finite(onCuda.samples) && d.mean <= meanTolerance && d.max <= kSamplerMaxTolerance,
            method + fmt(": mean |cuda - cpu| %.2e, max %.2e", d.mean, d.max) +
                fmt(" (NFE %.0f; cpu %.2f s, cuda %.2f s)", static_cast<double>(onCuda.nfe), cpuSeconds, cudaSeconds));
        check(repeat.max == 0.0, method + fmt(": the same seed twice on CUDA differs by at most %.1e", repeat.max));
    }
}

// CUDA graph replay of the score against eager evaluation, in each precision.
void graphsMatchEager(const sde::ScoreModel &cuda)
{
    std::printf("CUDA graphs: replayed score evaluations against eager ones\n");
    for (const auto precision :
         {sde::EvaluationPrecision::Float32, sde::EvaluationPrecision::BFloat16, sde::EvaluationPrecision::Float16}) {
        sde::SamplingSettings settings = settingsFor("dpm2m", cuda.config());
        settings.precision = precision;
        sde::setCudaGraphsEnabled(false);
        sde::runSampler(cuda, settings); // warm-up
        auto t0 = std::chrono::steady_clock::now();
        const sde::SampleResult eager = sde::runSampler(cuda, settings);
        sde::synchronizeDevice(cuda.device());
        const double eagerSeconds = seconds(t0);
        sde::setCudaGraphsEnabled(true);
        sde::runSampler(cuda, settings); // capture
        const int64_t replaysBefore = cuda.cudaGraphs().replays();
        t0 = std::chrono::steady_clock::now();
        const sde::SampleResult replayed = sde::runSampler(cuda, settings);
        sde::synchronizeDevice(cuda.device());
        const double graphSeconds = seconds(t0);
        const int64_t replays = cuda.cudaGraphs().replays() - replaysBefore;
        std::printf("  %s: dpm2m 20 NFE at batch 4 in %.1f ms eager, %.1f ms with graphs\n",
                    sde::precisionId(precision).c_str(), eagerSeconds * 1e3, graphSeconds * 1e3);
        const Difference d = difference(replayed.samples, eager.samples);
        const std::string id = sde::precisionId(precision);
        check(replays > 0, id +
                               fmt(": %.0f replays in %.0f evaluations", static_cast<double>(replays),
                                   static_cast<double>(replayed.nfe)) +
                               (cuda.cudaGraphs().fallbackReason().empty()
                                    ? std::string()
                                    : " (fallback: " + cuda.cudaGraphs().fallbackReason().substr(0, 200) + ")"));
        check(d.max == 0.0, id + fmt(": max |graph - eager| %.2e", d.max));
    }
}

// The cache keeps at most kMaxGraphs graphs whatever the shapes (the adaptive sampler's batch
// shrinks), replays match eager evaluation at each, and a network that copies from host memory
// (a discrete VP model's table lookup) falls back to eager evaluation with the reason recorded.
void graphCacheLimitsAndFallback(const sde::ScoreModel &cuda)
{
    std::printf("CUDA graphs: many shapes, and a model that cannot be captured\n");
    torch::NoGradGuard noGrad;
    double largest = 0.0;
    for (int64_t batch = 1; batch <= 12; ++batch) {
        const torch::Tensor x = torch::randn({batch, 1, 28, 28}, at::detail::createCPUGenerator(batch)).to(gpu);
        const torch::Tensor t = torch::full({batch}, 0.5).to(gpu);
        sde::setCudaGraphsEnabled(false);
        const torch::Tensor eager = cuda.score(x, t);
        sde::setCudaGraphsEnabled(true);
        for (int i = 0; i < 3; ++i)
            largest = std::max(largest, difference(cuda.score(x, t), eager).max);
    }
    check(cuda.cudaGraphs().graphs() <= sde::CudaGraphCache::kMaxGraphs && largest == 0.0,
          fmt("batches 1 to 12: %.0f graphs kept (at most %.0f), max |graph - eager| %.1e",
              static_cast<double>(cuda.cudaGraphs().graphs()), sde::CudaGraphCache::kMaxGraphs, largest));

    sde::ModelConfig config = sde::loadPreset("vp/cifar10_ddpmpp");
    torch::manual_seed(0);
    sde::ScoreModel discrete(config, sde::createScoreNetwork(config));
    discrete.to(gpu);
    const torch::Tensor x = torch::randn({2, 3, 32, 32}, at::detail::createCPUGenerator(5)).to(gpu);
    const torch::Tensor t = torch::full({2}, 0.3).to(gpu);
    sde::setCudaGraphsEnabled(false);
    const torch::Tensor eager = discrete.score(x, t);
    sde::setCudaGraphsEnabled(true);
    double d = 0.0;
    for (int i = 0; i < 3; ++i)
        d = std::max(d, difference(discrete.score(x, t), eager).max);
    const std::string reason = discrete.cudaGraphs().fallbackReason();
    check(discrete.cudaGraphs().captures() == 0 && !reason.empty() && d == 0.0,
          fmt("discrete VP DDPM++: %.0f captures, max |fallback - eager| %.1e; reason: ",
              static_cast<double>(discrete.cudaGraphs().captures()), d) +
              reason.substr(0, std::min<size_t>(reason.find('\n'), 160)));
}

// float16 and bfloat16 autocast against float32 on CUDA.
void halfPrecisionSampling(const sde::ScoreModel &cuda)
{
    std::printf("half precision: autocast against float32 on CUDA (dpm2m, 20 NFE)\n");
    sde::SamplingSettings settings = settingsFor("dpm2m", cuda.config());
    const sde::SampleResult reference = sde::runSampler(cuda, settings);
    for (const auto precision : {sde::EvaluationPrecision::BFloat16, sde::EvaluationPrecision::Float16}) {
        settings.precision = precision;
        const sde::SampleResult half = sde::runSampler(cuda, settings);
        const Difference d = difference(half.samples, reference.samples);
        check(finite(half.samples) && d.mean <= kHalfMeanTolerance,
              sde::precisionId(precision) + fmt(": mean |half - float32| %.2e, max %.2e", d.mean, d.max));
    }
}

void likelihoodMatchesTheCpu(const sde::ScoreModel &cpu, const sde::ScoreModel &cuda)
{
    std::printf("likelihood: bits/dim on CUDA against the CPU (RK45, rtol = atol = 1e-5, fixed probe)\n");
    sde::SamplingSettings settings = settingsFor("dpm2m", cpu.config());
    settings.batch = 2;
    const torch::Tensor images = sde::runSampler(cpu, settings).samples;
    const torch::Tensor data = cpu.scaler(images);
    const torch::Tensor probe =
        torch::randint(0, 2, data.sizes(), at::detail::createCPUGenerator(3)).to(torch::kFloat32) * 2.0 - 1.0;
    auto t0 = std::chrono::steady_clock::now();
    const sde::LikelihoodResult onCpu = sde::bitsPerDim(cpu, data, {}, probe);
    const double cpuSeconds = seconds(t0);
    t0 = std::chrono::steady_clock::now();
    const sde::LikelihoodResult onCuda = sde::bitsPerDim(cuda, data.to(cuda.device()), {}, probe.to(cuda.device()));
    const double cudaSeconds = seconds(t0);
    const Difference d = difference(onCuda.bitsPerDim, onCpu.bitsPerDim);
    check(finite(onCuda.bitsPerDim) && d.max <= kBpdTolerance,
          fmt("bits/dim cpu %.5f, cuda %.5f", onCpu.bitsPerDim[0].item<double>(),
              onCuda.bitsPerDim.to(torch::kCPU)[0].item<double>()) +
              fmt(", max difference %.1e (NFE %.0f", d.max, static_cast<double>(onCuda.nfe)) +
              fmt("; cpu %.1f s, cuda %.1f s)", cpuSeconds, cudaSeconds));
}

void editingMatchesTheCpu(const std::string &modelsDir)
{
    std::printf("editing: inpainting, interpolation, classifier guidance and colorization on CUDA against the CPU "
                "(dpm2m 20 NFE and PC 100 steps)\n");
    auto cpu = open("fashion-mnist", torch::kCPU);
    auto cuda = open("fashion-mnist", gpu);
    sde::SamplingSettings settings = settingsFor("dpm2m", cpu->config());
    const torch::Tensor images = sde::runSampler(*cpu, settings).samples;
    torch::Tensor mask = torch::ones({1, 1, 28, 28});
    mask.index_put_({torch::indexing::Slice(), torch::indexing::Slice(), torch::indexing::Slice(8, 20),
                     torch::indexing::Slice(8, 20)},
                    0.0);
    for (const std::string method : {"dpm2m", "pc"}) {
        sde::SamplingSettings s = settingsFor(method, cpu->config());
        const torch::Tensor a = sde::inpaint(*cpu, images, mask, s).samples;
        const torch::Tensor b = sde::inpaint(*cuda, images.to(cuda->device()), mask.to(cuda->device()), s).samples;
        const Difference d = difference(b, a);
        check(finite(b) && d.mean <= kSamplerMeanTolerance && d.max <= kSamplerMaxTolerance,
              "inpaint " + method + fmt(": mean |cuda - cpu| %.2e, max %.2e", d.mean, d.max));
    }
    // Interpolation: both images encoded by the probability-flow ODE, 3 frames decoded.
    {
        sde::OdeSamplerOptions ode; // RK45 with the reference's rtol = atol = 1e-5
        const std::vector<double> alphas{0.0, 0.5, 1.0};
        const sde::Interpolation a = sde::interpolateImages(*cpu, images[0], images[1], alphas, ode);
        const sde::Interpolation b =
            sde::interpolateImages(*cuda, images[0].to(cuda->device()), images[1].to(cuda->device()), alphas, ode);
        const Difference d = difference(b.frames, a.frames);
        check(finite(b.frames) && d.mean <= kOdeMeanTolerance && d.max <= kSamplerMaxTolerance,
              fmt("interpolate (RK45 1e-5, 3 frames): mean |cuda - cpu| %.2e, max %.2e", d.mean, d.max));
    }
    // Classifier guidance with the bundled noise-conditional classifier (class 3, scale 2).
    if (fs::exists(fs::path(modelsDir) / "fashion-mnist-classifier")) {
        for (const std::string method : {"dpm2m", "pc"}) {
            sde::SampleResult results[2];
            const sde::ScoreModel *models[2] = {cpu.get(), cuda.get()};
            for (int i = 0; i < 2; ++i) {
                sde::LoadedClassifier classifier =
                    sde::loadClassifierFile("fashion-mnist-classifier", models[i]->device());
                sde::ClassifierFn classify = [&](const torch::Tensor &x, const torch::Tensor &t) {
                    return classifier.network->forward(x, t);
                };
                results[i] = sde::sampleClass(*models[i], classify, torch::full({4}, 3, torch::kLong), 2.0,
                                              settingsFor(method, cpu->config()));
            }
            const Difference d = difference(results[1].samples, results[0].samples);
            check(finite(results[1].samples) && d.mean <= kSamplerMeanTolerance && d.max <= kSamplerMaxTolerance,
                  "classifier guidance " + method + fmt(": mean |cuda - cpu| %.2e, max %.2e", d.mean, d.max));
        }
    } else {
        check(false, "guidance: no fashion-mnist-classifier in " + modelsDir);
    }
    if (!fs::exists(fs::path(modelsDir) / "photo-rgb")) {
        check(false, "colorize: no photo-rgb model in " + modelsDir);
        return;
    }
    auto rgbCpu = open("photo-rgb", torch::kCPU);
    auto rgbCuda = open("photo-rgb", gpu);
    sde::SamplingSettings rgbSettings = settingsFor("dpm2m", rgbCpu->config());
    rgbSettings.batch = 2;
    const torch::Tensor photos = sde::runSampler(*rgbCpu, rgbSettings).samples;
    const torch::Tensor gray = sde::grayLevel(photos);
    for (const std::string method : {"dpm2m", "pc"}) {
        sde::SamplingSettings s = settingsFor(method, rgbCpu->config());
        const torch::Tensor a = sde::colorize(*rgbCpu, gray, s).samples;
        const torch::Tensor b = sde::colorize(*rgbCuda, gray.to(rgbCuda->device()), s).samples;
        const Difference d = difference(b, a);
        check(finite(b) && d.mean <= kSamplerMeanTolerance && d.max <= kSamplerMaxTolerance,
              "colorize " + method + fmt(": mean |cuda - cpu| %.2e, max %.2e", d.mean, d.max));
    }
}

// Random 28 x 28 gray images whose batch for a step depends on (seed, step) alone.
class RandomImages : public sde::TrainingData {
public:
    std::string description() const override { return "random 28x28 images"; }
    std::vector<int64_t> exampleShape() const override { return {1, 28, 28}; }
    sde::TrainingBatch batch(int64_t step, int64_t batchSize, uint64_t seed) override
    {
        at::Generator generator = sde::seededGenerator(seed, 0x494d47ULL, static_cast<uint64_t>(step));
        sde::TrainingBatch out;
        out.step = step;
        out.examples = torch::rand({batchSize, 1, 28, 28}, generator);
        return out;
    }
};

std::vector<torch::Tensor> weightsOf(const std::string &modelPath)
{
    auto model = sde::loadModelFile(modelPath).model;
    std::vector<torch::Tensor> out;
    for (const auto &p : model->network()->parameters())
        out.push_back(p.detach().clone());
    return out;
}

double largestDifference(const std::vector<torch::Tensor> &a, const std::vector<torch::Tensor> &b)
{
    double largest = 0.0;
    for (size_t i = 0; i < a.size(); ++i)
        largest = std::max(largest, (a[i] - b[i]).abs().max().item<double>());
    return largest;
}

sde::TrainingResult trainFor(const sde::ModelConfig &config, const std::string &folder, int64_t steps, bool resume,
                             sde::EvaluationPrecision precision, torch::Device device,
                             std::vector<sde::TrainingMetrics> *metrics = nullptr, double initialLossScale = 65536.0,
                             std::optional<sde::DataParallelSettings> dataParallel = std::nullopt)
{
    torch::manual_seed(0);
    sde::ScoreTrainingTask task(config);
    RandomImages data;
    sde::TrainerOptions options;
    options.outDir = folder;
    options.steps = steps;
    options.batchSize = 32;
    options.seed = 11;
    options.device = device;
    options.resume = resume;
    options.logEvery = 5;
    options.checkpointEvery = 1000000;
    options.precision = precision;
    options.initialLossScale = initialLossScale;
    options.dataParallel = dataParallel;
    sde::TrainerCallbacks callbacks;
    if (metrics)
        callbacks.onMetrics = [metrics](const sde::TrainingMetrics &m) { metrics->push_back(m); };
    return sde::train(task, data, options, callbacks);
}

void training(const std::string &scratch)
{
    std::printf("training: the bundled Fashion-MNIST config, batch 32, random images\n");
    const sde::ModelConfig config = open("fashion-mnist", torch::kCPU)->config();
    const torch::Device cuda = gpu;
    struct Case {
        sde::EvaluationPrecision precision;
        const char *id;
        double initialLossScale;
    };
    // The last case starts float16 at a loss scale of 2^30, so that its first steps overflow and
    // are skipped while the scale halves: the resumed half must go on with the scale it had reached.
    std::vector<Case> cases{{sde::EvaluationPrecision::Float32, "float32", 65536.0},
                            {sde::EvaluationPrecision::BFloat16, "bfloat16", 65536.0},
                            {sde::EvaluationPrecision::Float16, "float16", 65536.0},
                            {sde::EvaluationPrecision::Float16, "float16-overflowing", 1073741824.0}};
    if (dryRun)
        cases.resize(1);
    for (const Case &item : cases) {
        const std::string id = item.id;
        const std::string straight = scratch + "/straight-" + id, resumed = scratch + "/resumed-" + id;
        std::vector<sde::TrainingMetrics> metrics;
        const auto t0 = std::chrono::steady_clock::now();
        const sde::TrainingResult all =
            trainFor(config, straight, 20, false, item.precision, cuda, &metrics, item.initialLossScale);
        const double elapsed = seconds(t0);
        trainFor(config, resumed, 10, false, item.precision, cuda, nullptr, item.initialLossScale);
        const sde::TrainingResult rest =
            trainFor(config, resumed, 20, true, item.precision, cuda, nullptr, item.initialLossScale);
        const double loss = metrics.empty() ? NAN : metrics.back().loss;
        const double gpuMemory = metrics.empty() ? -1.0 : metrics.back().gpuMemoryMiB;
        const double scale = metrics.empty() ? -1.0 : metrics.back().lossScale;
        const bool overflowed = scale > 0.0 && scale < item.initialLossScale;
        check(all.outcome == sde::TrainingOutcome::Finished && std::isfinite(loss) && (gpuMemory > 0.0 || dryRun) &&
                  (item.initialLossScale <= 65536.0 || overflowed),
              id +
                  fmt(": 20 steps, last loss %.4f, peak GPU memory %.0f MiB, %.1f steps/s", loss, gpuMemory,
                      20.0 / elapsed) +
                  (scale < 0.0 ? "" : fmt(", loss scale %.0f (from %.0f)", scale, item.initialLossScale)));
        const double d = largestDifference(weightsOf(all.modelPath), weightsOf(rest.modelPath));
        check(rest.step == 20 && d == 0.0, id + fmt(": 10 + resumed 10 steps against 20 in one run: "
                                                    "largest EMA weight difference %.1e",
                                                    d));
    }
    // The same steps on the CPU: float32 CUDA training follows it within float tolerance.
    const sde::TrainingResult onCpu =
        trainFor(config, scratch + "/cpu", 5, false, sde::EvaluationPrecision::Float32, torch::kCPU);
    const sde::TrainingResult onCuda =
        trainFor(config, scratch + "/cuda5", 5, false, sde::EvaluationPrecision::Float32, cuda);
    const double d = largestDifference(weightsOf(onCpu.modelPath), weightsOf(onCuda.modelPath));
    check(d <= 1e-4, fmt("float32: 5 steps on CUDA against the CPU: largest EMA weight difference %.1e", d));
}

// Data-parallel training on the GPU's backend (NCCL; Gloo with --dry-run). One GPU holds one rank
// (NCCL refuses two ranks on one device), so the job here has one rank: its collectives run through
// NCCL on the device, the trainer splits every step and reduces its gradients through the bucketed
// reducer, and the result must equal the same steps without a job. Two ranks need two GPUs.
void dataParallel(const std::string &scratch)
{
    std::string why;
    if (!sde::dataParallelAvailable(gpu, &why)) {
        check(dryRun, "data-parallel on " + gpu.str() + ": " + why);
        return;
    }
    sde::DataParallelSettings settings;
    settings.masterPort = sde::freeLoopbackPort();
    settings.timeout = std::chrono::seconds(60);
    {
        sde::DataParallelGroup group(settings, gpu);
        std::vector<torch::Tensor> values{torch::arange(5, torch::TensorOptions(gpu).dtype(torch::kFloat))};
        group.allReduceSum(values, "the check");
        std::vector<torch::Tensor> largest{torch::full({3}, 7.0, torch::TensorOptions(gpu).dtype(torch::kDouble))};
        group.allReduceMax(largest, "the check");
        group.agreeOn({{"--batch", 32}});
        const double sum = values.front().sum().item<double>();
        check(values.front().device() == gpu && sum == 10.0 && largest.front().min().item<double>() == 7.0,
              fmt("a one-rank group on the device: all-reduce sum %.0f (expected 10), max %.0f (expected 7)", sum,
                  largest.front().min().item<double>()));
    }
    const sde::ModelConfig config = open("fashion-mnist", torch::kCPU)->config();
    settings.masterPort = sde::freeLoopbackPort();
    const auto t0 = std::chrono::steady_clock::now();
    const sde::TrainingResult inJob = trainFor(config, scratch + "/dp-job", 10, false,
                                               sde::EvaluationPrecision::Float32, gpu, nullptr, 65536.0, settings);
    const double jobSeconds = seconds(t0);
    const auto t1 = std::chrono::steady_clock::now();
    const sde::TrainingResult alone =
        trainFor(config, scratch + "/dp-alone", 10, false, sde::EvaluationPrecision::Float32, gpu);
    const double aloneSeconds = seconds(t1);
    const double d = largestDifference(weightsOf(inJob.modelPath), weightsOf(alone.modelPath));
    check(inJob.step == 10 && d <= 1e-5,
          fmt("10 steps as a one-rank job against alone: largest EMA weight difference %.1e (%.1f against %.1f "
              "steps/s, start-up included)",
              d, 10.0 / jobSeconds, 10.0 / aloneSeconds));
}

} // namespace

int main(int argc, char **argv)
{
    std::string modelsDir;
    for (int i = 1; i < argc; ++i) {
        if (std::string(argv[i]) == "--models" && i + 1 < argc)
            modelsDir = argv[i + 1];
        if (std::string(argv[i]) == "--dry-run") {
            dryRun = true;
            gpu = torch::kCPU;
        }
    }
    if (!modelsDir.empty())
        setenv("SDE_MODELS_DIR", modelsDir.c_str(), 1);
    if (!sde::cudaAvailable() && !dryRun) {
        std::printf("SKIP: test_gpu needs a CUDA GPU: %s\n", sde::cudaDeviceDescription().c_str());
        return 77;
    }
    if (modelsDir.empty())
        modelsDir = sde::bundledModelsDir();
    sde::configureThreads(0);
    std::printf("device: %s; LibTorch %s; CPU threads %d\n",
                dryRun ? "the CPU (--dry-run)" : sde::cudaDeviceDescription(0).c_str(), TORCH_VERSION,
                at::get_num_threads());
    const fs::path scratch = fs::temp_directory_path() / ("sde-test-gpu-" + std::to_string(::getpid()));
    fs::create_directories(scratch);
    try {
        if (!dryRun)
            sde::parseDevice("cuda"); // float32 means float32 on the GPU (util/device.h)
        auto cpu = open("fashion-mnist", torch::kCPU);
        auto cuda = open("fashion-mnist", gpu);
        const std::vector<std::pair<const char *, std::function<void()>>> checks{
            {"samplers", [&] { samplersMatchTheCpu(*cpu, *cuda); }},
            {"graphs", [&] { dryRun ? void() : graphsMatchEager(*cuda); }},
            {"half", [&] { dryRun ? void() : halfPrecisionSampling(*cuda); }},
            {"likelihood", [&] { likelihoodMatchesTheCpu(*cpu, *cuda); }},
            {"editing", [&] { editingMatchesTheCpu(modelsDir); }},
            {"training", [&] { training(scratch.string()); }},
            {"data-parallel", [&] { dataParallel(scratch.string()); }},
            // Last: a capture that fails on purpose (the fallback) should leave the device usable,
            // but if it did not, only this check would be lost.
            {"graph cache", [&] { dryRun ? void() : graphCacheLimitsAndFallback(*cuda); }},
        };
        for (const auto &[name, run] : checks) {
            const auto t0 = std::chrono::steady_clock::now();
            try {
                run();
            } catch (const std::exception &e) {
                const std::string what = e.what();
                check(false, std::string(name) + " threw: " + what.substr(0, what.find('\n')));
            }
            std::printf("  (%s: %.1f s)\n", name, seconds(t0));
        }
    } catch (const std::exception &e) {
        check(false, std::string("setup threw: ") + e.what());
    }
    std::error_code error;
    fs::remove_all(scratch, error);
    std::printf("%d failed\n", failures);
    return failures == 0 ? 0 : 1;
}
