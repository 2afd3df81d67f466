#include "sampler_options.h"

#include "imaging/generation_record.h"
#include "imaging/image_io.h"
#include "imaging/point_plot.h"
#include "io/bundled_models.h"
#include "sampling/fast_samplers.h"
#include "util/build_info.h"
#include "util/error.h"
#include "util/files.h"
#include "util/number_text.h"

#include "sampling/sampler_catalogue.h"

#include <algorithm>
#include <iostream>
#include <limits>

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

namespace {

// --sampler's values: every method and `config`.
std::vector<std::string> samplerChoices()
{
    std::vector<std::string> choices = samplingMethodIds();
    choices.push_back("config");
    return choices;
}

std::string joined(const std::vector<std::string> &items, const std::string &separator)
{
    std::string text;
    for (const std::string &item : items)
        text += (text.empty() ? "" : separator) + item;
    return text;
}

// The budgets --nfe can mean: from the fewest evaluations of any fast sampler's smallest grid to
// the most of any one's largest (each sampler's own steps range is checked once it is known).
OptionRange nfeRange()
{
    int64_t fewest = std::numeric_limits<int64_t>::max(), most = 0;
    for (const std::string &id : fastSolverIds())
        if (const auto [low, high] = plannedNfeRange(id); high > 0) {
            fewest = std::min(fewest, low);
            most = std::max(most, high);
        }
    return OptionRange::between(static_cast<double>(fewest), static_cast<double>(most));
}

// Every knob of the catalogue with this option name, with the samplers that have it.
std::vector<std::pair<const SamplerDescription *, const SamplerKnob *>> knobsNamed(const std::string &option)
{
    std::vector<std::pair<const SamplerDescription *, const SamplerKnob *>> out;
    for (const SamplerDescription &d : samplerCatalogue())
        for (const SamplerKnob &k : d.knobs)
            if (k.optionName() == option)
                out.emplace_back(&d, &k);
    return out;
}

std::string defaultText(const SamplerKnob &knob)
{
    if (knob.configDefault)
        return "from the config";
    if (knob.kind == KnobKind::Choice)
        return knob.defaultChoice;
    if (knob.zeroMeansDefault && knob.defaultValue == 0.0)
        return "";
    return numberText(knob.defaultValue);
}

// One option for a knob key: its help says which samplers take it and, where they differ, what it
// means and defaults to for each.
OptionSpec knobOption(const std::string &option)
{
    const auto knobs = knobsNamed(option);
    const SamplerKnob &first = *knobs.front().second;
    // Group the samplers by what the knob is for them.
    std::vector<std::pair<std::string, std::vector<std::string>>> meanings;
    std::vector<std::string> choices;
    for (const auto &[sampler, knob] : knobs) {
        std::string meaning = knob->help;
        const std::string fallback = defaultText(*knob);
        if (knob->kind != KnobKind::Flag && !fallback.empty())
            meaning += " (default " + fallback + ")";
        auto it = std::find_if(meanings.begin(), meanings.end(), [&](const auto &m) { return m.first == meaning; });
        if (it == meanings.end())
            meanings.push_back({meaning, {sampler->id}});
        else
            it->second.push_back(sampler->id);
        for (const std::string &c : knob->choices)
            if (std::find(choices.begin(), choices.end(), c) == choices.end())
                choices.push_back(c);
    }
    std::string help;
    if (meanings.size() == 1 && meanings.front().second.size() == samplerCatalogue().size()) {
        help = meanings.front().first;
    } else {
        for (const auto &[meaning, samplers] : meanings)
            help += (help.empty() ? "" : "; ") + joined(samplers, ", ") + ": " + meaning;
    }
    const std::string valueName = first.kind == KnobKind::Choice ? "NAME" : first.kind == KnobKind::Integer ? "N" : "X";
    switch (first.kind) {
    case KnobKind::Choice:
        return OptionSpec::text(option, valueName, help, choices);
    case KnobKind::Integer:
        return OptionSpec::integer(option, valueName, help);
    case KnobKind::Real:
        return OptionSpec::number(option, valueName, help);
    case KnobKind::Flag:
        return OptionSpec::flag(option, help);
    }
    return OptionSpec::text(option, valueName, help);
}

} // namespace

const std::vector<OptionSpec> &samplerOptionSpecs()
{
    using O = OptionSpec;
    using R = OptionRange;
    static const std::vector<OptionSpec> specs = [] {
        std::vector<std::string> samplers;
        for (const SamplerDescription &d : samplerCatalogue())
            samplers.push_back(d.id + " (" + d.title + ")");
        std::vector<OptionSpec> out = {
            O::text("--sampler", "NAME",
                    "the sampler: " + joined(samplers, ", ") +
                        ", or config (the config's own, the reference's "
                        "sampler for the model); default: " +
                        std::string(kDefaultFastSolver) + " with --nfe " + std::to_string(kDefaultFastNfe),
                    samplerChoices()),
            O::unsignedInteger("--seed", "S", "seed; image i uses S + i (default: random, printed)"),
            O::text("--precision", "NAME",
                    "the network's number format: float32, bfloat16 (CPUs with AVX-512, CUDA) or float16 (CUDA); "
                    "the sampler's state stays float32",
                    precisionIds(), "float32"),
            O::integer("--nfe", "N", "fast samplers: the most score evaluations; sets --steps", nfeRange(),
                       std::to_string(kDefaultFastNfe)),
        };
        // The samplers' own settings, one option per knob key of the catalogue; the ranges are
        // checked once the sampler is known (checkSamplingSettings), so they can differ by sampler.
        for (const SamplerKnob *k : distinctKnobs()) {
            const std::string option = k->optionName();
            out.push_back(knobOption(option));
            if (k->kind == KnobKind::Flag)
                out.push_back(O::flag("--no-" + option.substr(2), "turn " + option + " off"));
        }
        return out;
    }();
    return specs;
}

