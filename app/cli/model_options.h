#pragma once

#include "io/model_file.h"

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

namespace sde::cli {

// --config, --raw-weights and (with a device) --device, which every command that opens a model
// takes.
struct ModelOptions {
    std::optional<std::string> config; // a preset name or a JSON file; unset: guessed or stored
    bool rawWeights = false;
    std::optional<std::string> device; // unset: cpu
};

void addModelOptions(CLI::App &command, ModelOptions &options, bool withDevice);
// LoadOptions from the options; an unknown device is an sde::Error.
LoadOptions loadOptions(const ModelOptions &options);

} // namespace sde::cli
