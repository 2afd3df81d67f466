// libFuzzer target: the restricted unpickler (core/io/pickle.h) on the bytes of a data.pkl.
#include "fuzz_support.h"
#include "io/pickle.h"

namespace {

// The most elements one storage may ask for here. The checkpoint reader's loader refuses a
// storage larger than its record in the archive; a data.pkl alone has no records, so this loader
// stands in with a bound of the same kind.
constexpr int64_t kMaxFuzzStorageElements = int64_t(1) << 20;

torch::Tensor loadStorage(const std::string &key, torch::Dtype dtype, int64_t numel)
{
    if (numel < 0 || numel > kMaxFuzzStorageElements)
        throw sde::Error("fuzz.pkl: the storage data/" + key + " of " + std::to_string(numel) +
                         " elements is larger than any record here");
    return torch::zeros({numel}, torch::TensorOptions().dtype(dtype));
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    sde::fuzz::initializeFuzzing();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sde::fuzz::expectParsedOrRefused([&] { sde::unpickle(sde::fuzz::bytesOf(data, size), loadStorage, "fuzz.pkl"); });
    return 0;
}
