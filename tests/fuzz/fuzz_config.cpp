// libFuzzer target: a model config from JSON (core/config/model_config.h), as loadConfigFile
// reads one, then validated as every config is before a network is built.
#include "config/model_config.h"
#include "fuzz_support.h"
#include "util/json_fields.h"

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    sde::fuzz::initializeFuzzing();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sde::fuzz::expectParsedOrRefused([&] {
        const sde::ModelConfig config = sde::ModelConfig::fromJson(sde::parseJson(sde::fuzz::bytesOf(data, size)));
        config.validate();
    });
    return 0;
}
