// libFuzzer target: the IDX reader (core/imaging/idx_file.h), plain or gzip, as images and as labels.
#include "fuzz_support.h"
#include "imaging/idx_file.h"

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    sde::fuzz::initializeFuzzing();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const std::string bytes = sde::fuzz::bytesOf(data, size);
    sde::fuzz::expectParsedOrRefused([&] { sde::parseIdxImages(bytes, "fuzz-images-idx3-ubyte"); });
    sde::fuzz::expectParsedOrRefused([&] { sde::parseIdxLabels(bytes, "fuzz-labels-idx1-ubyte"); });
    return 0;
}
