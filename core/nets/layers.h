#pragma once

#include "nets/inference.h"

#include <torch/torch.h>

#include <string>

namespace sde {

// Basic layers of the reference's models/layers.py and layerspp.py, with the DDPM
// initialisation (variance scaling, fan_avg, uniform). Parameter names are the reference's.

enum class Nonlinearity { Swish, Elu, Relu, LeakyRelu };
Nonlinearity nonlinearityFromName(const std::string &name);
torch::Tensor activate(Nonlinearity act, const torch::Tensor &x);

// While one of these is alive on a thread, layers skip their random initialisation and leave
// their parameters uninitialised: building a network only to read its layout (parameter names
// and shapes) then costs no time, even for the 1024x1024 configs.
class LayoutOnlyScope {
public:
    LayoutOnlyScope();
    ~LayoutOnlyScope();
    LayoutOnlyScope(const LayoutOnlyScope &) = delete;
    LayoutOnlyScope &operator=(const LayoutOnlyScope &) = delete;
    static bool active();
};

// default_init(scale) of the reference: variance scaling with fan_avg and a uniform
// distribution; a scale of 0 becomes 1e-10.
torch::Tensor defaultInit(at::IntArrayRef shape, double scale = 1.0);
torch::Tensor zerosInit(at::IntArrayRef shape);
torch::Tensor onesInit(at::IntArrayRef shape);

// nn.Conv2d with DDPM initialisation (ddpm_conv3x3 / ddpm_conv1x1): weight [out, in, k, k], bias.
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
    torch::Tensor forward(const torch::Tensor &x);

    torch::Tensor weight;
    torch::Tensor bias;

private:
    Conv2dOptions options_;
    PrepackedConv packed_;
};
TORCH_MODULE(Conv2d);

// conv3x3(in, out) and conv1x1(in, out) of layerspp.
Conv2d conv3x3(int64_t in, int64_t out, double initScale = 1.0, int64_t stride = 1, int64_t padding = 1);
Conv2d conv1x1(int64_t in, int64_t out, double initScale = 1.0);

// nn.Linear with default_init weights and zero bias: weight [out, in], bias [out].
class DenseImpl : public torch::nn::Module {
public:
    DenseImpl(int64_t in, int64_t out);
    torch::Tensor forward(const torch::Tensor &x);

    torch::Tensor weight;
    torch::Tensor bias;
};
TORCH_MODULE(Dense);

// nn.GroupNorm(num_groups, channels, eps=1e-6): weight (ones) and bias (zeros).
class GroupNormImpl : public torch::nn::Module {
public:
    GroupNormImpl(int64_t groups, int64_t channels);
    torch::Tensor forward(const torch::Tensor &x);

    torch::Tensor weight;
    torch::Tensor bias;

private:
    int64_t groups_;
};
TORCH_MODULE(GroupNorm);

// The group count layerspp uses: min(channels / 4, 32).
int64_t groupsFor(int64_t channels);

// NIN: a 1x1 "network in network" layer, y = x W + b over channels. W [in, out], b [out].
class NinImpl : public torch::nn::Module {
public:
    NinImpl(int64_t in, int64_t out, double initScale = 0.1);
    torch::Tensor forward(const torch::Tensor &x);

    torch::Tensor W;
    torch::Tensor b;

private:
    PrepackedConv packed_;
};
TORCH_MODULE(Nin);

// Gaussian Fourier features of the noise level: [sin(2 pi x W), cos(2 pi x W)].
// W [size] ~ N(0, scale^2) is fixed (requires_grad false), as in the reference.
class GaussianFourierProjectionImpl : public torch::nn::Module {
public:
    GaussianFourierProjectionImpl(int64_t size, double scale);
    torch::Tensor forward(const torch::Tensor &x);

    torch::Tensor W;
};
TORCH_MODULE(GaussianFourierProjection);

// The sinusoidal timestep embedding of DDPM / transformers (get_timestep_embedding).
torch::Tensor timestepEmbedding(const torch::Tensor &timesteps, int64_t dim, double maxPositions = 10000.0);

} // namespace sde
