#include "nets/inference.h"

#include "util/error.h"
#include "util/torch_compat.h"

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
thread_local EvaluationPrecision threadPrecision = EvaluationPrecision::Float32;

// Whether this CPU's oneDNN runs bfloat16 convolutions: LibTorch refuses them without AVX-512, so
// one tiny convolution answers it.
bool cpuRunsBFloat16()
{
    static const bool runs = [] {
        if (!at::hasMKLDNN())
            return false;
        try {
            c10::InferenceMode inference;
            torch::Tensor x = torch::ones({1, 1, 2, 2}, torch::kBFloat16);
            torch::Tensor w = torch::ones({1, 1, 1, 1}, torch::kBFloat16);
            return at::mkldnn_convolution(x, w, {}, {0, 0}, {1, 1}, {1, 1}, 1)
                       .to(torch::kFloat32)
                       .sum()
                       .item<float>() == 4.0f;
        } catch (const std::exception &) {
            return false;
        }
    }();
    return runs;
}

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

const std::vector<std::string> &precisionIds()
{
    static const std::vector<std::string> ids{"float32", "bfloat16", "float16"};
    return ids;
}

std::string precisionId(EvaluationPrecision precision)
{
    return precisionIds().at(static_cast<size_t>(precision));
}

EvaluationPrecision precisionFromId(const std::string &id)
{
    const std::vector<std::string> &ids = precisionIds();
    for (size_t i = 0; i < ids.size(); ++i)
        if (ids[i] == id)
            return static_cast<EvaluationPrecision>(i);
    throw Error("unknown precision '" + id + "' (expected float32, bfloat16 or float16)");
}

std::string precisionUnsupportedReason(EvaluationPrecision precision, const torch::Device &device)
{
    if (precision == EvaluationPrecision::Float32 || device.is_cuda())
        return {};
    if (precision == EvaluationPrecision::Float16)
        return "float16 evaluations need a CUDA device; on the CPU use bfloat16";
    if (!cpuRunsBFloat16())
        return "bfloat16 evaluations on the CPU need oneDNN and a CPU with AVX-512, which this machine lacks";
    return {};
}

void checkPrecision(EvaluationPrecision precision, const torch::Device &device)
{
    const std::string reason = precisionUnsupportedReason(precision, device);
    if (!reason.empty())
        throw Error(reason);
}

EvaluationPrecision evaluationPrecision()
{
    return threadPrecision;
}

EvaluationPrecisionScope::EvaluationPrecisionScope(EvaluationPrecision precision) : previous_(threadPrecision)
{
    threadPrecision = precision;
}

EvaluationPrecisionScope::~EvaluationPrecisionScope()
{
    threadPrecision = previous_;
}

AutocastScope::AutocastScope(const torch::Device &device, EvaluationPrecision precision)
{
    if (precision == EvaluationPrecision::Float32)
        return;
    const torch::Dtype dtype = precision == EvaluationPrecision::Float16 ? torch::kFloat16 : torch::kBFloat16;
    if (device.is_cuda()) {
        compat::enableCudaAutocast(dtype);
        cuda_ = true;
    } else if (device.is_cpu()) {
        compat::enableCpuAutocast(dtype);
        cpu_ = true;
    }
}

AutocastScope::~AutocastScope()
{
    if (cuda_)
        compat::disableCudaAutocast();
    if (cpu_)
        compat::disableCpuAutocast();
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
    torch::Dtype dtype = torch::kFloat32;
};

PrepackedConv::PrepackedConv() : state_(std::make_shared<State>())
{}

torch::Tensor PrepackedConv::packed(const torch::Tensor &source, int64_t stride, int64_t padding,
                                    const std::function<torch::Tensor()> &makeWeight)
{
    std::lock_guard<std::mutex> lock(state_->mutex);
    State &s = *state_;
    const torch::Dtype dtype =
        evaluationPrecision() == EvaluationPrecision::BFloat16 ? torch::kBFloat16 : torch::kFloat32;
    if (!s.packed.defined() || s.source != source.data_ptr() || s.version != source._version() || s.stride != stride ||
        s.padding != padding || s.dtype != dtype) {
        s.packed = at::mkldnn_reorder_conv2d_weight(makeWeight().to(dtype).contiguous().to_mkldnn(), {padding, padding},
                                                    {stride, stride}, {1, 1}, 1);
        s.source = source.data_ptr();
        s.version = source._version();
        s.stride = stride;
        s.padding = padding;
        s.dtype = dtype;
    }
    return s.packed;
}

namespace {

// x (float32) rounded to bfloat16 and convolved with the packed bfloat16 weight; the result comes
// back float32, and the bias is added in float32.
torch::Tensor convolveBFloat16(const torch::Tensor &x, const torch::Tensor &packedWeight, const torch::Tensor &bias,
                               int64_t stride, int64_t padding)
{
    torch::Tensor y = at::mkldnn_convolution(x.to(torch::kBFloat16).contiguous(), packedWeight, {}, {padding, padding},
                                             {stride, stride}, {1, 1}, 1)
                          .to(torch::kFloat32);
    if (bias.defined())
        y.add_(bias.view({1, -1, 1, 1}));
    return y;
}

} // namespace

torch::Tensor PrepackedConv::run(const torch::Tensor &x, const torch::Tensor &weight, const torch::Tensor &bias,
                                 int64_t stride, int64_t padding)
{
    torch::Tensor w = packed(weight, stride, padding, [&] { return weight; });
    if (w.scalar_type() == torch::kBFloat16)
        return convolveBFloat16(x, w, bias, stride, padding);
    c10::optional<torch::Tensor> b;
    if (bias.defined())
        b = bias;
    return at::mkldnn_convolution(x.contiguous(), w, b, {padding, padding}, {stride, stride}, {1, 1}, 1);
}

torch::Tensor PrepackedConv::runChannelMix(const torch::Tensor &x, const torch::Tensor &W, const torch::Tensor &b)
{
    torch::Tensor w = packed(W, 1, 0, [&] { return W.t().reshape({W.size(1), W.size(0), 1, 1}); });
    if (w.scalar_type() == torch::kBFloat16)
        return convolveBFloat16(x, w, b, 1, 0);
    return at::mkldnn_convolution(x.contiguous(), w, b, {0, 0}, {1, 1}, {1, 1}, 1);
}

torch::Tensor oneDnnMatmulTransposed(const torch::Tensor &a, const torch::Tensor &bT)
{
    return at::mkldnn_linear(a.contiguous().to_mkldnn(), bT.contiguous(), {}).to_dense();
}

} // namespace sde
