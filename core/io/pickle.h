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
    PyValue() = default;
    PyValue(const PyValue &) = delete;
    PyValue &operator=(const PyValue &) = delete;
    // Releases nested containers one at a time, so that no depth of nesting overflows the stack.
    ~PyValue();

    Kind kind = Kind::None;
    bool boolean = false;
    int64_t integer = 0;
    double real = 0.0;
    std::string text;                          // String, Bytes, Global ("module name")
    std::vector<PyRef> items;                  // Tuple, List
    std::vector<std::pair<PyRef, PyRef>> dict; // Dict, in insertion order
    torch::Tensor tensor;                      // Tensor, StorageRef (the whole storage)
    // Kept by the unpickler: how many containers deep the value nests (0 for a scalar, 1 for a
    // container of scalars or of nothing), and whether it has been placed inside a container (it
    // is then never changed, so the depths stay true and no value can come to contain itself).
    int depth = 0;
    bool placed = false;

    static PyRef make(Kind kind);
    std::string describe() const; // "a dict", "a tensor [3, 4]", ...
    // Dict helpers for string keys.
    PyRef get(const std::string &key) const;
};

// Loads the storage `key` (data/<key> of the archive) as a 1D tensor of `dtype` with `numel`.
using StorageLoader = std::function<torch::Tensor(const std::string &key, torch::Dtype dtype, int64_t numel)>;

// Bounds on what one pickle may build, checked before each value is made: no checkpoint comes
// near them (the reference's nest 6 marks deep in some 25,000 opcodes), and within them the
// parsed value stays well under 1 GB and far from the end of the thread's stack.
constexpr int kMaxPickleDepth = 1000;
constexpr size_t kMaxPickleValues = 4'000'000; // values made plus places in containers

// A pickle reader for PyTorch checkpoints that never runs code: it interprets the opcodes of
// protocols 0-5 and accepts only the globals a state dict needs (collections.OrderedDict,
// torch._utils._rebuild_tensor_v2 / _rebuild_parameter, torch.*Storage and a few more data
// constructors). Any other global, or an opcode that would call one, is refused with an error
// naming it and `label` (the file). Malformed or truncated data is an error, never a crash: so are
// containers nested deeper than kMaxPickleDepth ("<label>: the pickle nests deeper than 1000
// levels"), more than kMaxPickleValues values, a container changed after it was placed in another
// (a recursive structure), and tensor sizes, strides and offsets whose arithmetic overflows.
PyRef unpickle(const std::string &data, const StorageLoader &loader, const std::string &label);

} // namespace sde
