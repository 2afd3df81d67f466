// libFuzzer target: a .pth checkpoint (the zip container as core/io/zip_archive.h reads it: its
// directory, inflation and CRC-32; the version and byteorder records, data.pkl and the storages)
// from bytes in memory (core/io/torch_checkpoint.h).
#include "fuzz_support.h"
#include "io/torch_checkpoint.h"

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    sde::fuzz::initializeFuzzing();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sde::fuzz::expectParsedOrRefused([&] { sde::parseTorchCheckpoint(sde::fuzz::bytesOf(data, size), "fuzz.pth"); });
    return 0;
}
