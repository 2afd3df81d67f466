// sdestudio-cli inpaint, colorize and interpolate.
#include "commands.h"

#include "model_options.h"
#include "progress.h"
#include "sampler_options.h"

#include "editing/colorization.h"
#include "editing/inpainting.h"
#include "editing/interpolation.h"
#include "imaging/image_io.h"
#include "imaging/mask_file.h"
#include "io/model_file.h"
#include "sampling/sampler_catalogue.h"
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

// What inpaint and colorize take: a model, images, a folder, and the sampler options.
struct EditOptions {
    std::string model, image, mask, folder;
    int64_t batch = 1;
    OptionValues sampler;
    ModelOptions load;
};

// Adds the options EditOptions holds (--mask only `withMask`) to an editing command.
void addEditOptions(CLI::App &command, EditOptions &o, const std::string &imageHelp, bool withMask)
{
    command.add_option("--model", o.model, "the model file (.pth or .safetensors)")->type_name("FILE")->required();
    command.add_option("--image", o.image, imageHelp)->type_name("IMAGE")->required();
    if (withMask)
        command.add_option("--mask", o.mask, "the mask image, at the image's size (README, Masks)")
            ->type_name("MASK")
            ->required();
    command.add_option("-o,--output", o.folder, "where to write the results")->type_name("FOLDER")->required();
    addNumberOption(command, "--batch", o.batch, "B", "variants with seeds S, S+1, ... (default 1)",
                    OptionRange::between(1, static_cast<double>(kLargestBatch)));
    addSamplerOptions(command, o.sampler);
    addModelOptions(command, o.load, true);
}

