// sdestudio-cli sample and bpd.
#include "commands.h"

#include "arguments.h"
#include "model_options.h"
#include "progress.h"
#include "sampler_options.h"

#include "editing/guidance.h"
#include "imaging/idx_file.h"
#include "imaging/image_io.h"
#include "io/bundled_models.h"
#include "io/classifier_file.h"
#include "io/model_file.h"
#include "likelihood/likelihood.h"
#include "sampling/sampling_settings.h"
#include "util/build_info.h"
#include "util/error.h"
#include "util/files.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cstdio>
#include <iostream>

namespace sde::cli {

namespace {

// A class given by index ("3") or by one of the classifier's class names ("Dress").
int64_t classIndex(const ClassifierConfig &config, const std::string &text)
{
    for (size_t i = 0; i < config.classNames.size(); ++i)
        if (config.classNames[i] == text)
            return static_cast<int64_t>(i);
    try {
        size_t used = 0;
        const long long index = std::stoll(text, &used);
        if (used == text.size() && index >= 0 && index < config.numClasses)
            return index;
    } catch (const std::exception &) {
    }
    std::string names;
    for (const auto &name : config.classNames)
        names += (names.empty() ? "" : ", ") + name;
    throw Error("--class " + text + ": expected 0 to " + std::to_string(config.numClasses - 1) +
                (names.empty() ? std::string() : " or one of " + names));
}

} // namespace

int runSample(const std::vector<std::string> &argv)
{
    Arguments args("sample", "--model FILE -o FOLDER [options]",
                   "Generates images with the reverse-time SDE (predictor-corrector), the probability-flow ODE, or a fast sampler.\n"
                   "Each image is a PNG whose text chunks hold the exact settings and seed that make it again.");
    args.option("--model", "FILE", "the model file (.pth or .safetensors)")
        .option("--output", "FOLDER", "where to write the images (-o); created if missing")
        .option("--batch", "B", "images to generate (default 1)")
        .option("--frames", "K", "also save the trajectory (x_t and denoised x_0) every K steps")
        .option("--classifier", "FILE", "class-conditional sampling with this noise-conditional classifier")
        .option("--class", "K", "the class to generate: an index or a name of the classifier's classes")
        .option("--guidance", "S", "classifier guidance scale (default 1: exact Bayes)");
    addSamplerOptions(args);
    addModelOptions(args);
    if (!args.parse(argv))
        return 0;
    if (args.has("--classifier") != args.has("--class"))
        throw Error("class-conditional sampling needs both --classifier and --class");
    const std::string folder = args.required("--output");
    const int64_t frameEvery = args.integer("--frames", 0);
    if (frameEvery < 0)
        throw Error("--frames must be positive");

    LoadOptions options = modelOptions(args);
    LoadedModel loaded = loadModelFile(args.required("--model"), options);
    const ScoreModel &model = *loaded.model;
    SamplingSettings settings = settingsFromArguments(args, model.config());
    makeFolder(folder);
    if (frameEvery > 0)
        makeFolder(folder + "/trajectory");
    std::cerr << "model: " << baseName(loaded.info.path) << " (" << model.config().architectureName() << ", "
              << model.config().sdeDescription() << ")\n"
              << "sampler: " << describeSettings(settings) << "\n";

    ProgressBar progress("sampling");
    SamplerCallback onStep = [&](const SamplerStep &step) {
        progress.update(step.step, step.totalSteps, step.nfe);
        if (frameEvery > 0 && (step.step % frameEvery == 0 || step.step == step.totalSteps)) {
            char name[64];
            std::snprintf(name, sizeof name, "/trajectory/step-%05lld", static_cast<long long>(step.step));
            savePng(folder + name + "-x.png", makeGrid(model.inverseScaler(step.x)));
            savePng(folder + name + "-x0.png", makeGrid(model.inverseScaler(step.denoised())));
        }
    };
    SampleResult result;
    Json inputs = Json::object();
    if (args.has("--classifier")) {
        LoadedClassifier classifier = loadClassifierFile(args.required("--classifier"), model.device());
        const int64_t label = classIndex(classifier.config(), args.required("--class"));
        const DataConfig &data = classifier.config().scoreConfig.data;
        if (data.imageSize != model.config().data.imageSize || data.numChannels != model.config().data.numChannels ||
            classifier.config().scoreConfig.training.sde != model.config().training.sde)
            throw Error("the classifier was trained for " + std::to_string(data.numChannels) + " x " +
                        std::to_string(data.imageSize) + " images of the " +
                        classifier.config().scoreConfig.training.sde + "; the model differs");
        const double guidance = args.number("--guidance", 1.0);
        ClassifierFn classify = [&](const torch::Tensor &x, const torch::Tensor &t) {
            return classifier.network->forward(x, t);
        };
        inputs["classifier"] = baseName(resolveModelPath(args.required("--classifier")));
        inputs["class"] = label;
        inputs["guidance"] = guidance;
        InterruptScope interrupts;
        result = sampleClass(model, classify, torch::full({settings.batch}, label, torch::kLong), guidance, settings,
                             onStep, &interruptToken);
    } else {
        InterruptScope interrupts;
        result = runSampler(model, settings, onStep, &interruptToken);
    }
    if (!result.completed)
        return cancelled(progress, result.steps);
    progress.finish(std::to_string(settings.batch) + " image(s), " + std::to_string(result.nfe) + " NFE");

    writeResults(folder, "sample", result.samples, settings, loaded, result.nfe, inputs);
    return 0;
}

int runBpd(const std::vector<std::string> &argv)
{
    Arguments args(
        "bpd", "--model FILE (IMAGE... | --idx FILE) [options]",
        "Bits per dimension of images through the probability-flow ODE (the reference's likelihood):\n"
        "per image and the mean, with the NFE used. Images must have the model's size and channels; IDX images\n"
        "smaller than the model (28x28 in a 32x32 model) are padded with black borders.");
    args.positionalList("IMAGE", "PNG or JPEG images (8-bit); or none with --idx")
        .option("--idx", "FILE", "an IDX image file (.gz or plain), e.g. Fashion-MNIST's t10k-images-idx3-ubyte.gz")
        .option("--first", "K", "with --idx: the first image to use (default 0)")
        .option("--count", "N", "with --idx: how many images (default 10)")
        .option("--model", "FILE", "the model file (.pth or .safetensors)")
        .option("--probe", "KIND", "Hutchinson probe: rademacher (default) or gaussian")
        .option("--seed", "S", "seed of the probe and the dequantization noise (default 0)")
        .flag("--dequantize", "add uniform dequantization noise, as training with it does")
        .option("--rtol", "X", "RK45 relative tolerance (default 1e-5)")
        .option("--atol", "X", "RK45 absolute tolerance (default 1e-5)")
        .option("--device", "DEVICE", "cpu, cuda, cuda:N or auto (default cpu)");
    addModelOptions(args);
    if (!args.parse(argv))
        return 0;
    LoadOptions options = modelOptions(args);
    LoadedModel loaded = loadModelFile(args.required("--model"), options);
    const ScoreModel &model = *loaded.model;
    const auto shape = model.sampleShape();

    LikelihoodOptions likelihood;
    const std::string probe = args.value("--probe", "rademacher");
    if (probe == "gaussian")
        likelihood.probe = HutchinsonProbe::Gaussian;
    else if (probe != "rademacher")
        throw Error("--probe must be rademacher or gaussian, not '" + probe + "'");
    likelihood.ode.rtol = args.number("--rtol", 1e-5);
    likelihood.ode.atol = args.number("--atol", 1e-5);
    if (!(likelihood.ode.rtol > 0.0) || !(likelihood.ode.atol > 0.0))
        throw Error("--rtol and --atol must be positive");
    const int64_t seed = args.integer("--seed", 0);

    // Read and check every image before the long work starts.
    std::vector<torch::Tensor> images;
    std::vector<std::string> names;
    if (auto idx = args.value("--idx")) {
        if (!args.positionalValues().empty())
            throw Error("give images or --idx, not both");
        torch::Tensor all = readIdxImages(*idx);
        const int64_t first = args.integer("--first", 0), count = args.integer("--count", 10);
        if (first < 0 || count < 1 || first + count > all.size(0))
            throw Error("--first " + std::to_string(first) + " --count " + std::to_string(count) + " is outside the " +
                        std::to_string(all.size(0)) + " images of '" + *idx + "'");
        if (shape[0] != 1)
            throw Error("IDX images are gray; this model has " + std::to_string(shape[0]) + " channels");
        const int64_t padH = shape[1] - all.size(1), padW = shape[2] - all.size(2);
        if (padH < 0 || padW < 0 || padH % 2 || padW % 2)
            throw Error("'" + *idx + "' holds " + std::to_string(all.size(2)) + "x" + std::to_string(all.size(1)) +
                        " images, which do not fit the model's " + std::to_string(shape[2]) + "x" +
                        std::to_string(shape[1]));
        for (int64_t i = first; i < first + count; ++i) {
            torch::Tensor image = all[i].unsqueeze(0).to(torch::kFloat32) / 255.0;
            images.push_back(torch::constant_pad_nd(image, {padW / 2, padW / 2, padH / 2, padH / 2}));
            names.push_back(baseName(*idx) + "[" + std::to_string(i) + "]");
        }
    } else {
        if (args.positionalValues().empty())
            throw Error("'bpd' needs images or --idx FILE (see sdestudio-cli bpd --help)");
        for (const std::string &path : args.positionalValues()) {
            images.push_back(loadModelImage(path, model));
            names.push_back(path);
        }
    }

    double total = 0.0;
    InterruptScope interrupts;
    for (size_t i = 0; i < images.size(); ++i) {
        // Each image gets its own probe stream, so its figure does not depend on the others.
        auto generator = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(seed) + i);
        torch::Tensor x = images[i].unsqueeze(0);
        if (args.has("--dequantize"))
            x = (x * 255.0 + torch::rand(x.sizes(), generator)) / 256.0;
        likelihood.generator = generator;
        ProgressBar progress(baseName(names[i]));
        OdeStepCallback onStep = [&](int64_t step, double, const torch::Tensor &, int64_t nfe) {
            progress.update(step, 0, nfe);
            return !interruptToken.requested();
        };
        LikelihoodResult r = bitsPerDim(model, model.scaler(x).to(options.device), likelihood, {}, onStep);
        if (!r.completed) {
            progress.finish("cancelled");
            return 130;
        }
        const double bpd = r.bitsPerDim[0].item<double>();
        progress.finish(std::to_string(r.nfe) + " NFE");
        std::printf("%s\t%.4f bits/dim\t%lld NFE\n", names[i].c_str(), bpd, static_cast<long long>(r.nfe));
        std::fflush(stdout);
        total += bpd;
    }
    std::printf("mean\t%.4f bits/dim\t(%zu images)\n", total / static_cast<double>(images.size()), images.size());
    return 0;
}

} // namespace sde::cli
