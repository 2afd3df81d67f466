// Quality and training-speed figures of the bundled models (issue: training and bundled models).
//   Fashion-MNIST score model: the Fréchet distance between generated and test images in the
//     feature space of the bundled Fashion-MNIST classifier (the project's own classifier at
//     t = 1e-3, not Inception: "FD-FMNIST", not FID), beside the same distance between real
//     training and test images (the floor for that sample count); test-set bits/dim.
//   Noise-conditional classifier: test accuracy at several diffusion times.
//   2D toy model: sliced Wasserstein-2 distance and MMD to fresh samples of the true distribution,
//     beside the same figures between two true samples.
//   Training steps/s of each bundled config on its own data.
//   RGB model: the sliced W2 distance between the pixel colors of its samples and of patches of its
//     photographs, and its over-saturation (mean saturation, flat images, clipped pixels) beside
//     the patches' (at most 256 samples).
// Usage: bench_bundled_models [--samples N] [--steps S] [--bpd-images M] [--only NAME]
//                             [--sampler pc|dpm2m|... --nfe N] [--grid karras|logsnr]
//                             [--model FILE (with --only fashion-mnist or photo-rgb)]
// The samples come from PC reverse diffusion with S steps (the reference's sampler), or from the
// fast sampler --sampler names with a budget of --nfe evaluations (DPM-Solver++ on --grid).
// --model measures a candidate model file (e.g. a training run's model.safetensors) in the
// bundled model's place.
#include "config/model_config.h"
#include "data/image_data.h"
#include "data/toy_data.h"
#include "io/bundled_models.h"
#include "io/classifier_file.h"
#include "io/model_file.h"
#include "likelihood/likelihood.h"
#include "metrics/frechet.h"
#include "metrics/sample_distance.h"
#include "sampling/sampling_settings.h"
#include "train/trainer.h"
#include "util/device.h"

#include "fmnist_quality.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

using namespace sde;

namespace {

using Clock = std::chrono::steady_clock;
double secondsSince(Clock::time_point start)
{
    return std::chrono::duration<double>(Clock::now() - start).count();
}

using bench::classifierFeatures;
using bench::kFeatureTime;

// The sampler of the figures: PC reverse diffusion with `steps` steps, or a fast sampler.
struct Sampler {
    std::string method = "pc";
    int64_t steps = 500; // pc
    int64_t nfe = 50;    // fast samplers
    std::string grid = FastSamplerOptions{}.grid;

