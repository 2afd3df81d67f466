#include "model_options.h"

#include "util/device.h"

namespace sde::cli {

void addModelOptions(CLI::App &command, ModelOptions &options, bool withDevice)
{
    command.add_option("--config", options.config, "config preset name or JSON file (default: guessed or stored)")
        ->type_name("NAME|FILE");
    command.add_flag("--raw-weights", options.rawWeights, "use the raw weights instead of the EMA weights");
    if (withDevice)
        command.add_option("--device", options.device, "cpu, cuda, cuda:N or auto (default cpu)")->type_name("DEVICE");
}

LoadOptions loadOptions(const ModelOptions &options)
{
    LoadOptions load;
    load.config = options.config;
    load.weights = options.rawWeights ? WeightSet::Raw : WeightSet::Ema;
    if (options.device)
        load.device = parseDevice(*options.device);
    return load;
}

} // namespace sde::cli
