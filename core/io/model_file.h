#pragma once

#include "model/score_model.h"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sde {

enum class WeightSet { Ema, Raw };

// What a model file holds, as `sdestudio-cli info` and the studio's model panel show it.
struct ModelFileInfo {
    std::string path;
    std::string format;                            // "reference checkpoint (.pth)" or "SDE Studio model (.safetensors)"
    std::string configOrigin;                      // where the config came from: the file, the user, or a layout match
    std::vector<std::string> otherMatchingPresets; // presets with the same layout, when guessed
    bool hasEma = false;                           // the file holds EMA weights
    bool hasRawWeights = false;
    std::string loadedWeights; // "ema" or "raw": which set was loaded
    int64_t step = -1;
    bool hasOptimizerState = false;
    std::map<std::string, std::string> metadata; // a native file's metadata
};

struct LoadOptions {
    std::optional<std::string> config; // a preset name or JSON path; required for .pth unless guessed
    WeightSet weights = WeightSet::Ema;
    torch::Device device = torch::kCPU;
};

struct LoadedModel {
    std::unique_ptr<ScoreModel> model;
    ModelFileInfo info;
};

// Opens a reference .pth checkpoint or a native .safetensors model. For a .pth without a config,
// the config is guessed from the checkpoint's layout among the presets (ranked by the EMA decay
// and by the preset's name appearing in the path); ambiguity is reported in the info. Loading is
// strict: missing or unexpected keys, shape mismatches and weights that are not finite are
// errors naming them. With WeightSet::Ema the EMA weights are used when the file has them, else
// it is an error.
// A bundled model's name ("fashion-mnist") opens that model.
LoadedModel loadModelFile(const std::string &nameOrPath, const LoadOptions &options = {});

// Writes a model as one .safetensors file with the config and provenance in its metadata,
// atomically. `extraMetadata` is added to the standard keys. With `halfPrecision` the float32
// tensors are stored as float16 (half the size; loading converts them back).
void saveModelFile(const std::string &path, const ScoreModel &model, const std::string &weights,
                   const std::map<std::string, std::string> &extraMetadata = {}, bool halfPrecision = false);

// The version of the metadata layout SDE Studio writes into its model, classifier and
// training-state files ("format_version"). A file without the key is read as version 1.
constexpr const char *kFormatVersion = "1";
// Throws sde::Error naming `path` when `metadata`'s format_version is not kFormatVersion: a file
// from a newer SDE Studio is refused by name instead of being read as if it were this one's.
void requireKnownFormatVersion(const std::map<std::string, std::string> &metadata, const std::string &path);

// Throws sde::Error naming `label` unless `entries` hold exactly the module's tensors (names,
// shapes, floating point where the module's are); counts the missing, unexpected and mismatched
// ones on one line, naming the first three of each. Works on a layout-only build
// (LayoutOnlyScope), before any weight is allocated.
void requireWeightsFit(const torch::nn::Module &module,
                       const std::vector<std::pair<std::string, torch::Tensor>> &entries, const std::string &label);

// Copies a state dict into a module, strictly (requireWeightsFit); a tensor holding NaN or infinity is refused by
// name. `label` names the file in errors.
void loadStateDictStrict(torch::nn::Module &module, const std::vector<std::pair<std::string, torch::Tensor>> &entries,
                         const std::string &label);

// The presets whose network has exactly these keys and shapes (names without "module.").
std::vector<std::string> presetsMatchingLayout(const std::vector<std::pair<std::string, torch::Tensor>> &stateDict);

} // namespace sde