    std::string describe() const
    {
        if (method == "pc")
            return "PC reverse diffusion, " + std::to_string(steps) + " steps";
        return fastSolverTitle(method) + ", " + std::to_string(plannedNfe(method, stepsForNfe(method, nfe))) + " NFE" +
               (usesTimeGrid(method) ? ", " + grid + " grid" : "");
    }
};

torch::Tensor generate(const ScoreModel &model, int64_t count, const Sampler &sampler, uint64_t seed)
{
    SamplingSettings settings = SamplingSettings::fromConfig(model.config());
    settings.method = sampler.method;
    settings.pc.steps = sampler.steps;
    if (isFastSolver(sampler.method))
        settings.fast.steps = stepsForNfe(sampler.method, sampler.nfe);
    settings.fast.grid = sampler.grid;
    std::vector<torch::Tensor> parts;
    for (int64_t start = 0; start < count; start += 100) {
        settings.batch = std::min<int64_t>(100, count - start);
        settings.seed = seed + static_cast<uint64_t>(start);
        parts.push_back(runSampler(model, settings).samples);
    }
    return torch::cat(parts);
}

// `modelFile`: a candidate in the bundled model's place ("" for the bundled one).
void fashionMnist(int64_t samples, const Sampler &sampler, int64_t bpdImages, const std::string &modelFile)
{
    LoadedModel loaded = loadModelFile(modelFile.empty() ? "fashion-mnist" : modelFile);
    LoadedClassifier classifier = loadClassifierFile("fashion-mnist-classifier");
    const ScoreModel &model = *loaded.model;
    IdxTrainingData test(fashionMnistImagesPath("test"), 28, 1, false);
    IdxTrainingData trainSet(fashionMnistImagesPath("train"), 28, 1, false);
    torch::Tensor testImages = test.images();
    torch::Tensor trainImages = trainSet.images().slice(0, 0, samples);

    std::printf("\n== fashion-mnist (%s, %s, step %lld) ==\n", model.config().architectureName().c_str(),
                model.config().sdeDescription().c_str(), static_cast<long long>(loaded.info.step));
    auto started = Clock::now();
    torch::Tensor generated = generate(model, samples, sampler, 1000);
    const double sampleSeconds = secondsSince(started);
    FeatureStatistics testStats = featureStatistics(classifierFeatures(classifier, testImages));
    const double fd = frechetDistance(featureStatistics(classifierFeatures(classifier, generated)), testStats);
    const double floor = frechetDistance(featureStatistics(classifierFeatures(classifier, trainImages)), testStats);
    std::printf("FD-FMNIST, %lld generated vs 10000 test images (%s): %.3f\n", static_cast<long long>(samples),
                sampler.describe().c_str(), fd);
    std::printf("FD-FMNIST, %lld real training vs 10000 test images (the floor at this count):     %.3f\n",
                static_cast<long long>(samples), floor);
    std::printf("FD-FMNIST generated / real: %.2f\n", fd / floor);
    std::printf("sampling time: %.1f s (%.2f s per image)\n", sampleSeconds, sampleSeconds / samples);
    {
        torch::NoGradGuard noGrad;
        torch::Tensor predicted =
            classifier.network->forward(generated * 2.0 - 1.0, torch::full({samples}, kFeatureTime)).argmax(1);
        torch::Tensor counts = torch::bincount(predicted, {}, 10);
        std::printf("generated classes (by the classifier):");
        for (int64_t k = 0; k < 10; ++k)
            std::printf(" %lld", static_cast<long long>(counts[k].item<int64_t>()));
        std::printf("\n");
    }
    if (bpdImages > 0) {
        started = Clock::now();
        torch::Tensor x = testImages.slice(0, 0, bpdImages);
        // Uniform dequantization of the 8-bit test images, as the reference evaluates bits/dim.
        at::Generator generator = at::detail::createCPUGenerator(5);
        x = (x * 255.0 + torch::rand(x.sizes(), generator)) / 256.0;
        LikelihoodOptions options;
        options.generator = generator;
        LikelihoodResult result = bitsPerDim(model, model.scaler(x), options);
        std::printf("test bits/dim (first %lld test images, dequantized): %.4f  (NFE %lld, %.1f s)\n",
                    static_cast<long long>(bpdImages), result.bitsPerDim.mean().item<double>(),
                    static_cast<long long>(result.nfe), secondsSince(started));
    }

    std::printf("\n== fashion-mnist-classifier ==\n");
    torch::NoGradGuard noGrad;
    const torch::Tensor labels = test.labels();
    auto sde = createSde(classifier.config().scoreConfig);
    for (double t : {1e-3, 0.1, 0.25, 0.5, 0.75, 1.0}) {
        at::Generator generator = at::detail::createCPUGenerator(9);
        torch::Tensor x0 = testImages * 2.0 - 1.0;
        torch::Tensor tt = torch::full({x0.size(0)}, t);
        torch::Tensor xt = sde->meanCoefficient(tt).view({-1, 1, 1, 1}) * x0 +
                           sde->marginalStd(tt).view({-1, 1, 1, 1}) * torch::randn(x0.sizes(), generator);
        int64_t correct = 0;
        for (int64_t start = 0; start < xt.size(0); start += 500) {
            torch::Tensor logits =
                classifier.network->forward(xt.slice(0, start, start + 500), tt.slice(0, start, start + 500));
            correct += logits.argmax(1).eq(labels.slice(0, start, start + 500)).sum().item<int64_t>();
        }
        std::printf("test accuracy at t = %-5g: %.2f %%\n", t, 100.0 * correct / xt.size(0));
    }
}

// Color figures of a set of RGB images [N, 3, H, W] in [0, 1]: the mean HSV saturation, the share
// of flat images (pixel standard deviation below 0.02) and of clipped pixels (a channel at or
// beyond 0.005 of 0 or 1).
struct ColorFigures {
    double saturation = 0.0, flat = 0.0, clipped = 0.0;
};

ColorFigures colorFigures(const torch::Tensor &images)
{
    const torch::Tensor x = images.clamp(0.0, 1.0);
    const torch::Tensor high = std::get<0>(x.max(1)), low = std::get<0>(x.min(1));
    ColorFigures f;
    f.saturation = ((high - low) / high.clamp_min(1e-6)).mean().item<double>();
    f.flat = (x.flatten(1).std(1) < 0.02).to(torch::kFloat64).mean().item<double>();
    f.clipped = ((x <= 0.005) | (x >= 0.995)).any(1).to(torch::kFloat64).mean().item<double>();
    return f;
}

// `count` pixels of the images, drawn at random, as points [count, 3].
torch::Tensor pixelSample(const torch::Tensor &images, int64_t count, at::Generator &g)
{
    const torch::Tensor pixels = images.clamp(0.0, 1.0).permute({0, 2, 3, 1}).reshape({-1, 3});
    return pixels.index_select(0, torch::randint(pixels.size(0), {count}, g, torch::kLong));
}

// The RGB model against patches of its photographs: how far the colors of its samples are from
// theirs (sliced W2 between pixel colors) and the figures of over-saturation.
void photoRgb(int64_t samples, const Sampler &sampler, const std::string &modelFile)
{
    LoadedModel loaded = loadModelFile(modelFile.empty() ? "photo-rgb" : modelFile);
    const ScoreModel &model = *loaded.model;
    std::printf("\n== photo-rgb (%s, %s, step %lld) ==\n", model.config().architectureName().c_str(),
                model.config().sdeDescription().c_str(), static_cast<long long>(loaded.info.step));
    auto source = openTrainingData("patches:/usr/share/backgrounds/mate/nature", model.config());
    const torch::Tensor real = source->batch(0, samples, 101).examples;
    const torch::Tensor real2 = source->batch(1, samples, 202).examples;
    auto started = Clock::now();
    const torch::Tensor generated = generate(model, samples, sampler, 1000);
    const double seconds = secondsSince(started);
    at::Generator g = at::detail::createCPUGenerator(23);
    const int64_t pixels = 20000;
    const torch::Tensor realPixels = pixelSample(real, pixels, g);
    std::printf("sliced W2 of pixel colors (%lld pixels, 1000 projections), %lld generated vs patches: %.4f   "
                "patches vs patches: %.4f\n",
                static_cast<long long>(pixels), static_cast<long long>(samples),
                slicedWassersteinDistance(pixelSample(generated, pixels, g), realPixels, 1000, g),
                slicedWassersteinDistance(pixelSample(real2, pixels, g), realPixels, 1000, g));
    const ColorFigures fake = colorFigures(generated), truth = colorFigures(real);
    std::printf("mean saturation: generated %.3f, patches %.3f\n", fake.saturation, truth.saturation);
    std::printf("flat images (pixel std < 0.02): generated %.1f %%, patches %.1f %%\n", 100.0 * fake.flat,
                100.0 * truth.flat);
    std::printf("clipped pixels (a channel within 0.005 of 0 or 1): generated %.1f %%, patches %.1f %%\n",
                100.0 * fake.clipped, 100.0 * truth.clipped);
    std::printf("sampling time: %.1f s for %lld images (%s)\n", seconds, static_cast<long long>(samples),
                sampler.describe().c_str());
}

void toy(int64_t samples, const Sampler &sampler)
{
    LoadedModel loaded = loadModelFile("toy-2d");
    const ScoreModel &model = *loaded.model;
    const std::string dataset = model.config().data.dataset;
    const ToyDistribution distribution = toyDistributionFromName(dataset.substr(dataset.find(':') + 1));
    std::printf("\n== toy-2d (%s, %s, step %lld) ==\n", toyDistributionName(distribution).c_str(),
                model.config().sdeDescription().c_str(), static_cast<long long>(loaded.info.step));
    auto started = Clock::now();
    torch::Tensor generated = generate(model, samples, sampler, 1000).flatten(1);
    const double seconds = secondsSince(started);
    at::Generator g = at::detail::createCPUGenerator(17);
    torch::Tensor truth = sampleToyDistribution(distribution, samples, g);
    torch::Tensor truth2 = sampleToyDistribution(distribution, samples, g);
    std::printf("sliced W2 (1000 projections), %lld generated vs true: %.4f   true vs true: %.4f\n",
                static_cast<long long>(samples), slicedWassersteinDistance(generated, truth, 1000, g),
                slicedWassersteinDistance(truth2, truth, 1000, g));
    std::printf("MMD^2 (Gaussian kernel, bandwidth 0.5), generated vs true: %.5f   true vs true: %.5f\n",
                maximumMeanDiscrepancy(generated, truth, 0.5), maximumMeanDiscrepancy(truth2, truth, 0.5));
    std::printf("sampling time: %.1f s for %lld points (%s)\n", seconds, static_cast<long long>(samples),
                sampler.describe().c_str());
}

// Steps/s of the trainer on a bundled config and its data (after 2 warm-up steps).
void trainingSpeed(const std::string &name, const std::string &data, int64_t timedSteps)
{
    ModelConfig modelConfig;
    std::unique_ptr<TrainingTask> task;
    if (name == "fashion-mnist-classifier") {
        // The classifier trains on the score model's SDE and data layout.
        ClassifierConfig classifier;
        classifier.scoreConfig = loadConfigFile(bundledModelsDir() + "/fashion-mnist/config.json");
        modelConfig = classifier.scoreConfig;
        task = std::make_unique<ClassifierTrainingTask>(classifier);
    } else {
        modelConfig = loadConfigFile(bundledModelsDir() + "/" + name + "/config.json");
        task = std::make_unique<ScoreTrainingTask>(modelConfig);
    }
    auto source = openTrainingData(data, modelConfig);
    const std::string folder = (std::filesystem::temp_directory_path() / ("bench-train-" + name)).string();
    std::filesystem::remove_all(folder);
    TrainerOptions options;
    options.outDir = folder;
    options.steps = 2 + timedSteps;
    options.batchSize = name == "fashion-mnist-classifier" ? 64 : 0;
    Clock::time_point warm;
    TrainerCallbacks callbacks;
    callbacks.onStep = [&](int64_t step, int64_t, double) {
        if (step == 2)
            warm = Clock::now();
    };
    train(*task, *source, options, callbacks);
    const double seconds = secondsSince(warm);
    std::printf("%-26s batch %-4lld %7.2f steps/s  %8.1f examples/s\n", name.c_str(),
                static_cast<long long>(options.batchSize > 0 ? options.batchSize : modelConfig.training.batchSize),
                timedSteps / seconds,
                timedSteps * (options.batchSize > 0 ? options.batchSize : modelConfig.training.batchSize) / seconds);
    std::filesystem::remove_all(folder);
}

} // namespace

