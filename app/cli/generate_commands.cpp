// sdestudio-cli sample and bpd.
#include "commands.h"

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
#include "sampling/sampler_catalogue.h"
#include "sampling/sampling_settings.h"
#include "util/build_info.h"
#include "util/error.h"
#include "util/files.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cstdio>
#include <iostream>
#include <map>

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

struct SampleOptions {
    std::string model, folder;
    int64_t batch = 1;
    int64_t frameEvery = 0;
    std::optional<std::string> classifier, label;
    double guidance = 1.0;
    OptionValues sampler;
    ModelOptions load;
};

// Samples and writes the results; the trajectory's frames go into `trajectory`, kept when all is written.
int sampleInto(const SampleOptions &o, const LoadedModel &loaded, const SamplingSettings &settings,
               FileBatch &trajectory)
{
    const std::string &folder = o.folder;
    const int64_t frameEvery = o.frameEvery;
    const ScoreModel &model = *loaded.model;
    ProgressBar progress("sampling");
    SamplerCallback onStep = [&](const SamplerStep &step) {
        progress.update(step.step, step.totalSteps, step.nfe);
        if (frameEvery > 0 && (step.step % frameEvery == 0 || step.step == step.totalSteps)) {
            char name[64];
            std::snprintf(name, sizeof name, "/trajectory/step-%05lld", static_cast<long long>(step.step));
            trajectory.write(folder + name + "-x.png", encodePng(makeGrid(model.inverseScaler(step.x))));
            trajectory.write(folder + name + "-x0.png", encodePng(makeGrid(model.inverseScaler(step.denoised()))));
        }
    };
    SampleResult result;
    Json inputs = Json::object();
    if (o.classifier) {
        LoadedClassifier classifier = loadClassifierFile(*o.classifier, model.device());
        const int64_t label = classIndex(classifier.config(), *o.label);
        const DataConfig &data = classifier.config().scoreConfig.data;
        if (data.imageSize != model.config().data.imageSize || data.numChannels != model.config().data.numChannels ||
            classifier.config().scoreConfig.training.sde != model.config().training.sde)
            throw Error(resolveModelPath(*o.classifier) + ": the classifier was trained for " +
                        std::to_string(data.numChannels) + " x " + std::to_string(data.imageSize) + " images of the " +
                        classifier.config().scoreConfig.training.sde + "; the model " + baseName(loaded.info.path) +
                        " makes " + std::to_string(model.config().data.numChannels) + " x " +
                        std::to_string(model.config().data.imageSize) + " images of the " +
                        model.config().training.sde);
        const double guidance = o.guidance;
        ClassifierFn classify = [&](const torch::Tensor &x, const torch::Tensor &t) {
            return classifier.network->forward(x, t);
        };
        inputs["classifier"] = baseName(resolveModelPath(*o.classifier));
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
    trajectory.keep();
    return 0;
}

int runSample(const SampleOptions &o)
{
    if (o.classifier.has_value() != o.label.has_value())
        throw Error("class-conditional sampling needs both --classifier and --class");
    const std::string &folder = o.folder;

    LoadOptions options = loadOptions(o.load);
    LoadedModel loaded = loadModelFile(o.model, options);
    const ScoreModel &model = *loaded.model;
    SamplingSettings settings = samplingSettings(o.sampler, model.config(), o.batch);
    if (o.frameEvery > 0 && model.config().isPointModel())
        throw Error("--frames saves the trajectory as images, and " + baseName(loaded.info.path) +
                    " generates points, not images");
    OutputFolder output(folder);
    if (o.frameEvery > 0)
        output.subfolder("trajectory");
    std::cerr << "model: " << baseName(loaded.info.path) << " (" << model.config().architectureName() << ", "
              << model.config().sdeDescription() << ")\n"
              << "sampler: " << describeSettings(settings) << "\n";

    // The trajectory's frames are written as they come and kept all or none, with the samples:
    // a run that fails or is cancelled removes them again.
    FileBatch trajectory;
    try {
        return sampleInto(o, loaded, settings, trajectory);
    } catch (const Error &e) {
        const size_t removed = trajectory.discard();
        if (removed == 0)
            throw;
        throw Error(std::string(e.what()) + "; the " + std::to_string(removed) +
                    " trajectory file(s) written were removed");
    }
}

struct BpdOptions {
    std::vector<std::string> images;
    std::optional<std::string> idx;
    int64_t first = 0, count = 10;
    std::string model;
    std::string probe = "rademacher";
    uint64_t seed = 0;
    bool dequantize = true; // the reference's evaluation protocol (imageBitsPerDim)
    double rtol = 1e-5, atol = 1e-5;
    ModelOptions load;
};

int runBpd(const BpdOptions &o)
{
    LoadOptions options = loadOptions(o.load);
    LoadedModel loaded = loadModelFile(o.model, options);
    const ScoreModel &model = *loaded.model;
    const auto shape = model.sampleShape();

    LikelihoodOptions likelihood;
    if (o.probe == "gaussian")
        likelihood.probe = HutchinsonProbe::Gaussian;
    likelihood.ode.rtol = o.rtol;
    likelihood.ode.atol = o.atol;
    const uint64_t seed = o.seed;

    // Read and check every image before the long work starts.
    std::vector<torch::Tensor> images;
    std::vector<std::string> names;
    if (const auto &idx = o.idx) {
        if (!o.images.empty())
            throw Error("give images or --idx, not both");
        torch::Tensor all = readIdxImages(*idx);
        const int64_t first = o.first, count = o.count;
        if (first < 0 || count < 0 || first > all.size(0) - count) // first + count could overflow
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
        if (o.images.empty())
            throw Error("'bpd' needs images or --idx FILE (see sdestudio-cli bpd --help)");
        for (const std::string &path : o.images) {
            images.push_back(loadModelImage(path, model));
            names.push_back(path);
        }
    }

    double total = 0.0;
    InterruptScope interrupts;
    const int64_t count = static_cast<int64_t>(images.size());
    for (int64_t start = 0; start < count; start += kBitsPerDimBatch) {
        // Image i gets its own noise and probe stream (seed + i) and its own RK45 steps, so its
        // figure does not depend on the others; kBitsPerDimBatch images run together, as the
        // studio runs them.
        const int64_t end = std::min(count, start + kBitsPerDimBatch);
        ProgressBar progress(end - start == 1 ? baseName(names[static_cast<size_t>(start)])
                                              : "images " + std::to_string(start + 1) + "-" + std::to_string(end));
        ImagesBitsPerDimCallbacks callbacks;
        callbacks.onRound = [&](const torch::Tensor &t, double integrated, int64_t nfe) {
            progress.update(static_cast<int64_t>(100.0 * integrated / static_cast<double>(t.size(0))), 100, nfe);
            return !interruptToken.requested();
        };
        // The images that finished before an interruption are still printed.
        std::map<int64_t, std::pair<double, int64_t>> finished;
        callbacks.onImage = [&](int64_t j, double bpd, int64_t nfe) { finished[j] = {bpd, nfe}; };
        const std::vector<torch::Tensor> chunk(images.begin() + start, images.begin() + end);
        LikelihoodResult r =
            imagesBitsPerDim(model, chunk, o.dequantize, seed + static_cast<uint64_t>(start), likelihood, callbacks);
        if (!r.completed) {
            progress.finish("cancelled");
            for (const auto &[j, figure] : finished)
                std::printf("%s\t%.4f bits/dim\t%lld NFE\n", names[static_cast<size_t>(start + j)].c_str(),
                            figure.first, static_cast<long long>(figure.second));
            std::fflush(stdout);
            return 130;
        }
        progress.finish(std::to_string(r.nfe) + " NFE");
        for (int64_t j = 0; j < end - start; ++j) {
            const double bpd = r.bitsPerDim[j].item<double>();
            std::printf("%s\t%.4f bits/dim\t%lld NFE\n", names[static_cast<size_t>(start + j)].c_str(), bpd,
                        static_cast<long long>(r.sampleNfe[j].item<int64_t>()));
            total += bpd;
        }
        std::fflush(stdout);
    }
    std::printf("mean\t%.4f bits/dim\t(%zu images)\n", total / static_cast<double>(images.size()), images.size());
    return 0;
}

} // namespace

