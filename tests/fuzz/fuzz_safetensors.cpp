// libFuzzer target: the safetensors reader (core/io/safetensors.h) on a file's bytes.
#include "fuzz_support.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    sde::fuzz::initializeFuzzing();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sde::fuzz::expectParsedOrRefused(
        [&] { sde::parseSafetensors(sde::fuzz::bytesOf(data, size), "fuzz.safetensors"); });
    return 0;
}
