#include "io/model_file.h"

#include "config/presets.h"
#include "io/bundled_models.h"
#include "io/file_kind.h"
#include "io/safetensors.h"
#include "io/torch_checkpoint.h"
#include "nets/layers.h"
#include "nets/score_network.h"
#include "util/error.h"
#include "util/files.h"
#include "util/shape_text.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

namespace sde {

namespace {

constexpr const char *kFormatTag = "sdestudio-model";

// "N things (a, b, c and M more)" on one line, "1 thing (a)" for one: the first `most` of
// `items`, joined by `separator`.
std::string countedList(const std::vector<std::string> &items, const std::string &thing, const std::string &things,
                        const std::string &separator = ", ", size_t most = 3)
{
    std::string out = std::to_string(items.size()) + " " + (items.size() == 1 ? thing : things) + " (";
    for (size_t i = 0; i < items.size() && i < most; ++i)
        out += (i ? separator : "") + items[i];
    if (items.size() > most)
        out += " and " + std::to_string(items.size() - most) + " more";
    return out + ")";
}

bool hasCheckpointExtension(const std::string &path)
{
    return path.size() > 4 && (path.rfind(".pth") == path.size() - 4 || path.rfind(".pt") == path.size() - 3);
}

// Whether the model file at `path` is a torch.save checkpoint (else it is read as safetensors),
// told from its first bytes; a file of another known kind (a JSON config, IDX data, an image) is
// refused by name. A file of no known kind goes by its extension, so that its reader says what
// is wrong with it.
bool isCheckpointFile(const std::string &path)
{
    const FileKind kind = fileKindOfFile(path);
    switch (kind) {
    case FileKind::ZipArchive:
    case FileKind::Pickle: // a legacy torch.save file, which the checkpoint reader names
        return true;
    case FileKind::Safetensors:
        return false;
    case FileKind::Unknown:
        return hasCheckpointExtension(path);
    default:
        throw Error("'" + path + "' is " + fileKindName(kind) +
                    ", not a model file (expected a .pth checkpoint or a .safetensors file)");
    }
}

std::string lower(std::string s)
{
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

// Orders layout-matching presets: the EMA decay the checkpoint recorded, then how much of the
// preset's name appears in the file's path (official checkpoints live in folders named after
// their config, e.g. .../vp/cifar10_ddpmpp_continuous/checkpoint_8.pth).
std::vector<std::string> rankPresets(std::vector<std::string> candidates, const TorchCheckpoint &checkpoint)
{
    const std::string path = lower(checkpoint.path);
    auto score = [&](const std::string &name) {
        int s = 0;
        if (path.find(name) != std::string::npos)
            s += 100;
        std::string flat = name;
        std::replace(flat.begin(), flat.end(), '/', '_');
        size_t start = 0;
        while (start <= flat.size()) {
            size_t end = flat.find('_', start);
            std::string token = flat.substr(start, end == std::string::npos ? std::string::npos : end - start);
            if (!token.empty() && path.find(token) != std::string::npos)
                s += 1;
            if (end == std::string::npos)
                break;
            start = end + 1;
        }
        if (checkpoint.hasEma) {
            double rate = loadPreset(name).model.emaRate;
            if (std::abs(rate - checkpoint.emaDecay) < 1e-9)
                s += 10;
        }
        return s;
    };
    std::vector<std::pair<int, std::string>> scored;
    for (const std::string &name : candidates)
        scored.emplace_back(-score(name), name);
    std::stable_sort(scored.begin(), scored.end());
    std::vector<std::string> out;
    for (const auto &item : scored)
        out.push_back(item.second);
    return out;
}

std::vector<std::pair<std::string, torch::Tensor>>
stripped(const std::vector<std::pair<std::string, torch::Tensor>> &entries)
{
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (const auto &[key, tensor] : entries)
        out.emplace_back(stripModulePrefix(key), tensor);
    return out;
}

// Throws sde::Error naming the file (`label`) and the tensor when `tensor` holds NaN or infinity.
void requireFinite(const torch::Tensor &tensor, const std::string &label, const std::string &what)
{
    if (tensor.is_floating_point() && !torch::isfinite(tensor).all().item<bool>())
        throw Error(label + ": the weights hold a value that is not finite (NaN or infinity) in " + what +
                    "; the model cannot be used");
}

// Replaces the trainable parameters (in parameter order) by the EMA shadow parameters.
void applyEma(ScoreNetworkImpl &network, const std::vector<torch::Tensor> &shadow, const std::string &path)
{
    std::vector<std::pair<std::string, torch::Tensor>> trainable;
    for (const auto &item : network.named_parameters())
        if (item.value().requires_grad())
            trainable.emplace_back(item.key(), item.value());
    if (trainable.size() != shadow.size())
        throw Error(path + ": ema.shadow_params has " + std::to_string(shadow.size()) + " tensors, the network has " +
                    std::to_string(trainable.size()) + " trainable parameters");
    torch::NoGradGuard noGrad;
    for (size_t i = 0; i < shadow.size(); ++i) {
        torch::Tensor &param = trainable[i].second;
        if (!shadow[i].sizes().equals(param.sizes()))
            throw Error(path + ": ema.shadow_params[" + std::to_string(i) + "] has shape " +
                        shapeText(shadow[i].sizes()) + ", parameter '" + trainable[i].first + "' has " +
                        shapeText(param.sizes()));
        requireFinite(shadow[i], path, "ema.shadow_params[" + std::to_string(i) + "] ('" + trainable[i].first + "')");
        param.copy_(shadow[i]);
    }
}

} // namespace

void requireWeightsFit(const torch::nn::Module &module,
                       const std::vector<std::pair<std::string, torch::Tensor>> &entries, const std::string &label)
{
    std::map<std::string, torch::Tensor> target;
    for (const auto &[name, tensor] : stateDict(module))
        target.emplace(name, tensor);
    std::set<std::string> seen;
    std::vector<std::string> unexpected, mismatched, missing;
    for (const auto &[name, tensor] : entries) {
        auto it = target.find(name);
        if (it == target.end()) {
            unexpected.push_back(name);
            continue;
        }
        seen.insert(name);
        if (!tensor.sizes().equals(it->second.sizes()))
            mismatched.push_back(name + ": file " + shapeText(tensor.sizes()) + ", network " +
                                 shapeText(it->second.sizes()));
        else if (!tensor.is_floating_point() && it->second.is_floating_point())
            mismatched.push_back(name + ": file holds " + std::string(c10::toString(tensor.scalar_type())) +
                                 ", the network needs a floating-point tensor");
    }
    for (const auto &[name, tensor] : target)
        if (!seen.count(name))
            missing.push_back(name);
    if (!unexpected.empty() || !mismatched.empty() || !missing.empty()) {
        // One line: each kind of misfit counted, with its first three names.
        std::vector<std::string> parts;
        if (!missing.empty())
            parts.push_back(countedList(missing, "missing key", "missing keys"));
        if (!unexpected.empty())
            parts.push_back(countedList(unexpected, "unexpected key", "unexpected keys"));
        if (!mismatched.empty())
            parts.push_back(countedList(mismatched, "shape mismatch", "shape mismatches", "; "));
        std::string message = label + ": the weights do not fit the network of this config: ";
        for (size_t i = 0; i < parts.size(); ++i)
            message += (i ? ", " : "") + parts[i];
        throw Error(message);
    }
}

void loadStateDictStrict(torch::nn::Module &module, const std::vector<std::pair<std::string, torch::Tensor>> &entries,
                         const std::string &label)
{
    requireWeightsFit(module, entries, label);
    std::map<std::string, torch::Tensor> target;
    for (const auto &[name, tensor] : stateDict(module))
        target.emplace(name, tensor);
    // NaN or infinity in a weight turns every sample black (or NaN) without a word: refused here,
    // naming the first such tensor in the file's order.
    for (const auto &[name, tensor] : entries)
        requireFinite(tensor, label, "'" + name + "'");
    torch::NoGradGuard noGrad;
    for (const auto &[name, tensor] : entries) {
        torch::Tensor &dst = target.at(name);
        dst.copy_(tensor.to(dst.scalar_type()));
    }
}

std::vector<std::string> presetsMatchingLayout(const std::vector<std::pair<std::string, torch::Tensor>> &stateDict)
{
    std::map<std::string, std::vector<int64_t>> have;
    for (const auto &[name, tensor] : stateDict)
        have.emplace(name, tensor.sizes().vec());
    std::vector<std::string> matches;
    for (const std::string &name : presetNames()) {
        std::vector<TensorLayout> layout;
        try {
            layout = networkLayout(loadPreset(name));
        } catch (const Error &e) {
            spdlog::warn("preset {} cannot be built: {}", name, e.what());
            continue;
        }
        if (layout.size() != have.size())
            continue;
        bool same = std::all_of(layout.begin(), layout.end(), [&](const TensorLayout &entry) {
            auto it = have.find(entry.name);
            return it != have.end() && it->second == entry.shape;
        });
        if (same)
            matches.push_back(name);
    }
    return matches;
}

namespace {

// Checks that the file's weights fit the network of `config` on a layout-only build (meta tensors),
// before the network is allocated: a 2 KB file whose config describes a network of gigabytes is
// refused in milliseconds instead of after allocating them.
void requireWeightsFitConfig(const ModelConfig &config,
                             const std::vector<std::pair<std::string, torch::Tensor>> &weights,
                             const std::string &label)
{
    requireNetworkWithinSize(config);
    LayoutOnlyScope layoutOnly;
    requireWeightsFit(*createScoreNetwork(config), weights, label);
}

} // namespace

void requireKnownFormatVersion(const std::map<std::string, std::string> &metadata, const std::string &path)
{
    const auto version = metadata.find("format_version");
    if (version != metadata.end() && version->second != kFormatVersion)
        throw Error(path + ": its metadata says format_version \"" + version->second +
                    "\", and this SDE Studio reads version " + kFormatVersion +
                    " (a newer SDE Studio may have written it)");
}

LoadedModel loadModelFile(const std::string &nameOrPath, const LoadOptions &options)
{
    const std::string path = resolveModelPath(nameOrPath);
    requireReadableFile(path);
    LoadedModel loaded;
    ModelFileInfo &info = loaded.info;
    info.path = path;

    if (isCheckpointFile(path)) {
        info.format = "reference checkpoint (.pth)";
        TorchCheckpoint checkpoint = readTorchCheckpoint(path);
        auto model = stripped(checkpoint.model);
        info.hasEma = checkpoint.hasEma;
        info.hasRawWeights = true;
        info.step = checkpoint.step;
        info.hasOptimizerState = checkpoint.optimizer != nullptr;

        ModelConfig config;
        if (options.config) {
            config = resolveConfig(*options.config);
            info.configOrigin = "given: " + *options.config;
        } else {
            std::vector<std::string> matches = presetsMatchingLayout(model);
            if (matches.empty())
                throw Error(path + ": no preset has this checkpoint's layout (" + std::to_string(model.size()) +
                            " tensors); give its config with --config FILE.json");
            matches = rankPresets(matches, checkpoint);
            config = loadPreset(matches.front());
            info.configOrigin = "guessed from the layout: " + matches.front();
            info.otherMatchingPresets.assign(matches.begin() + 1, matches.end());
        }

        requireWeightsFitConfig(config, model, path);
        auto network = createScoreNetwork(config);
        loadStateDictStrict(*network, model, path);
        if (options.weights == WeightSet::Ema) {
            if (!checkpoint.hasEma)
                throw Error(path + ": the checkpoint has no EMA weights; load the raw weights instead (--raw-weights)");
            applyEma(*network, checkpoint.shadowParams, path);
            info.loadedWeights = "ema";
        } else {
            info.loadedWeights = "raw";
        }
        loaded.model = std::make_unique<ScoreModel>(std::move(config), network);
    } else {
        info.format = "SDE Studio model (.safetensors)";
        SafetensorsFile file = readSafetensors(path);
        info.metadata = file.metadata;
        auto format = file.metadata.find("format");
        if (format == file.metadata.end() || format->second != kFormatTag)
            throw Error(path +
                        ": this .safetensors file is not an SDE Studio model (its metadata has no \"format\": \"" +
                        std::string(kFormatTag) + "\")");
        requireKnownFormatVersion(file.metadata, path);
        const std::string weights = metadataChoice(file.metadata, "weights", {"ema", "raw"}, "raw", path);
        // The tensors' own dtypes decide how they are read; a storage no writer uses is a damaged file.
        metadataChoice(file.metadata, "storage", {"float32", "float16"}, "float32", path);
        info.hasEma = weights == "ema";
        info.hasRawWeights = weights == "raw";
        if (file.metadata.count("step")) {
            info.step = metadataInt64(file.metadata, "step", path);
            // -1 stands for "not known" inside; a file's own step is a count.
            if (info.step < 0)
                throw Error(path + ": metadata \"step\" is not a step count (0 or more): " + file.metadata.at("step"));
        }
        const std::string wanted = options.weights == WeightSet::Ema ? "ema" : "raw";
        if (weights != wanted)
            throw Error(path + ": this file holds the " + weights + " weights only; " +
                        (wanted == "raw" ? "leave out --raw-weights" : "add --raw-weights"));
        info.loadedWeights = weights;

        ModelConfig config;
        if (options.config) {
            config = resolveConfig(*options.config);
            info.configOrigin = "given: " + *options.config;
        } else {
            auto stored = file.metadata.find("config");
            if (stored == file.metadata.end())
                throw Error(path + ": the file carries no config in its metadata; give one with --config");
            try {
                config = ModelConfig::fromJson(parseJson(stored->second));
                requireNetworkWithinSize(config);
            } catch (const Error &e) {
                throw Error(path + ": the config in its metadata is invalid: " + e.what());
            }
            info.configOrigin = "stored in the file";
        }
        requireWeightsFitConfig(config, file.tensors, path);
        auto network = createScoreNetwork(config);
        loadStateDictStrict(*network, file.tensors, path);
        loaded.model = std::make_unique<ScoreModel>(std::move(config), network);
    }
    loaded.model->to(options.device);
    return loaded;
}

void saveModelFile(const std::string &path, const ScoreModel &model, const std::string &weights,
                   const std::map<std::string, std::string> &extraMetadata, bool halfPrecision)
{
    std::map<std::string, std::string> metadata = extraMetadata;
    metadata["format"] = kFormatTag;
    metadata["format_version"] = kFormatVersion;
    metadata["config"] = dumpJson(model.config().toJson());
    metadata["weights"] = weights;
    auto tensors = stateDict(*model.network());
    if (halfPrecision) {
        metadata["storage"] = "float16";
        convertFloat32ToFloat16(tensors);
    }
    writeSafetensors(path, tensors, metadata);
}

} // namespace sde