CommandRun addSampleCommand(CLI::App &program)
{
    auto o = std::make_shared<SampleOptions>();
    CLI::App *command = addCommand(
        program, "sample", "--model FILE -o FOLDER [options]",
        "generate images (PC sampler, probability-flow ODE or a fast sampler)",
        "Generates images with the reverse-time SDE (predictor-corrector), the probability-flow ODE, or a fast "
        "sampler.\nEach image is a PNG whose text chunks hold the exact settings and seed that make it again.");
    command->add_option("--model", o->model, "the model file (.pth or .safetensors)")->type_name("FILE")->required();
    command->add_option("-o,--output", o->folder, "where to write the images; created if missing")
        ->type_name("FOLDER")
        ->required();
    addNumberOption(*command, "--batch", o->batch, "B", "images to generate (default 1)",
                    OptionRange::between(1, static_cast<double>(kLargestBatch)));
    addNumberOption(*command, "--frames", o->frameEvery, "K",
                    "also save the trajectory (x_t and denoised x_0) every K steps", OptionRange::atLeast(0));
    command
        ->add_option("--classifier", o->classifier, "class-conditional sampling with this noise-conditional classifier")
        ->type_name("FILE");
    command->add_option("--class", o->label, "the class to generate: an index or a name of the classifier's classes")
        ->type_name("CLASS");
    addNumberOption(*command, "--guidance", o->guidance, "S",
                    "classifier guidance scale (default 1: exact Bayes; 0: unconditional)",
                    OptionRange::between(0, kMaxGuidanceScale));
    // Without a classifier a guidance scale would be ignored silently.
    command->get_option("--guidance")->needs(command->get_option("--classifier"));
    addSamplerOptions(*command, o->sampler);
    addModelOptions(*command, o->load, true);
    return [o] { return runSample(*o); };
}