int runInpaint(const EditOptions &o)
{
    const std::string &folder = o.folder;
    LoadedModel loaded = loadModelFile(o.model, loadOptions(o.load));
    const ScoreModel &model = *loaded.model;
    const std::string &imagePath = o.image, &maskPath = o.mask;
    torch::Tensor image = loadModelImage(imagePath, model);
    torch::Tensor fill = loadFillMask(maskPath, image.size(1), image.size(2)).unsqueeze(0); // [1, 1, H, W]
    SamplingSettings settings = samplingSettings(o.sampler, model.config(), o.batch);
    OutputFolder output(folder);

    torch::Tensor images = image.unsqueeze(0).expand({settings.batch, -1, -1, -1}).contiguous();
    std::cerr << "sampler: " << describeSettings(settings) << "\n";
    ProgressBar progress("inpainting");
    SampleResult result;
    {
        InterruptScope interrupts;
        result = inpaintWithFillMask(model, images, fill, settings, progressCallback(progress), &interruptToken);
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

int runColorize(const EditOptions &o)
{
    const std::string &folder = o.folder;
    LoadedModel loaded = loadModelFile(o.model, loadOptions(o.load));
    const ScoreModel &model = *loaded.model;
    if (model.sampleShape()[0] != 3)
        throw Error("colorization needs an RGB model; this one has " + std::to_string(model.sampleShape()[0]) +
                    " channel(s)");
    const std::string &imagePath = o.image;
    torch::Tensor gray = grayLevel(loadModelImage(imagePath, model).unsqueeze(0));
    SamplingSettings settings = samplingSettings(o.sampler, model.config(), o.batch);
    OutputFolder output(folder);

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

struct InterpolateOptions {
    std::string model, first, second, folder;
    int64_t frames = 9;
    double temperature = 1.0;
    std::string solver = "rk45";
    int64_t steps = 100;
    double rtol = 1e-5, atol = 1e-5;
    ModelOptions load;
};

int runInterpolate(const InterpolateOptions &o)
{
    const std::string &folder = o.folder;
    const int64_t frames = o.frames;
    OdeSamplerOptions options;
    options.ode.method = odeMethodFromName(o.solver);
    options.ode.steps = o.steps;
    options.ode.rtol = o.rtol;
    options.ode.atol = o.atol;
    options.temperature = o.temperature;
    LoadedModel loaded = loadModelFile(o.model, loadOptions(o.load));
    const ScoreModel &model = *loaded.model;
    const std::string &firstPath = o.first, &secondPath = o.second;
    torch::Tensor first = loadModelImage(firstPath, model), second = loadModelImage(secondPath, model);
    OutputFolder output(folder);

    const std::vector<double> alphas = evenPositions(frames);
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
    std::vector<FileContents> files;
    for (int64_t i = 0; i < frames; ++i) {
        char name[32];
        std::snprintf(name, sizeof name, "/frame-%02lld.png", static_cast<long long>(i));
        Json frame = record;
        frame["alpha"] = alphas[static_cast<size_t>(i)];
        const std::string parameters = "interpolate: " + baseName(firstPath) + " -> " + baseName(secondPath) +
                                       " at alpha " + numberText(alphas[static_cast<size_t>(i)]) + ", temperature " +
                                       numberText(options.temperature) + "; model " + baseName(loaded.info.path) +
                                       "; NFE " + std::to_string(result.nfe);
        files.push_back(
            {folder + name, encodePng(result.frames[i], {{"parameters", parameters}, {"sdestudio", dumpJson(frame)}})});
    }
    files.push_back(
        {folder + "/contact.png", encodePng(makeGrid(result.frames, frames), {{"sdestudio", dumpJson(record)}})});
    writeFilesAtomically(files);
    for (const FileContents &file : files)
        std::cout << file.path << "\n";
    return 0;
}

} // namespace

CommandRun addInpaintCommand(CLI::App &program)
{
    auto o = std::make_shared<EditOptions>();
    CLI::App *command =
        addCommand(program, "inpaint", "--model FILE --image IMAGE --mask MASK -o FOLDER [options]",
                   "fill a masked region of an image",
                   "Fills the masked region of an image: with the fast default sampler (DPM-Solver++ 3M, 20 NFE),\n"
                   "the PC inpainter of the reference (--sampler config or pc), the probability-flow ODE or another\n"
                   "fast sampler (at 20 NFE DDIM with --eta 1 comes closest to the truth). The mask's gray level is\n"
                   "the weight of the generated content: black keeps a pixel exactly as given, white fills it, and\n"
                   "grays (soft edges) are filled and blended, w * filled + (1 - w) * given (README, Masks).");
    addEditOptions(*command, *o, "the image, at the model's size", true);
    return [o] { return runInpaint(*o); };
}

CommandRun addColorizeCommand(CLI::App &program)
{
    auto o = std::make_shared<EditOptions>();
    CLI::App *command =
        addCommand(program, "colorize", "--model FILE --image IMAGE -o FOLDER [options]", "colorize a gray image",
                   "Colorizes a gray image with the fast default sampler (DPM-Solver++ 3M, 20 NFE), the PC\n"
                   "colorizer of the reference (--sampler config or pc), the probability-flow ODE or another fast\n"
                   "sampler (a color image is turned to gray first: the mean of R, G and B). The result keeps the\n"
                   "input's gray level. Needs an RGB model.");
    addEditOptions(*command, *o, "the gray (or color) image, at the model's size", false);
    return [o] { return runColorize(*o); };
}

CommandRun addInterpolateCommand(CLI::App &program)
{
    auto o = std::make_shared<InterpolateOptions>();
    CLI::App *command =
        addCommand(program, "interpolate", "--model FILE --first A --second B -o FOLDER [options]",
                   "interpolate between two images through the probability-flow ODE",
                   "Encodes two images with the probability-flow ODE, interpolates the latents spherically and\n"
                   "decodes the frames; writes frame-NN.png and contact.png (all frames in one row).");
    command->add_option("--model", o->model, "the model file (.pth or .safetensors)")->type_name("FILE")->required();
    command->add_option("--first", o->first, "the first image, at the model's size")->type_name("IMAGE")->required();
    command->add_option("--second", o->second, "the second image, at the model's size")->type_name("IMAGE")->required();
    command->add_option("-o,--output", o->folder, "where to write the frames")->type_name("FOLDER")->required();
    addNumberOption(*command, "--frames", o->frames, "N",
                    "frames from the first image to the second, both included (default 9)",
                    OptionRange::between(2, 1000));
    addNumberOption(*command, "--temperature", o->temperature, "T", "scale of the interpolated latents (default 1)",
                    OptionRange::positive(100));
    command->add_option("--solver", o->solver, "ODE solver: rk45 (adaptive, default), euler or heun")
        ->type_name("NAME")
        ->check(oneOf({"rk45", "euler", "heun"}));
    addNumberOption(*command, "--steps", o->steps, "N", "steps of euler / heun (default 100)",
                    OptionRange::between(1, static_cast<double>(kMostSteps)));
    addNumberOption(*command, "--rtol", o->rtol, "X", "RK45 relative tolerance (default 1e-5)",
                    OptionRange::between(kSmallestOdeTolerance, 1.0));
    addNumberOption(*command, "--atol", o->atol, "X", "RK45 absolute tolerance (default 1e-5)",
                    OptionRange::between(kSmallestOdeTolerance, 1.0));
    addModelOptions(*command, o->load, true);
    return [o] { return runInterpolate(*o); };
}

} // namespace sde::cli
