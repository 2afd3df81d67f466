// libFuzzer target: the PNG parameters reader: the text chunks of a PNG (core/imaging/image_io.h)
// and the generation record they carry (core/imaging/generation_record.h), as a dropped image is read.
#include "fuzz_support.h"
#include "imaging/generation_record.h"
#include "imaging/image_io.h"

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    sde::fuzz::initializeFuzzing();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sde::fuzz::expectParsedOrRefused([&] {
        const auto text = sde::parsePngText(sde::fuzz::bytesOf(data, size), "fuzz.png");
        sde::parseGeneratedImageSettings(text, "fuzz.png");
    });
    return 0;
}
