#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace sde {

// The Python values a checkpoint's pickle can hold, after the restricted unpickler has turned
// the allowed constructors into values (OrderedDict -> Dict, _rebuild_tensor_v2 -> Tensor).
struct PyValue;
using PyRef = std::shared_ptr<PyValue>;

struct PyValue {
    enum class Kind { None, Bool, Int, Float, String, Bytes, Tuple, List, Dict, Tensor, Global, StorageRef };
    Kind kind = Kind::None;
    bool boolean = false;
    int64_t integer = 0;
    double real = 0.0;
    std::string text;                          // String, Bytes, Global ("module name")
    std::vector<PyRef> items;                  // Tuple, List
    std::vector<std::pair<PyRef, PyRef>> dict; // Dict, in insertion order
    torch::Tensor tensor;                      // Tensor, StorageRef (the whole storage)

    static PyRef make(Kind kind);
    std::string describe() const; // "a dict", "a tensor [3, 4]", ...
    // Dict helpers for string keys.
    PyRef get(const std::string &key) const;
};

// Loads the storage `key` (data/<key> of the archive) as a 1D tensor of `dtype` with `numel`.
using StorageLoader = std::function<torch::Tensor(const std::string &key, torch::Dtype dtype, int64_t numel)>;

// A pickle reader for PyTorch checkpoints that never runs code: it interprets the opcodes of
// protocols 0-5 and accepts only the globals a state dict needs (collections.OrderedDict,
// torch._utils._rebuild_tensor_v2 / _rebuild_parameter, torch.*Storage and a few more data
// constructors). Any other global, or an opcode that would call one, is refused with an error
// naming it and `label` (the file). Malformed or truncated data is an error, never a crash.
PyRef unpickle(const std::string &data, const StorageLoader &loader, const std::string &label);

} // namespace sde
