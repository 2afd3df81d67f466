#pragma once

#include "config/model_config.h"

#include <string>
#include <vector>

namespace sde {

// The presets that ship in `models/presets` (the 27 official configs of the reference, as JSON
// files in sub-folders). Names look like "ve/cifar10_ncsnpp_continuous" and "vp/ddpm/cifar10".
// The folder is found from SDE_PRESETS_DIR, next to the executable, in the install prefix or in
// the source tree, first match wins; sde::Error when none exists.
std::string presetsDir();
// Every preset's name, sorted.
std::vector<std::string> presetNames();
// A preset's config; sde::Error naming the nearest preset and the folder of presets for an
// unknown name (one line), or naming the file for a broken one.
ModelConfig loadPreset(const std::string &name);

// A config given on a command line: a path to a JSON file when one exists there, else a preset
// name. A missing "*.json" path is an error naming it rather than an unknown preset.
ModelConfig resolveConfig(const std::string &nameOrPath);

} // namespace sde
