#pragma once

#include <torch/torch.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace sde {

// The safetensors format (an 8-byte little-endian header length, a JSON header naming each
// tensor's dtype, shape and byte range, then the raw little-endian data), with free-form string
// metadata under "__metadata__". Tensors keep the order of the file.
struct SafetensorsFile {
    std::vector<std::pair<std::string, torch::Tensor>> tensors;
    std::map<std::string, std::string> metadata;

    const torch::Tensor *find(const std::string &name) const;
};

// The largest JSON header read (8 MiB): a real model's is tens of KB (the bundled ones: 4 to
// 22 KB; the largest of the 27 reference configs, NCSN++ deep with its 964 tensors: about 100 KB).
constexpr uint64_t kMaxSafetensorsHeaderBytes = uint64_t(8) << 20;

// Reads every tensor onto the CPU: the header first, then each tensor from its offset, so that
// the file is never held whole. Throws sde::Error naming the file and the entry for a file that
// is plainly another kind ("'x.json' is a JSON file, not a safetensors file"), a truncated file, a
// header longer than kMaxSafetensorsHeaderBytes, a malformed header (nested deeper than
// kMaxJsonDepth, or naming a tensor or a metadata key twice), overlapping or out-of-range data,
// an unknown dtype, or a shape of more than 64 dimensions or 2^40 elements (counted, as LibTorch
// sizes storage, without its zeros). Every check of the header comes before any tensor is
// allocated.
SafetensorsFile readSafetensors(const std::string &path);
// Parses the bytes of a safetensors file; `label` names it in errors.
SafetensorsFile parseSafetensors(const std::string &bytes, const std::string &label);
// The metadata of a safetensors file, read and checked from its header alone.
std::map<std::string, std::string> readSafetensorsMetadata(const std::string &path);

// Writes tensors (moved to the CPU, made contiguous) and metadata atomically.
void writeSafetensors(const std::string &path, const std::vector<std::pair<std::string, torch::Tensor>> &tensors,
                      const std::map<std::string, std::string> &metadata = {});
// Half-precision storage: every float32 tensor becomes float16 (others are left as they are).
void convertFloat32ToFloat16(std::vector<std::pair<std::string, torch::Tensor>> &tensors);

// Typed reads of a metadata value (metadata values are strings). The whole text must be the
// number as std::to_string writes it (integers exact over their type's whole range; a double
// also as "nan" or "inf"); otherwise sde::Error "<label>: metadata \"<key>\" is not ...: <text>".
// A missing key is sde::Error "<label>: the metadata lack \"<key>\"".
int64_t metadataInt64(const std::map<std::string, std::string> &metadata, const std::string &key,
                      const std::string &label);
uint64_t metadataUint64(const std::map<std::string, std::string> &metadata, const std::string &key,
                        const std::string &label);
double metadataDouble(const std::map<std::string, std::string> &metadata, const std::string &key,
                      const std::string &label);
// The value of `key`, which must be one of `choices`; `fallback` when the key is absent. Otherwise
// sde::Error "<label>: metadata \"<key>\" is \"<text>\"; expected \"a\" or \"b\"".
std::string metadataChoice(const std::map<std::string, std::string> &metadata, const std::string &key,
                           const std::vector<std::string> &choices, const std::string &fallback,
                           const std::string &label);

std::string serializeSafetensors(const std::vector<std::pair<std::string, torch::Tensor>> &tensors,
                                 const std::map<std::string, std::string> &metadata);

} // namespace sde