int main(int argc, char **argv)
{
    int64_t samples = 1000, bpdImages = 32, toySamples = 5000;
    Sampler sampler;
    std::string only, modelFile;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string key = argv[i], value = argv[i + 1];
        if (key == "--samples")
            samples = std::stoll(value);
        else if (key == "--steps")
            sampler.steps = std::stoll(value);
        else if (key == "--sampler")
            sampler.method = value;
        else if (key == "--nfe")
            sampler.nfe = std::stoll(value);
        else if (key == "--grid")
            sampler.grid = value;
        else if (key == "--bpd-images")
            bpdImages = std::stoll(value);
        else if (key == "--toy-samples")
            toySamples = std::stoll(value);
        else if (key == "--only")
            only = value;
        else if (key == "--model")
            modelFile = value;
        else {
            std::cerr << "unknown option " << key << "\n";
            return 2;
        }
    }
    if (sampler.method != "pc" && !isFastSolver(sampler.method)) {
        std::cerr << "--sampler must be pc or one of " << listOfIds(fastSolverIds()) << "\n";
        return 2;
    }
    if (!isTimeGrid(sampler.grid)) {
        std::cerr << "--grid must be " << listOfIds(timeGridIds()) << "\n";
        return 2;
    }
    if (!modelFile.empty() && only != "fashion-mnist" && only != "photo-rgb") {
        std::cerr << "--model FILE stands in for one model: give --only fashion-mnist or --only photo-rgb\n";
        return 2;
    }
    const int threads = configureThreads();
    std::printf("bench_bundled_models: LibTorch %s, %d threads, models in %s\n", TORCH_VERSION, threads,
                bundledModelsDir().c_str());
    try {
        if (only.empty() || only == "fashion-mnist")
            fashionMnist(samples, sampler, bpdImages, modelFile);
        if (only.empty() || only == "photo-rgb")
            photoRgb(std::min<int64_t>(samples, 256), sampler, modelFile);
        if (only.empty() || only == "toy")
            toy(toySamples, sampler);
        if (only.empty() || only == "training") {
            std::printf("\n== training speed (bundled configs, their own data) ==\n");
            trainingSpeed("fashion-mnist", "fashion-mnist", 10);
            trainingSpeed("fashion-mnist-classifier", "fashion-mnist", 10);
            trainingSpeed("photo-rgb", "patches:/usr/share/backgrounds/mate/nature", 10);
            trainingSpeed("toy-2d", "toy:checkerboard", 100);
        }
    } catch (const std::exception &e) {
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
