#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sde {

// How the score networks evaluate when no gradient is recorded (sampling, scoring; training and
// the likelihood's divergence always take the plain path, which autograd differentiates):
//   Plain   LibTorch's own operator choice, as the reference runs.
//   OneDnn  every convolution, 1x1 layer, dense layer and attention product through oneDNN, with
//           convolution weights prepacked once (and again whenever they change); LibTorch would
//           otherwise send small convolutions and all matrix products to the system BLAS, which on
//           Debian is the slow reference one. The scores match the plain path within 1e-4
//           relative (tests/core/test_inference).
// The process starts with OneDnn where LibTorch has it; evaluations also run under
// c10::InferenceMode there.
enum class EvaluationPath { Plain, OneDnn };

// The process-wide path, and the path in effect on this thread (a scope's, else the process's).
void setEvaluationPath(EvaluationPath path);
EvaluationPath evaluationPath();

// Sets the path of this thread for the lifetime of the scope (tests, benchmarks); other threads
// keep theirs.
class EvaluationPathScope {
public:
    explicit EvaluationPathScope(EvaluationPath path);
    ~EvaluationPathScope();
    EvaluationPathScope(const EvaluationPathScope &) = delete;
    EvaluationPathScope &operator=(const EvaluationPathScope &) = delete;

private:
    std::optional<EvaluationPath> previous_;
};

// The number format of the score network's evaluations when no gradient is recorded. Whatever is
// chosen, the sampler's state, the SDE's coefficients and the scaling of the network's output into
// a score stay float32, and gradients (training, the likelihood's divergence) are always float32.
//   Float32   every operation in float32: the reference's numbers.
//   BFloat16  CPU (oneDNN path): convolutions and 1x1 layers multiply in bfloat16 and accumulate
//             in float32; normalisation, activations, attention and the time embedding stay
//             float32. Fast on CPUs with AVX512-BF16 or AMX; other AVX-512 CPUs emulate it.
//             CUDA: autocast to bfloat16.
//   Float16   CUDA only: autocast to float16.
enum class EvaluationPrecision { Float32, BFloat16, Float16 };

// "float32", "bfloat16", "float16".
const std::vector<std::string> &precisionIds();
std::string precisionId(EvaluationPrecision precision);
// Throws sde::Error for a name that is not one of precisionIds().
EvaluationPrecision precisionFromId(const std::string &id);
// Whether `device` evaluates in `precision` (bfloat16 on the CPU needs oneDNN and AVX-512; float16
// needs CUDA), and why not: an empty string when it can.
std::string precisionUnsupportedReason(EvaluationPrecision precision, const torch::Device &device);
// Throws sde::Error with that reason.
void checkPrecision(EvaluationPrecision precision, const torch::Device &device);

// The precision of evaluations on this thread: Float32 unless a scope sets another.
EvaluationPrecision evaluationPrecision();

// Sets this thread's evaluation precision for the lifetime of the scope.
class EvaluationPrecisionScope {
public:
    explicit EvaluationPrecisionScope(EvaluationPrecision precision);
    ~EvaluationPrecisionScope();
    EvaluationPrecisionScope(const EvaluationPrecisionScope &) = delete;
    EvaluationPrecisionScope &operator=(const EvaluationPrecisionScope &) = delete;

private:
    EvaluationPrecision previous_;
};

// Autocast of the operations on `device` to `precision`'s type (CUDA: bfloat16 or float16; the
// CPU: bfloat16, where precisionUnsupportedReason allows it) for the lifetime of the scope, as
// torch.autocast(device_type, dtype) does; nothing for Float32. The trainer's forward pass and
// loss, and CUDA evaluations, run in one.
class AutocastScope {
public:
    AutocastScope(const torch::Device &device, EvaluationPrecision precision);
    ~AutocastScope();
    AutocastScope(const AutocastScope &) = delete;
    AutocastScope &operator=(const AutocastScope &) = delete;

private:
    bool cuda_ = false, cpu_ = false; // which autocast this scope turned on
};

// Whether an operation on x takes the oneDNN path now: the path is OneDnn, LibTorch has oneDNN,
// x is a float32 CPU tensor and no gradient is being recorded.
bool useOneDnn(const torch::Tensor &x);

// A convolution whose weight is kept prepacked for oneDNN. The packed copy follows the weight:
// it is made again when the weight's storage or version changes (an optimizer step, loading) or
// the evaluation precision changes. In bfloat16 the input is rounded to bfloat16, and the output
// comes back float32 with the bias added in float32.
// Safe to call from several threads.
class PrepackedConv {
public:
    PrepackedConv();
    // conv2d(x, weight, bias) with the given stride and padding (dilation 1, one group).
    torch::Tensor run(const torch::Tensor &x, const torch::Tensor &weight, const torch::Tensor &bias, int64_t stride,
                      int64_t padding);
    // A 1x1 layer with weight W [in, out] (NIN): y = x W + b over channels, as a convolution.
    torch::Tensor runChannelMix(const torch::Tensor &x, const torch::Tensor &W, const torch::Tensor &b);

private:
    // The packed weight for `source`, packing `makeWeight()` when source changed.
    torch::Tensor packed(const torch::Tensor &source, int64_t stride, int64_t padding,
                         const std::function<torch::Tensor()> &makeWeight);
    struct State;
    std::shared_ptr<State> state_;
};

// a [M, K] times b^T, for bT [N, K]: the product of the oneDNN path (both float32, CPU).
torch::Tensor oneDnnMatmulTransposed(const torch::Tensor &a, const torch::Tensor &bT);

} // namespace sde
