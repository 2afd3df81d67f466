#include "commands.h"

#include "model_options.h"

#include "io/model_file.h"
#include "io/safetensors.h"
#include "sampling/sampling_settings.h"
#include "util/device.h"
#include "util/error.h"
#include "util/files.h"
#include "util/number_text.h"
#include "util/shape_text.h"

#include <torch/torch.h>

#include <iomanip>
#include <iostream>
#include <sstream>
#include <vector>

namespace sde::cli {

namespace {

std::string withThousands(int64_t n)
{
    std::string digits = std::to_string(n), out;
    for (size_t i = 0; i < digits.size(); ++i) {
        if (i && (digits.size() - i) % 3 == 0)
            out += ',';
        out += digits[i];
    }
    return out;
}

struct InfoOptions {
    std::string file;
    ModelOptions model;
};

int runInfo(const InfoOptions &o)
{
    LoadedModel loaded = loadModelFile(o.file, loadOptions(o.model));
    const ModelConfig &config = loaded.model->config();
    const ModelFileInfo &info = loaded.info;
    std::ostringstream out;
    auto row = [&](const std::string &label, const std::string &value) {
        out << std::left << std::setw(16) << (label + ":") << value << "\n";
    };
    row("File", info.path);
    row("Format", info.format);
    row("Architecture", config.architectureName() + " (model.name = " + config.model.name + ")");
    row("SDE", config.sdeDescription());
    row("Training", std::string(config.training.continuous ? "continuous time" : "discrete time") +
                        (config.training.likelihoodWeighting ? ", likelihood weighting" : ""));
    row("Resolution", std::to_string(config.data.imageSize) + " x " + std::to_string(config.data.imageSize));
    row("Channels", std::to_string(config.data.numChannels));
    row("Data range", config.data.centered ? "[-1, 1] (centered)" : "[0, 1]");
    row("Parameters", withThousands(loaded.model->parameterCount()));
    row("EMA", std::string(info.hasEma ? "present" : "absent") + "; loaded the " + info.loadedWeights + " weights");
    if (info.step >= 0)
        row("Step", std::to_string(info.step));
    row("Config", info.configOrigin);
    if (!info.otherMatchingPresets.empty()) {
        std::string others;
        for (const std::string &name : info.otherMatchingPresets)
            others += (others.empty() ? "" : ", ") + name;
        row("Same layout", others + " (pass --config to choose)");
    }
    row("Sampler", fastSolverTitle(kDefaultFastSolver) + ", Karras grid, " + std::to_string(kDefaultFastNfe) +
                       " NFE (the default)");
    row("Config sampler",
        (config.sampling.method == "pc" ? "PC: " + config.sampling.predictor + " + " + config.sampling.corrector +
                                              " (snr " + numberText(config.sampling.snr) + ")"
                                        : "probability-flow ODE") +
            std::string(" (--sampler config)"));
    std::cout << out.str();
    return 0;
}

struct ConvertOptions {
    std::string input, output;
    ModelOptions model;
};

int runConvert(const ConvertOptions &o)
{
    const std::string &input = o.input, &output = o.output;
    if (output == input)
        throw Error("the output would overwrite the input '" + input + "'");

    LoadedModel loaded = loadModelFile(input, loadOptions(o.model));
    if (!o.model.config)
        std::cerr << "note: " << loaded.info.configOrigin << "\n";
    std::map<std::string, std::string> metadata{{"source", baseName(input)}};
    if (loaded.info.step >= 0)
        metadata["step"] = std::to_string(loaded.info.step);
    saveModelFile(output, *loaded.model, loaded.info.loadedWeights, metadata);
    std::cout << "wrote " << output << " (" << loaded.model->config().architectureName() << ", "
              << withThousands(loaded.model->parameterCount()) << " parameters, " << loaded.info.loadedWeights
              << " weights)\n";
    return 0;
}

struct ScoreOptions {
    std::string model, input, output;
    ModelOptions load;
};

int runScore(const ScoreOptions &o)
{
    const std::string &inputPath = o.input, &outputPath = o.output;
    LoadOptions options = loadOptions(o.load);
    LoadedModel loaded = loadModelFile(o.model, options);
    const ScoreModel &model = *loaded.model;

    SafetensorsFile input = readSafetensors(inputPath);
    const torch::Tensor *x = input.find("x");
    const torch::Tensor *t = input.find("t");
    if (!x || !t)
        throw Error(inputPath + ": needs tensors named 'x' and 't'");
    std::vector<int64_t> expected = model.sampleShape();
    if (x->dim() != 4 || x->size(1) != expected[0] || x->size(2) != expected[1] || x->size(3) != expected[2])
        throw Error(inputPath + ": 'x' has shape " + shapeText(x->sizes()) + ", the model takes [B, " +
                    std::to_string(expected[0]) + ", " + std::to_string(expected[1]) + ", " +
                    std::to_string(expected[2]) + "]");
    if (x->size(0) == 0)
        throw Error(inputPath + ": the batch is empty ('x' has shape " + shapeText(x->sizes()) + ")");
    if (t->dim() != 1 || t->size(0) != x->size(0))
        throw Error(inputPath + ": 't' has shape " + shapeText(t->sizes()) + ", expected [" +
                    std::to_string(x->size(0)) + "] (one time per sample)");
    if (!x->is_floating_point() || !t->is_floating_point())
        throw Error(inputPath + ": 'x' and 't' must be floating-point tensors");
    if (!((*t > 0) & (*t <= 1)).all().item<bool>()) // NaN is outside too
        throw Error(inputPath + ": the times 't' must lie in (0, 1]");
    if (!torch::isfinite(*x).all().item<bool>())
        throw Error(inputPath + ": 'x' holds a value that is not finite (NaN or infinity)");

    torch::NoGradGuard noGrad;
    // 64 samples at a time: the network's activations grow with the batch (900 images of 28 x 28,
    // a 2.8 MB input, took 1.67 GB at once).
    constexpr int64_t kScoreChunk = 64;
    std::vector<torch::Tensor> chunks;
    for (int64_t start = 0; start < x->size(0); start += kScoreChunk) {
        const torch::Tensor xs = x->slice(0, start, start + kScoreChunk).to(torch::kFloat32).to(options.device);
        const torch::Tensor ts = t->slice(0, start, start + kScoreChunk).to(torch::kFloat32).to(options.device);
        chunks.push_back(model.score(xs, ts).to(torch::kCPU));
    }
    const torch::Tensor score = torch::cat(chunks);
    // A tiny t (the VE score grows as 1 / sigma(t)^2), a huge x or weights at float16's edge can
    // overflow: say where, and write nothing.
    const torch::Tensor finite = torch::isfinite(score).flatten(1).all(1);
    if (!finite.all().item<bool>()) {
        const int64_t sample = (~finite).nonzero()[0][0].item<int64_t>();
        throw Error("the score is not finite (NaN or infinity) for " + std::to_string((~finite).sum().item<int64_t>()) +
                    " of the " + std::to_string(x->size(0)) + " samples of " + inputPath + " (the first: sample " +
                    std::to_string(sample) + ", t = " + numberText((*t)[sample].item<double>()) +
                    "); nothing was written");
    }
    writeSafetensors(outputPath, {{"score", score}, {"x", x->to(torch::kFloat32)}, {"t", t->to(torch::kFloat32)}},
                     {{"model", baseName(loaded.info.path)}, {"weights", loaded.info.loadedWeights}});
    std::cout << "wrote " << outputPath << ": score " << shapeText(score.sizes()) << " with the "
              << loaded.info.loadedWeights << " weights\n";
    return 0;
}

} // namespace

CommandRun addInfoCommand(CLI::App &program)
{
    auto o = std::make_shared<InfoOptions>();
    CLI::App *command = addCommand(
        program, "info", "FILE [options]", "describe a model file (.pth reference checkpoint or .safetensors)",
        "Describes a model file: a reference checkpoint (.pth) or an SDE Studio model (.safetensors).");
    command->add_option("FILE", o->file, "the model file")->required();
    addModelOptions(*command, o->model, false);
    return [o] { return runInfo(*o); };
}

CommandRun addConvertCommand(CLI::App &program)
{
    auto o = std::make_shared<ConvertOptions>();
    CLI::App *command =
        addCommand(program, "convert", "IN.pth --config NAME|FILE -o OUT.safetensors [options]",
                   "convert a reference checkpoint to a .safetensors model",
                   "Converts a reference checkpoint into one .safetensors file with its config in the metadata.");
    command->add_option("IN", o->input, "the reference checkpoint (.pth)")->required();
    command->add_option("-o,--output", o->output, "the .safetensors file to write")->type_name("FILE")->required();
    addModelOptions(*command, o->model, false);
    return [o] { return runConvert(*o); };
}

CommandRun addScoreCommand(CLI::App &program)
{
    auto o = std::make_shared<ScoreOptions>();
    CLI::App *command =
        addCommand(program, "score", "--model FILE --input IN.safetensors -o OUT.safetensors [options]",
                   "evaluate the score function s(x, t) on given tensors",
                   "Evaluates the score function s(x, t) on the tensors 'x' [B, C, H, W] and 't' [B] of the input\n"
                   "file and writes 'score' (with 'x' and 't') to the output, for parity checks.");
    command->add_option("--model", o->model, "the model file (.pth or .safetensors)")->type_name("FILE")->required();
    command->add_option("--input", o->input, "a .safetensors file with tensors x and t")->type_name("FILE")->required();
    command->add_option("-o,--output", o->output, "the .safetensors file to write")->type_name("FILE")->required();
    addModelOptions(*command, o->load, true);
    return [o] { return runScore(*o); };
}

} // namespace sde::cli
