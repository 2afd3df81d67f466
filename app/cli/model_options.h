#pragma once

#include "arguments.h"

#include "io/model_file.h"

namespace sde::cli {

// --config and --raw-weights, which every command that opens a model takes.
void addModelOptions(Arguments &args);
// LoadOptions from --config, --raw-weights and --device.
LoadOptions modelOptions(const Arguments &args);

} // namespace sde::cli
