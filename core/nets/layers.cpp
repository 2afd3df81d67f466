#include "nets/layers.h"

#include "util/error.h"

#include <cmath>

namespace sde {

namespace {
thread_local int layoutOnlyDepth = 0;
} // namespace

LayoutOnlyScope::LayoutOnlyScope()
{
    ++layoutOnlyDepth;
}
LayoutOnlyScope::~LayoutOnlyScope()
{
    --layoutOnlyDepth;
}
bool LayoutOnlyScope::active()
{
    return layoutOnlyDepth > 0;
}
torch::Tensor LayoutOnlyScope::placeholder(at::IntArrayRef shape)
{
    return torch::empty(shape, torch::TensorOptions().dtype(torch::kFloat32).device(torch::kMeta));
}

int64_t parameterCount(const torch::nn::Module &module)
{
    int64_t count = 0;
    for (const auto &parameter : module.parameters())
        count += parameter.numel();
    return count;
}

// layers.get_act(config): the names model.nonlinearity takes.
Nonlinearity nonlinearityFromName(const std::string &name)
{
    if (name == "swish")
        return Nonlinearity::Swish;
    if (name == "elu")
        return Nonlinearity::Elu;
    if (name == "relu")
        return Nonlinearity::Relu;
    if (name == "lrelu")
        return Nonlinearity::LeakyRelu;
    throw Error("unknown nonlinearity \"" + name + "\" (expected swish, elu, relu or lrelu)");
}

torch::Tensor activate(Nonlinearity act, const torch::Tensor &x)
{
    switch (act) {
    case Nonlinearity::Swish:
        return torch::silu(x);
    case Nonlinearity::Elu:
        return torch::elu(x);
    case Nonlinearity::Relu:
        return torch::relu(x);
    case Nonlinearity::LeakyRelu:
        return torch::leaky_relu(x, 0.2); // nn.LeakyReLU(negative_slope=0.2)
    }
    return x;
}

// layers.default_init -> layers.variance_scaling(scale, 'fan_avg', 'uniform').
torch::Tensor defaultInit(at::IntArrayRef shape, double scale)
{
    if (LayoutOnlyScope::active())
        return LayoutOnlyScope::placeholder(shape);
    if (scale == 0.0)
        scale = 1e-10;
    // Fans as the reference's variance_scaling computes them (in_axis 1, out_axis 0).
    double receptive = 1.0;
    for (size_t i = 2; i < shape.size(); ++i)
        receptive *= static_cast<double>(shape[i]);
    const double fanIn = static_cast<double>(shape[1]) * receptive;
    const double fanOut = static_cast<double>(shape[0]) * receptive;
    const double variance = scale / ((fanIn + fanOut) / 2.0); // 'fan_avg'
    // 'uniform': (torch.rand(*shape) * 2. - 1.) * np.sqrt(3 * variance)
    return (torch::rand(shape) * 2.0 - 1.0) * std::sqrt(3.0 * variance);
}

torch::Tensor zerosInit(at::IntArrayRef shape)
{
    return LayoutOnlyScope::active() ? LayoutOnlyScope::placeholder(shape) : torch::zeros(shape);
}

torch::Tensor onesInit(at::IntArrayRef shape)
{
    return LayoutOnlyScope::active() ? LayoutOnlyScope::placeholder(shape) : torch::ones(shape);
}

// layers.ddpm_conv3x3 / ddpm_conv1x1: nn.Conv2d, weight = default_init(init_scale), bias zeros.
Conv2dImpl::Conv2dImpl(const Conv2dOptions &options) : options_(options)
{
    weight = register_parameter(
        "weight", defaultInit({options.out, options.in, options.kernel, options.kernel}, options.initScale));
    if (options.bias)
        bias = register_parameter("bias", zerosInit({options.out}));
}

// x: [B, in, H, W] -> [B, out, H', W']; the oneDNN path runs the same convolution prepacked.
torch::Tensor Conv2dImpl::forward(const torch::Tensor &x)
{
    if (useOneDnn(x))
        return packed_.run(x, weight, bias, options_.stride, options_.padding);
    const std::vector<int64_t> stride{options_.stride, options_.stride};
    const std::vector<int64_t> padding{options_.padding, options_.padding};
    return torch::conv2d(x, weight, bias, stride, padding);
}

Conv2d conv3x3(int64_t in, int64_t out, double initScale, int64_t stride, int64_t padding)
{
    return Conv2d(Conv2dOptions{in, out, 3, stride, padding, true, initScale});
}

Conv2d conv1x1(int64_t in, int64_t out, double initScale)
{
    return Conv2d(Conv2dOptions{in, out, 1, 1, 0, true, initScale});
}

// nn.Linear(in, out); weight.data = default_initializer()(weight.shape); nn.init.zeros_(bias)
DenseImpl::DenseImpl(int64_t in, int64_t out)
{
    weight = register_parameter("weight", defaultInit({out, in}));
    bias = register_parameter("bias", zerosInit({out}));
}

// x: [..., in] -> [..., out]; the oneDNN path only for 2D inputs ([B, in], the temb layers).
torch::Tensor DenseImpl::forward(const torch::Tensor &x)
{
    if (useOneDnn(x) && x.dim() == 2)
        return at::mkldnn_linear(x.contiguous().to_mkldnn(), weight, bias).to_dense();
    return torch::linear(x, weight, bias);
}

// nn.GroupNorm(num_groups, num_channels, eps=1e-6)
GroupNormImpl::GroupNormImpl(int64_t groups, int64_t channels) : groups_(groups)
{
    if (groups < 1 || channels % groups != 0)
        throw GroupNormChannelsError(channels, groups);
    weight = register_parameter("weight", onesInit({channels}));
    bias = register_parameter("bias", zerosInit({channels}));
}

// x: [B, C, H, W] -> [B, C, H, W], normalised over each group of C / groups channels and H, W.
torch::Tensor GroupNormImpl::forward(const torch::Tensor &x)
{
    // Under CPU autocast the convolution before hands over bfloat16, which LibTorch 1.13's CPU
    // group norm does not take beside float32 weights (nor does its autocast cast it): normalize
    // in the weights' float32, as torch.autocast does on CUDA and from 2.0 on the CPU.
    if (x.scalar_type() != weight.scalar_type())
        return torch::group_norm(x.to(weight.scalar_type()), groups_, weight, bias, 1e-6);
    return torch::group_norm(x, groups_, weight, bias, 1e-6);
}

// num_groups=min(channels // 4, 32)
int64_t groupsFor(int64_t channels)
{
    return std::min<int64_t>(channels / 4, 32);
}

// layers.NIN.__init__: W = default_init(scale=init_scale)((in_dim, num_units)), b zeros.
NinImpl::NinImpl(int64_t in, int64_t out, double initScale)
{
    W = register_parameter("W", defaultInit({in, out}, initScale));
    b = register_parameter("b", zerosInit({out}));
}

// layers.NIN.forward: x.permute(0, 2, 3, 1), contract_inner(x, W) + b, permute back.
torch::Tensor NinImpl::forward(const torch::Tensor &x)
{
    if (useOneDnn(x))
        return packed_.runChannelMix(x, W, b);
    // [B, C, H, W] -> [B, H, W, C] x [C, out] -> [B, out, H, W]
    torch::Tensor y = torch::matmul(x.permute({0, 2, 3, 1}), W) + b;
    return y.permute({0, 3, 1, 2});
}

// layerspp.GaussianFourierProjection.__init__: W = nn.Parameter(torch.randn(embedding_size) * scale,
// requires_grad=False)
GaussianFourierProjectionImpl::GaussianFourierProjectionImpl(int64_t size, double scale)
{
    torch::Tensor init =
        LayoutOnlyScope::active() ? LayoutOnlyScope::placeholder({size}) : torch::randn({size}) * scale;
    W = register_parameter("W", init, /*requires_grad=*/false);
}

// layerspp.GaussianFourierProjection.forward
torch::Tensor GaussianFourierProjectionImpl::forward(const torch::Tensor &x)
{
    // x_proj = x[:, None] * W[None, :] * 2 * pi: [B, size]
    torch::Tensor projection = x.unsqueeze(1) * W.unsqueeze(0) * (2.0 * M_PI);
    return torch::cat({torch::sin(projection), torch::cos(projection)}, -1); // [B, 2 * size]
}

// layers.get_timestep_embedding(timesteps, embedding_dim, max_positions=10000)
torch::Tensor timestepEmbedding(const torch::Tensor &timesteps, int64_t dim, double maxPositions)
{
    const int64_t half = dim / 2;                                               // half_dim
    const double step = std::log(maxPositions) / static_cast<double>(half - 1); // emb
    // frequencies: [half_dim], exp(-emb * j)
    torch::Tensor frequencies = torch::exp(
        torch::arange(half, torch::TensorOptions().dtype(torch::kFloat32).device(timesteps.device())) * -step);
    // angles = timesteps.float()[:, None] * emb[None, :]: [B, half_dim]
    torch::Tensor angles = timesteps.to(torch::kFloat32).unsqueeze(1) * frequencies.unsqueeze(0);
    torch::Tensor embedding = torch::cat({torch::sin(angles), torch::cos(angles)}, 1); // [B, 2 * half_dim]
    if (dim % 2 == 1)
        embedding = torch::constant_pad_nd(embedding, {0, 1}); // F.pad(emb, (0, 1)): [B, dim]
    return embedding;
}

} // namespace sde
