#pragma once

#include <string>
#include <vector>

namespace sde {

// The models that ship with SDE Studio (models/bundled/NAME/ in the source tree,
// share/sdestudio/bundled/NAME/ when installed): each folder holds the training config, a model
// card (MODEL_CARD.md) and the weights, model.safetensors (a score model) or
// classifier.safetensors (a noise-conditional classifier).
struct BundledModel {
    std::string name;     // the folder's name: "fashion-mnist", "toy-2d", ...
    std::string kind;     // "score" or "classifier"
    std::string path;     // the weights
    std::string cardPath; // MODEL_CARD.md ("" when missing)
    std::string summary;  // the card's first paragraph after its title
};

// The folder of the bundled models ("" when none is found). SDE_MODELS_DIR overrides.
std::string bundledModelsDir();
// The bundled models whose weights are present, by name.
std::vector<BundledModel> bundledModels();
// The model a user names: an existing file as it is, else a bundled model's name (its weights'
// path). Throws sde::Error naming the file and the bundled names otherwise.
std::string resolveModelPath(const std::string &nameOrPath);

// The name a model is shown and recorded by (window title, Model dock, saved settings, PNG
// records): for weights with the generic names a bundled model and a training run use
// (model.safetensors, classifier.safetensors) the folder's name ("fashion-mnist", the run's
// folder), else the file's name ("checkpoint_26.pth"). From the path alone, without disk access.
std::string modelName(const std::string &weightsPath);

// The model the studio and `sdestudio-cli sample` open when none is named.
constexpr const char *kDefaultModelName = "fashion-mnist";

} // namespace sde
