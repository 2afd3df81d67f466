#include "nets/inference.h"

#include <ATen/Context.h>

#include <atomic>
#include <mutex>
#include <optional>

namespace sde {

namespace {

std::atomic<EvaluationPath> &processPath()
{
    static std::atomic<EvaluationPath> path{at::hasMKLDNN() ? EvaluationPath::OneDnn : EvaluationPath::Plain};
    return path;
}

// A scope's choice, for its own thread only.
thread_local std::optional<EvaluationPath> threadPath;

} // namespace

void setEvaluationPath(EvaluationPath path)
{
    processPath().store(path);
}

EvaluationPath evaluationPath()
{
    return threadPath ? *threadPath : processPath().load();
}

EvaluationPathScope::EvaluationPathScope(EvaluationPath path) : previous_(threadPath)
{
    threadPath = path;
}

EvaluationPathScope::~EvaluationPathScope()
{
    threadPath = previous_;
}

bool useOneDnn(const torch::Tensor &x)
{
    return evaluationPath() == EvaluationPath::OneDnn && at::hasMKLDNN() && x.device().is_cpu() &&
           x.scalar_type() == torch::kFloat32 && !torch::GradMode::is_enabled();
}

struct PrepackedConv::State {
    std::mutex mutex;
    torch::Tensor packed;
    const void *source = nullptr;
    uint32_t version = 0;
    int64_t stride = 0, padding = 0;
};

PrepackedConv::PrepackedConv() : state_(std::make_shared<State>()) {}

torch::Tensor PrepackedConv::packed(const torch::Tensor &source, int64_t stride, int64_t padding,
                                    const std::function<torch::Tensor()> &makeWeight)
{
    std::lock_guard<std::mutex> lock(state_->mutex);
    State &s = *state_;
    if (!s.packed.defined() || s.source != source.data_ptr() || s.version != source._version() || s.stride != stride ||
        s.padding != padding) {
        s.packed = at::mkldnn_reorder_conv2d_weight(makeWeight().contiguous().to_mkldnn(), {padding, padding},
                                                    {stride, stride}, {1, 1}, 1);
        s.source = source.data_ptr();
        s.version = source._version();
        s.stride = stride;
        s.padding = padding;
    }
    return s.packed;
}

torch::Tensor PrepackedConv::run(const torch::Tensor &x, const torch::Tensor &weight, const torch::Tensor &bias,
                                 int64_t stride, int64_t padding)
{
    torch::Tensor w = packed(weight, stride, padding, [&] { return weight; });
    c10::optional<torch::Tensor> b;
    if (bias.defined())
        b = bias;
    return at::mkldnn_convolution(x.contiguous(), w, b, {padding, padding}, {stride, stride}, {1, 1}, 1);
}

torch::Tensor PrepackedConv::runChannelMix(const torch::Tensor &x, const torch::Tensor &W, const torch::Tensor &b)
{
    torch::Tensor w = packed(W, 1, 0, [&] { return W.t().reshape({W.size(1), W.size(0), 1, 1}); });
    return at::mkldnn_convolution(x.contiguous(), w, b, {0, 0}, {1, 1}, {1, 1}, 1);
}

torch::Tensor oneDnnMatmulTransposed(const torch::Tensor &a, const torch::Tensor &bT)
{
    return at::mkldnn_linear(a.contiguous().to_mkldnn(), bT.contiguous(), {}).to_dense();
}

} // namespace sde
