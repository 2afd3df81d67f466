#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

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

// Whether an operation on x takes the oneDNN path now: the path is OneDnn, LibTorch has oneDNN,
// x is a float32 CPU tensor and no gradient is being recorded.
bool useOneDnn(const torch::Tensor &x);

// A convolution whose weight is kept prepacked for oneDNN. The packed copy follows the weight:
// it is made again when the weight's storage or version changes (an optimizer step, loading).
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
