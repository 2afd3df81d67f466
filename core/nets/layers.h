#pragma once

#include "nets/inference.h"
#include "util/error.h"

#include <torch/torch.h>

#include <string>

namespace sde {

// Basic layers of the reference's models/layers.py and layerspp.py, with the DDPM
// initialisation (variance scaling, fan_avg, uniform). Parameter names are the reference's.

// layers.get_act: model.nonlinearity "swish" (nn.SiLU), "elu", "relu" or "lrelu" (LeakyReLU, slope 0.2).
enum class Nonlinearity { Swish, Elu, Relu, LeakyRelu };
// Throws sde::Error for any other name.
Nonlinearity nonlinearityFromName(const std::string &name);
// The activation applied elementwise: any shape in, the same shape out.
torch::Tensor activate(Nonlinearity act, const torch::Tensor &x);

// While one of these is alive on a thread, layers skip their random initialisation and make
// their parameters on the meta device (shape and dtype, no memory): building a network only to
// read its layout (parameter names and shapes) then costs neither time nor memory, whatever the
// config's size.
class LayoutOnlyScope {
public:
    LayoutOnlyScope();
    ~LayoutOnlyScope();
    LayoutOnlyScope(const LayoutOnlyScope &) = delete;
    LayoutOnlyScope &operator=(const LayoutOnlyScope &) = delete;
    static bool active();
    // A float32 tensor of `shape` on the meta device, what layers hold instead of weights.
    static torch::Tensor placeholder(at::IntArrayRef shape);
};

// The number of parameters of a module (the elements of all its parameter tensors), as the
// size limits count them; works as well on a layout-only build.
int64_t parameterCount(const torch::nn::Module &module);

// layers.default_init(scale) of the reference (layers.variance_scaling(scale, 'fan_avg', 'uniform')):
// U(-sqrt(3 v), sqrt(3 v)) with v = scale / ((fan_in + fan_out) / 2), fans over in_axis 1 and
// out_axis 0 times the receptive field; a scale of 0 becomes 1e-10. `shape` has at least 2 dims.
torch::Tensor defaultInit(at::IntArrayRef shape, double scale = 1.0);
// nn.init.zeros_ / ones_ (placeholders under a LayoutOnlyScope).
torch::Tensor zerosInit(at::IntArrayRef shape);
torch::Tensor onesInit(at::IntArrayRef shape);

// nn.Conv2d with DDPM initialisation (layers.ddpm_conv3x3 / ddpm_conv1x1): weight [out, in, k, k],
// bias [out].
struct Conv2dOptions {
    int64_t in = 0;
    int64_t out = 0;
    int64_t kernel = 3;
    int64_t stride = 1;
    int64_t padding = 1;
    bool bias = true;
    double initScale = 1.0;
};

class Conv2dImpl : public torch::nn::Module {
public:
    explicit Conv2dImpl(const Conv2dOptions &options);
    // x: [B, in, H, W] -> [B, out, (H + 2 padding - kernel) / stride + 1, likewise W].
    torch::Tensor forward(const torch::Tensor &x);

    torch::Tensor weight;
    torch::Tensor bias;

private:
    Conv2dOptions options_;
    PrepackedConv packed_;
};
TORCH_MODULE(Conv2d);

// layerspp.conv3x3(in, out) (= layers.ddpm_conv3x3: 3x3, padding 1 unless given) and
// layerspp.conv1x1(in, out) (= layers.ddpm_conv1x1: 1x1, padding 0), with bias.
Conv2d conv3x3(int64_t in, int64_t out, double initScale = 1.0, int64_t stride = 1, int64_t padding = 1);
Conv2d conv1x1(int64_t in, int64_t out, double initScale = 1.0);

// nn.Linear with default_init weights and zero bias, as the reference's U-Nets make their
// Dense_0 / temb layers: weight [out, in], bias [out].
class DenseImpl : public torch::nn::Module {
public:
    DenseImpl(int64_t in, int64_t out);
    // x: [..., in] -> [..., out] (in the networks, temb [B, in] -> [B, out]).
    torch::Tensor forward(const torch::Tensor &x);

    torch::Tensor weight;
    torch::Tensor bias;
};
TORCH_MODULE(Dense);

// What GroupNormImpl throws when `groups` does not divide `channels` (or is below 1); the network's
// size check (requireNetworkWithinSize) turns it into a message about the config's model.nf.
struct GroupNormChannelsError : Error {
    GroupNormChannelsError(int64_t channels, int64_t groups)
        : Error("GroupNorm: " + std::to_string(channels) + " channels cannot be split into " + std::to_string(groups) +
                " groups"),
          channels(channels), groups(groups)
    {}
    int64_t channels;
    int64_t groups;
};

// nn.GroupNorm(num_groups, channels, eps=1e-6): weight (ones) and bias (zeros).
class GroupNormImpl : public torch::nn::Module {
public:
    // Throws sde::Error unless groups >= 1 divides channels.
    GroupNormImpl(int64_t groups, int64_t channels);
    // x: [B, channels, H, W] -> the same shape.
    torch::Tensor forward(const torch::Tensor &x);

    torch::Tensor weight;
    torch::Tensor bias;

private:
    int64_t groups_;
};
TORCH_MODULE(GroupNorm);

// The group count layerspp uses: min(channels // 4, 32).
int64_t groupsFor(int64_t channels);

// layers.NIN: a 1x1 "network in network" layer, y = x W + b over channels. W [in, out], b [out].
class NinImpl : public torch::nn::Module {
public:
    NinImpl(int64_t in, int64_t out, double initScale = 0.1);
    // x: [B, in, H, W] -> [B, out, H, W].
    torch::Tensor forward(const torch::Tensor &x);

    torch::Tensor W;
    torch::Tensor b;

private:
    PrepackedConv packed_;
};
TORCH_MODULE(Nin);

// layerspp.GaussianFourierProjection: Gaussian Fourier features of the noise level,
// [sin(2 pi x W), cos(2 pi x W)]. W [size] ~ N(0, scale^2) is fixed (requires_grad false), as in
// the reference.
class GaussianFourierProjectionImpl : public torch::nn::Module {
public:
    GaussianFourierProjectionImpl(int64_t size, double scale);
    // x: [B] (NCSN++ passes log sigma) -> [B, 2 * size].
    torch::Tensor forward(const torch::Tensor &x);

    torch::Tensor W;
};
TORCH_MODULE(GaussianFourierProjection);

// layers.get_timestep_embedding: the sinusoidal timestep embedding of DDPM / transformers.
// timesteps: [B] (any real dtype, used as float32) -> [B, dim]: sin of the half_dim = dim // 2
// angles t * exp(-log(maxPositions) * j / (half_dim - 1)), then their cos, zero-padded by one
// column when dim is odd. Meant for dim >= 4 (half_dim - 1 is a divisor); not checked here.
torch::Tensor timestepEmbedding(const torch::Tensor &timesteps, int64_t dim, double maxPositions = 10000.0);

} // namespace sde
