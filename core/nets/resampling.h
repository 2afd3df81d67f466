#pragma once

#include "nets/layers.h"

#include <vector>

namespace sde {

// FIR up- and down-sampling of StyleGAN2 as the reference ports it (up_or_down_sampling.py).
// All tensors are NCHW. `kernel` is the 1D FIR kernel of the config (e.g. [1, 3, 3, 1]).

// upfirdn2d: zero-insert upsampling by `up`, padding (pad0 before, pad1 after, both axes),
// true convolution with the 2D kernel, then keeping every `down`-th sample.
torch::Tensor upfirdn2d(const torch::Tensor &x, const torch::Tensor &kernel2d, int64_t up, int64_t down, int64_t pad0,
                        int64_t pad1);

// The normalized 2D kernel: outer(k, k) / sum.
torch::Tensor setupKernel(const std::vector<double> &kernel);

torch::Tensor upsample2d(const torch::Tensor &x, const std::vector<double> &kernel, int64_t factor = 2);
torch::Tensor downsample2d(const torch::Tensor &x, const std::vector<double> &kernel, int64_t factor = 2);
// The fused transposed convolution + FIR filter, and FIR filter + strided convolution.
torch::Tensor upsampleConv2d(const torch::Tensor &x, const torch::Tensor &weight, const std::vector<double> &kernel,
                             int64_t factor = 2);
torch::Tensor convDownsample2d(const torch::Tensor &x, const torch::Tensor &weight, const std::vector<double> &kernel,
                               int64_t factor = 2);

torch::Tensor naiveUpsample2d(const torch::Tensor &x, int64_t factor = 2);
torch::Tensor naiveDownsample2d(const torch::Tensor &x, int64_t factor = 2);

// up_or_down_sampling.Conv2d: a 3x3 convolution fused with FIR up- or down-sampling.
class FirConv2dImpl : public torch::nn::Module {
public:
    enum class Mode { Same, Up, Down };
    FirConv2dImpl(int64_t in, int64_t out, int64_t kernelSize, Mode mode, std::vector<double> firKernel);
    torch::Tensor forward(const torch::Tensor &x);

    torch::Tensor weight;
    torch::Tensor bias;

private:
    Mode mode_;
    std::vector<double> firKernel_;
};
TORCH_MODULE(FirConv2d);

struct ResampleOptions {
    int64_t in = 0;
    int64_t out = 0; // 0: same as in
    bool withConv = false;
    bool fir = false;
    std::vector<double> firKernel{1, 3, 3, 1};
};

// layerspp.Upsample: nearest (+ conv3x3) without FIR, FIR upsampling (or the fused FIR conv)
// with it. Parameters Conv_0 or Conv2d_0.
class UpsampleImpl : public torch::nn::Module {
public:
    explicit UpsampleImpl(const ResampleOptions &options);
    torch::Tensor forward(const torch::Tensor &x);

private:
    ResampleOptions options_;
    Conv2d conv_{nullptr};
    FirConv2d firConv_{nullptr};
};
TORCH_MODULE(Upsample);

// layerspp.Downsample (and layers.Downsample of DDPM, which is the same without FIR):
// 'SAME'-padded stride-2 conv3x3 or 2x2 average pooling; FIR downsampling with FIR.
class DownsampleImpl : public torch::nn::Module {
public:
    explicit DownsampleImpl(const ResampleOptions &options);
    torch::Tensor forward(const torch::Tensor &x);

private:
    ResampleOptions options_;
    Conv2d conv_{nullptr};
    FirConv2d firConv_{nullptr};
};
TORCH_MODULE(Downsample);

} // namespace sde
