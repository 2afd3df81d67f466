#include "train/training_checkpoint.h"

#include "io/model_file.h"
#include "io/safetensors.h"
#include "model/score_model.h"
#include "nets/score_network.h"
#include "train/ema.h"
#include "util/build_info.h"
#include "util/error.h"
#include "util/shape_text.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <string_view>

namespace sde {

namespace fs = std::filesystem;

namespace {

constexpr const char *kStateFormat = "sdestudio-training-state";
constexpr std::string_view kModelPrefix = "model.";
constexpr std::string_view kEmaPrefix = "ema.";
constexpr std::string_view kAdamPrefix = "adam.";

// 17 significant digits: the double reads back exactly ("nan" for NaN).
std::string exactDouble(double value)
{
    std::ostringstream out;
    out.precision(17);
    out << value;
    return out.str();
}

const std::string &metadataText(const std::map<std::string, std::string> &metadata, const std::string &key,
                                const std::string &path)
{
    auto it = metadata.find(key);
    if (it == metadata.end())
        throw Error(path + ": the training state lacks \"" + key + "\" in its metadata");
    return it->second;
}

// The run described by a training state's metadata; the error names the file and the key.
CheckpointInfo checkpointInfo(const std::map<std::string, std::string> &metadata, const std::string &path)
{
    if (metadata.count("format") == 0 || metadata.at("format") != kStateFormat)
        throw Error(path + ": not an SDE Studio training state");
    requireKnownFormatVersion(metadata, path);
    CheckpointInfo info;
    info.kind = metadataText(metadata, "kind", path);
    try {
        info.definition = parseJson(metadataText(metadata, "definition", path));
    } catch (const Error &e) {
        throw Error(path + ": metadata \"definition\": " + e.what());
    }
    info.step = metadataInt64(metadata, "step", path);
    info.seed = metadataUint64(metadata, "seed", path);
    info.batchSize = metadataInt64(metadata, "batch_size", path);
    info.data = metadata.count("data") ? metadata.at("data") : "";
    if (metadata.count("precision")) {
        try {
            info.precision = precisionFromId(metadata.at("precision"));
        } catch (const Error &) {
            throw Error(path + ": metadata \"precision\" is not a precision: " + metadata.at("precision"));
        }
    }
    return info;
}

bool startsWith(const std::string &text, std::string_view prefix)
{
    return text.rfind(prefix, 0) == 0;
}

bool endsWith(const std::string &text, std::string_view suffix)
{
    return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The tensors of one part under its prefix.
void addPrefixed(std::vector<std::pair<std::string, torch::Tensor>> &out, std::string_view prefix,
                 const std::vector<std::pair<std::string, torch::Tensor>> &tensors)
{
    for (const auto &[name, tensor] : tensors)
        out.emplace_back(std::string(prefix) + name, tensor);
}

} // namespace

const torch::Tensor &TrainingCheckpoint::emaOf(const std::string &name, const std::string &path) const
{
    for (const auto &[parameter, tensor] : ema)
        if (parameter == name)
            return tensor;
    throw Error(path + ": the EMA lacks \"" + name + "\"");
}

std::vector<torch::Tensor>
TrainingCheckpoint::emaOfTrainable(const std::vector<std::pair<std::string, torch::Tensor>> &trainable,
                                   const std::string &path) const
{
    std::set<std::string> names;
    std::vector<torch::Tensor> out;
    for (const auto &[name, parameter] : trainable) {
        names.insert(name);
        const torch::Tensor &average = emaOf(name, path);
        if (!average.sizes().equals(parameter.sizes()))
            throw Error(path + ": the EMA of \"" + name + "\" has shape " + shapeText(average.sizes()) +
                        ", the parameter " + shapeText(parameter.sizes()));
        out.push_back(average);
    }
    for (const auto &[name, average] : ema)
        if (!names.count(name))
            throw Error(path + ": the EMA holds \"" + name + "\", which is not a trainable parameter of the network");
    return out;
}

std::string checkpointFileName(int64_t step)
{
    char name[64];
    std::snprintf(name, sizeof name, "checkpoint-%08lld.safetensors", static_cast<long long>(step));
    return name;
}

std::vector<std::string> listCheckpoints(const std::string &outDir)
{
    std::vector<std::string> out;
    std::error_code error;
    const fs::path folder = fs::path(outDir) / "checkpoints";
    if (!fs::is_directory(folder, error))
        return out;
    for (const auto &entry : fs::directory_iterator(folder, error)) {
        const std::string name = entry.path().filename().string();
        if (name.rfind("checkpoint-", 0) == 0 && entry.path().extension() == ".safetensors")
            out.push_back(entry.path().string());
    }
    // Zero-padded step numbers sort in step order.
    std::sort(out.begin(), out.end());
    return out;
}

void writeTrainingCheckpoint(const std::string &path, const TrainingCheckpoint &checkpoint)
{
    std::vector<std::pair<std::string, torch::Tensor>> tensors;
    addPrefixed(tensors, kModelPrefix, checkpoint.model);
    addPrefixed(tensors, kEmaPrefix, checkpoint.ema);
    addPrefixed(tensors, kAdamPrefix, checkpoint.adam);
    const CheckpointInfo &info = checkpoint.info;
    const std::map<std::string, std::string> metadata{
        {"format", kStateFormat},
        {"format_version", kFormatVersion},
        {"kind", info.kind},
        {"definition", dumpJson(info.definition)},
        {"step", std::to_string(info.step)},
        {"seed", std::to_string(info.seed)},
        {"batch_size", std::to_string(info.batchSize)},
        {"adam_steps", std::to_string(checkpoint.adamSteps)},
        {"ema_updates", std::to_string(checkpoint.emaUpdates)},
        {"smoothed_loss", exactDouble(checkpoint.smoothedLoss)},
        {"elapsed_seconds", exactDouble(checkpoint.elapsedSeconds)},
        {"precision", precisionId(info.precision)},
        {"loss_scale", exactDouble(checkpoint.lossScale)},
        {"loss_scale_good_steps", std::to_string(checkpoint.lossScaleGoodSteps)},
        {"data", info.data},
        {"written_by", std::string("SDE Studio ") + SDE_VERSION},
    };
    writeSafetensors(path, tensors, metadata);
}

TrainingCheckpoint readTrainingCheckpoint(const std::string &path)
{
    SafetensorsFile file = readSafetensors(path);
    const auto &metadata = file.metadata;
    TrainingCheckpoint checkpoint;
    checkpoint.info = checkpointInfo(metadata, path);
    checkpoint.adamSteps = metadataInt64(metadata, "adam_steps", path);
    checkpoint.emaUpdates = metadataInt64(metadata, "ema_updates", path);
    checkpoint.smoothedLoss = metadataDouble(metadata, "smoothed_loss", path);
    checkpoint.elapsedSeconds = metadataDouble(metadata, "elapsed_seconds", path);
    if (checkpoint.info.precision == EvaluationPrecision::Float16) {
        checkpoint.lossScale = metadataDouble(metadata, "loss_scale", path);
        checkpoint.lossScaleGoodSteps = metadataInt64(metadata, "loss_scale_good_steps", path);
    }
    for (auto &[name, tensor] : file.tensors) {
        // A resumed run would carry a NaN straight into every later step, or (a negative second
        // moment) take the square root of a negative number in its first Adam step.
        if (tensor.is_floating_point() && !torch::isfinite(tensor).all().item<bool>())
            throw Error(path + ": the training state holds a value that is not finite (NaN or infinity) in \"" + name +
                        "\"");
        if (startsWith(name, kAdamPrefix) && endsWith(name, ".exp_avg_sq") && (tensor < 0).any().item<bool>())
            throw Error(path + ": the Adam second moment \"" + name +
                        "\" holds a negative value (a running mean of squares is never negative)");
        if (startsWith(name, kModelPrefix))
            checkpoint.model.emplace_back(name.substr(kModelPrefix.size()), std::move(tensor));
        else if (startsWith(name, kEmaPrefix))
            checkpoint.ema.emplace_back(name.substr(kEmaPrefix.size()), std::move(tensor));
        else if (startsWith(name, kAdamPrefix))
            checkpoint.adam.emplace_back(name.substr(kAdamPrefix.size()), std::move(tensor));
        else
            throw Error(path + ": unexpected tensor \"" + name + "\" in the training state");
    }
    return checkpoint;
}

CheckpointInfo readCheckpointInfo(const std::string &path)
{
    return checkpointInfo(readSafetensorsMetadata(path), path);
}

std::unique_ptr<TrainingTask> taskForCheckpoint(const CheckpointInfo &info)
{
    if (info.kind == "classifier")
        return std::make_unique<ClassifierTrainingTask>(ClassifierConfig::fromJson(info.definition));
    return std::make_unique<ScoreTrainingTask>(ModelConfig::fromJson(info.definition));
}

std::unique_ptr<ScoreModel> loadCheckpointModel(const std::string &path, bool ema)
{
    const TrainingCheckpoint checkpoint = readTrainingCheckpoint(path);
    const CheckpointInfo &info = checkpoint.info;
    if (info.kind != "score")
        throw Error(path + ": a " + info.kind + " checkpoint, not a score model's");
    const ModelConfig config = ModelConfig::fromJson(info.definition);
    auto model = std::make_unique<ScoreModel>(config, createScoreNetwork(config));
    loadStateDictStrict(*model->network(), checkpoint.model, path);
    if (ema) {
        // The EMA holds the trainable parameters only; the fixed ones (the Fourier embedding's W)
        // and the buffers keep the model state's values.
        const auto trainable = trainableParameters(*model->network());
        const std::vector<torch::Tensor> averages = checkpoint.emaOfTrainable(trainable, path);
        torch::NoGradGuard noGrad;
        for (size_t i = 0; i < trainable.size(); ++i)
            trainable[i].second.copy_(averages[i]);
    }
    model->setTraining(false);
    return model;
}

} // namespace sde
