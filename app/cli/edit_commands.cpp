// sdestudio-cli inpaint, colorize and interpolate.
#include "commands.h"

#include "arguments.h"
#include "model_options.h"
#include "progress.h"
#include "sampler_options.h"

#include "editing/colorization.h"
#include "editing/inpainting.h"
#include "editing/interpolation.h"
#include "imaging/image_io.h"
#include "io/model_file.h"
#include "util/error.h"
#include "util/files.h"
#include "util/number_text.h"

#include <cstdio>
#include <iostream>

namespace sde::cli {

namespace {

SamplerCallback progressCallback(ProgressBar &progress)
{
    return [&progress](const SamplerStep &step) { progress.update(step.step, step.totalSteps, step.nfe); };
}

} // namespace

int runInpaint(const std::vector<std::string> &argv)
{
    Arguments args("inpaint", "--model FILE --image IMAGE --mask MASK -o FOLDER [options]",
                   "Fills the masked region of an image: with the PC inpainter of the reference (--sampler pc, the\n"
                   "default), the probability-flow ODE or a fast sampler. In the mask PNG, white (>= 50 %) marks the\n"
                   "pixels to fill and black the pixels to keep; the kept pixels stay exactly as given.");
    args.option("--model", "FILE", "the model file (.pth or .safetensors)")
        .option("--image", "IMAGE", "the image, at the model's size")
        .option("--mask", "MASK", "the mask PNG, at the model's size")
        .option("--output", "FOLDER", "where to write the results (-o)")
        .option("--batch", "B", "variants with seeds S, S+1, ... (default 1)");
    addSamplerOptions(args);
    addModelOptions(args);
    if (!args.parse(argv))
        return 0;
    const std::string folder = args.required("--output");
    LoadedModel loaded = loadModelFile(args.required("--model"), modelOptions(args));
    const ScoreModel &model = *loaded.model;
    const std::string imagePath = args.required("--image"), maskPath = args.required("--mask");
    torch::Tensor image = loadModelImage(imagePath, model);
    torch::Tensor fill = loadModelImage(maskPath, model, 1);
    SamplingSettings settings = settingsFromArguments(args, model.config());
    makeFolder(folder);

    torch::Tensor images = image.unsqueeze(0).expand({settings.batch, -1, -1, -1}).contiguous();
    torch::Tensor known = 1.0 - (fill >= 0.5).to(torch::kFloat32).unsqueeze(0);
    std::cerr << "sampler: " << describeSettings(settings) << "\n";
    ProgressBar progress("inpainting");
    SampleResult result;
    {
        InterruptScope interrupts;
        result = inpaint(model, images, known, settings, progressCallback(progress), &interruptToken);
    }
    if (!result.completed)
        return cancelled(progress, result.steps);
    progress.finish(std::to_string(settings.batch) + " image(s), " + std::to_string(result.nfe) + " NFE");
    Json inputs = Json::object();
    inputs["image"] = baseName(imagePath);
    inputs["mask"] = baseName(maskPath);
    writeResults(folder, "inpaint", result.samples, settings, loaded, result.nfe, inputs);
    return 0;
}

int runColorize(const std::vector<std::string> &argv)
{
    Arguments args("colorize", "--model FILE --image IMAGE -o FOLDER [options]",
                   "Colorizes a gray image with the PC colorizer of the reference (--sampler pc, the default), the\n"
                   "probability-flow ODE or a fast sampler (a color image is turned to gray first: the mean of R, G\n"
                   "and B). The result keeps the input's gray level. Needs an RGB model.");
    args.option("--model", "FILE", "the model file (.pth or .safetensors)")
        .option("--image", "IMAGE", "the gray (or color) image, at the model's size")
        .option("--output", "FOLDER", "where to write the results (-o)")
        .option("--batch", "B", "variants with seeds S, S+1, ... (default 1)");
    addSamplerOptions(args);
    addModelOptions(args);
    if (!args.parse(argv))
        return 0;
    const std::string folder = args.required("--output");
    LoadedModel loaded = loadModelFile(args.required("--model"), modelOptions(args));
    const ScoreModel &model = *loaded.model;
    if (model.sampleShape()[0] != 3)
        throw Error("colorization needs an RGB model; this one has " + std::to_string(model.sampleShape()[0]) +
                    " channel(s)");
    const std::string imagePath = args.required("--image");
    torch::Tensor gray = grayLevel(loadModelImage(imagePath, model).unsqueeze(0));
    SamplingSettings settings = settingsFromArguments(args, model.config());
    makeFolder(folder);

    std::cerr << "sampler: " << describeSettings(settings) << "\n";
    ProgressBar progress("colorizing");
    SampleResult result;
    {
        InterruptScope interrupts;
        result = colorize(model, gray.expand({settings.batch, -1, -1, -1}).contiguous(), settings,
                          progressCallback(progress), &interruptToken);
    }
    if (!result.completed)
        return cancelled(progress, result.steps);
    progress.finish(std::to_string(settings.batch) + " image(s), " + std::to_string(result.nfe) + " NFE");
    Json inputs = Json::object();
    inputs["image"] = baseName(imagePath);
    writeResults(folder, "colorize", result.samples, settings, loaded, result.nfe, inputs);
    return 0;
}

int runInterpolate(const std::vector<std::string> &argv)
{
    Arguments args("interpolate", "--model FILE --first A --second B -o FOLDER [options]",
                   "Encodes two images with the probability-flow ODE, interpolates the latents spherically and\n"
                   "decodes the frames; writes frame-NN.png and contact.png (all frames in one row).");
    args.option("--model", "FILE", "the model file (.pth or .safetensors)")
        .option("--first", "IMAGE", "the first image, at the model's size")
        .option("--second", "IMAGE", "the second image, at the model's size")
        .option("--output", "FOLDER", "where to write the frames (-o)")
        .option("--frames", "N", "frames from the first image to the second, both included (default 9)")
        .option("--temperature", "T", "scale of the interpolated latents (default 1)")
        .option("--solver", "NAME", "ODE solver: rk45 (adaptive, default), euler or heun")
        .option("--steps", "N", "steps of euler / heun")
        .option("--rtol", "X", "RK45 relative tolerance (default 1e-5)")
        .option("--atol", "X", "RK45 absolute tolerance (default 1e-5)")
        .option("--device", "DEVICE", "cpu, cuda, cuda:N or auto (default cpu)");
    addModelOptions(args);
    if (!args.parse(argv))
        return 0;
    const std::string folder = args.required("--output");
    const int64_t frames = args.integer("--frames", 9);
    if (frames < 2 || frames > 1000)
        throw Error("--frames must be between 2 and 1000");
    OdeSamplerOptions options;
    options.ode.method = odeMethodFromName(args.value("--solver", "rk45"));
    options.ode.steps = args.integer("--steps", 100);
    options.ode.rtol = args.number("--rtol", 1e-5);
    options.ode.atol = args.number("--atol", 1e-5);
    options.temperature = args.number("--temperature", 1.0);
    if (!(options.temperature > 0.0) || !(options.ode.rtol > 0.0) || !(options.ode.atol > 0.0) || options.ode.steps < 1)
        throw Error("--temperature, --rtol, --atol and --steps must be positive");
    LoadedModel loaded = loadModelFile(args.required("--model"), modelOptions(args));
    const ScoreModel &model = *loaded.model;
    const std::string firstPath = args.required("--first"), secondPath = args.required("--second");
    torch::Tensor first = loadModelImage(firstPath, model), second = loadModelImage(secondPath, model);
    makeFolder(folder);

    std::vector<double> alphas;
    for (int64_t i = 0; i < frames; ++i)
        alphas.push_back(static_cast<double>(i) / static_cast<double>(frames - 1));
    ProgressBar progress("interpolating");
    Interpolation result;
    {
        InterruptScope interrupts;
        result = interpolateImages(
            model, first, second, alphas, options,
            [&](const SamplerStep &step) { progress.update(step.step, step.totalSteps, step.nfe); }, &interruptToken);
    }
    if (!result.completed)
        return cancelled(progress, 0);
    progress.finish(std::to_string(frames) + " frames, " + std::to_string(result.nfe) + " NFE");
    const double roundTrip = std::max((result.frames[0] - first).abs().max().item<double>(),
                                      (result.frames[frames - 1] - second).abs().max().item<double>());
    std::cerr << "reconstruction error of the end frames: " << roundTrip << " (max |difference|, in [0, 1] units)\n";
    Json record = Json::object();
    record["operation"] = "interpolate";
    record["model"] = baseName(loaded.info.path);
    record["first"] = baseName(firstPath);
    record["second"] = baseName(secondPath);
    record["temperature"] = options.temperature;
    record["nfe"] = result.nfe;
    for (int64_t i = 0; i < frames; ++i) {
        char name[32];
        std::snprintf(name, sizeof name, "/frame-%02lld.png", static_cast<long long>(i));
        Json frame = record;
        frame["alpha"] = alphas[static_cast<size_t>(i)];
        const std::string parameters = "interpolate: " + baseName(firstPath) + " -> " + baseName(secondPath) +
                                       " at alpha " + numberText(alphas[static_cast<size_t>(i)]) + ", temperature " +
                                       numberText(options.temperature) + "; model " + baseName(loaded.info.path) +
                                       "; NFE " + std::to_string(result.nfe);
        savePng(folder + name, result.frames[i], {{"parameters", parameters}, {"sdestudio", dumpJson(frame)}});
        std::cout << folder << name << "\n";
    }
    savePng(folder + "/contact.png", makeGrid(result.frames, frames), {{"sdestudio", dumpJson(record)}});
    std::cout << folder << "/contact.png\n";
    return 0;
}

} // namespace sde::cli