CommandRun addBpdCommand(CLI::App &program)
{
    auto o = std::make_shared<BpdOptions>();
    CLI::App *command = addCommand(
        program, "bpd", "--model FILE (IMAGE... | --idx FILE) [options]",
        "bits/dim of images through the probability-flow ODE",
        "Bits per dimension of images through the probability-flow ODE (the reference's likelihood):\n"
        "per image and the mean, with the NFE used. Images must have the model's size and channels; IDX images\n"
        "smaller than the model (28x28 in a 32x32 model) are padded with black borders.");
    command->add_option("IMAGE", o->images, "PNG or JPEG images (8-bit); or none with --idx");
    command
        ->add_option("--idx", o->idx,
                     "an IDX image file (.gz or plain), e.g. Fashion-MNIST's t10k-images-idx3-ubyte.gz")
        ->type_name("FILE");
    addNumberOption(*command, "--first", o->first, "K", "with --idx: the first image to use (default 0)",
                    OptionRange::atLeast(0));
    addNumberOption(*command, "--count", o->count, "N", "with --idx: how many images (default 10)",
                    OptionRange::atLeast(1));
    command->add_option("--model", o->model, "the model file (.pth or .safetensors)")->type_name("FILE")->required();
    command->add_option("--probe", o->probe, "Hutchinson probe: rademacher (default) or gaussian")
        ->type_name("KIND")
        ->check(oneOf({"rademacher", "gaussian"}));
    addNumberOption(*command, "--seed", o->seed, "S", "seed of the probe and the dequantization noise (default 0)");
    command->add_flag(
        "--dequantize,!--no-dequantize", o->dequantize,
        "round to the 8-bit levels k and add uniform noise, x = (k + u) / 256, as the reference evaluates "
        "(the default; --no-dequantize: the image as it is)");
    addNumberOption(*command, "--rtol", o->rtol, "X", "RK45 relative tolerance (default 1e-5)",
                    OptionRange::between(kSmallestOdeTolerance, 1.0));
    addNumberOption(*command, "--atol", o->atol, "X", "RK45 absolute tolerance (default 1e-5)",
                    OptionRange::between(kSmallestOdeTolerance, 1.0));
    addModelOptions(*command, o->load, true);
    return [o] { return runBpd(*o); };
}

} // namespace sde::cli