void addSamplerOptions(CLI::App &command, OptionValues &values)
{
    addOptions(command, samplerOptionSpecs(), values);
}

SamplingSettings samplingSettings(const OptionValues &values, const ModelConfig &config, int64_t batch)
{
    // Without --sampler the fast default (SamplingSettings::fastDefault); `config` is the config's
    // own sampler; any other name is that sampler with the config's settings where it has them.
    const std::optional<std::string> chosen = values.text("--sampler");
    SamplingSettings s =
        chosen == "config" ? SamplingSettings::fromConfig(config) : SamplingSettings::fastDefault(config);
    if (chosen && *chosen != "config")
        s.method = *chosen;
    const SamplerDescription &sampler = samplerDescription(s.method);
    s.fast.solver = s.method;
    // Settings that apply to the chosen sampler come from its knobs; others are named and ignored.
    std::vector<std::string> used{"--sampler", "--seed", "--precision"};
    if (sampler.section == "fast" && !sampler.adaptive) {
        const int64_t nfe = *values.integer("--nfe");
        s.fast.steps = stepsForNfe(s.method, nfe);
        const auto [fewest, most] = plannedNfeRange(s.method);
        if (nfe < fewest || nfe > most)
            throw Error("--nfe must be between " + std::to_string(fewest) + " and " + std::to_string(most) + " for " +
                        s.method + ", not " + std::to_string(nfe));
        used.push_back("--nfe");
    }
    for (const SamplerKnob &knob : sampler.knobs) {
        const std::string option = knob.optionName();
        used.push_back(option);
        switch (knob.kind) {
        case KnobKind::Choice:
            if (const auto text = values.text(option)) {
                if (const auto problem = knob.problem(*text))
                    throw Error(option + " " + *problem);
                knob.setChoice(s, *text);
            }
            break;
        case KnobKind::Integer:
            if (const auto value = values.integer(option))
                knob.setNumber(s, static_cast<double>(*value));
            break;
        case KnobKind::Real:
            if (const auto value = values.number(option))
                knob.setNumber(s, *value);
            break;
        case KnobKind::Flag: {
            const std::string off = "--no-" + option.substr(2);
            used.push_back(off);
            if (values.flag(off))
                knob.setNumber(s, 0.0);
            if (values.flag(option))
                knob.setNumber(s, 1.0);
            break;
        }
        }
    }
    for (const OptionSpec &spec : samplerOptionSpecs())
        if (values.given(spec.name) && std::find(used.begin(), used.end(), spec.name) == used.end())
            std::cerr << "warning: " << spec.name << " is not a setting of " << sampler.title
                      << (chosen ? "" : " (the default sampler; --sampler config runs the config's own)")
                      << "; ignored\n";
    // --steps alone meant the config's PC steps before the fast default: say what it sets now.
    if (!chosen && values.given("--steps"))
        std::cerr << "note: --steps sets the grid of " << sampler.title
                  << ", the default sampler; --sampler config runs the config's own with that many steps\n";
    s.precision = precisionFromId(*values.text("--precision"));
    s.batch = batch;
    checkSamplingSettings(s, [](const SamplerKnob &knob) { return knob.optionName(); });
    s.seed = values.unsignedInteger("--seed").value_or(std::random_device{}() & 0x7fffffffu);
    return s;
}

torch::Tensor loadModelImage(const std::string &path, const ScoreModel &model, int64_t channels)
{
    const auto shape = model.sampleShape();
    return loadImageOfSize(path, channels > 0 ? channels : shape[0], ImageSize{shape[2], shape[1]},
                           [&](ImageSize found) {
                               return "'" + path + "' is " + std::to_string(found.width) + "x" +
                                      std::to_string(found.height) + ", the model takes " + std::to_string(shape[2]) +
                                      "x" + std::to_string(shape[1]) + " images (resize it first)";
                           });
}

void writeResults(const std::string &folder, const std::string &operation, const torch::Tensor &images,
                  const SamplingSettings &settings, const LoadedModel &loaded, int64_t nfe, const Json &inputs)
{
    const torch::Tensor cpu = images.to(torch::kCPU);
    const ScoreModel &model = *loaded.model;
    std::vector<FileContents> files;
    if (model.config().isPointModel()) {
        // A toy model's samples are points: one CSV and a picture of the cloud.
        files.push_back({folder + "/" + operation + "-points.csv", pointsToCsv(cpu)});
        files.push_back(
            {folder + "/" + operation + "-points.png",
             encodePng(renderPointCloud(cpu), {{"parameters", operation + ": " + describeSettings(settings) +
                                                                  "; model " + modelName(loaded.info.path)}})});
    } else {
        GenerationRecord record;
        record.operation = operation;
        record.modelFile = modelName(loaded.info.path);
        record.weights = loaded.info.loadedWeights;
        record.settings = settings;
        record.nfe = nfe;
        record.inputs = inputs;
        files = generatedBatchFiles(folder, cpu, record, model);
        if (cpu.size(0) > 1)
            files.push_back({folder + "/grid.png", encodePng(makeGrid(cpu))});
    }
    // All or none: a batch that fails half-way removes what it wrote.
    writeFilesAtomically(files);
    for (const FileContents &file : files)
        std::cout << file.path << "\n";
}

} // namespace sde::cli
