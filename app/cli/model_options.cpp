#include "model_options.h"

#include "util/device.h"

namespace sde::cli {

void addModelOptions(Arguments &args)
{
    args.option("--config", "NAME|FILE", "config preset name or JSON file (default: guessed or stored)")
        .flag("--raw-weights", "use the raw weights instead of the EMA weights");
}

LoadOptions modelOptions(const Arguments &args)
{
    LoadOptions options;
    options.config = args.value("--config");
    options.weights = args.has("--raw-weights") ? WeightSet::Raw : WeightSet::Ema;
    if (auto device = args.value("--device"))
        options.device = parseDevice(*device);
    return options;
}

} // namespace sde::cli
