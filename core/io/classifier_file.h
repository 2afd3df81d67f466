#pragma once

#include "nets/noise_classifier.h"

#include <map>
#include <string>

namespace sde {

// A noise-conditional classifier stored as .safetensors with metadata format
// "sdestudio-classifier" and its ClassifierConfig as JSON under "classifier".
struct LoadedClassifier {
    NoiseConditionalClassifier network{nullptr};
    std::map<std::string, std::string> metadata;
    const ClassifierConfig &config() const { return network->config(); }
};

// Loads strictly (keys and shapes named in errors), in evaluation mode, on `device`. A bundled
// model's name ("fashion-mnist-classifier") opens that classifier.
LoadedClassifier loadClassifierFile(const std::string &nameOrPath, torch::Device device = torch::kCPU);

// Writes atomically; `halfPrecision` stores the float32 weights as float16.
void saveClassifierFile(const std::string &path, NoiseConditionalClassifierImpl &network,
                        const std::map<std::string, std::string> &extraMetadata = {}, bool halfPrecision = false);

} // namespace sde
