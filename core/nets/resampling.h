#pragma once

#include "nets/layers.h"

#include <vector>

namespace sde {

// FIR up- and down-sampling of StyleGAN2 as the reference ports it (up_or_down_sampling.py).
// All tensors are NCHW. `kernel` is the 1D FIR kernel of the config (e.g. [1, 3, 3, 1]).

// up_or_down_sampling.upfirdn2d (op/upfirdn2d.py, upfirdn2d_native): zero-insert upsampling by
// `up`, padding (pad0 before, pad1 after, both axes; negative pads crop), true convolution with the
// 2D kernel, then keeping every `down`-th sample. x: [B, C, H, W], kernel2d: [kh, kw] ->
// [B, C, (H * up + pad0 + pad1 - kh) / down + 1, likewise W].
torch::Tensor upfirdn2d(const torch::Tensor &x, const torch::Tensor &kernel2d, int64_t up, int64_t down, int64_t pad0,
                        int64_t pad1);

// up_or_down_sampling._setup_kernel: the normalized 2D kernel outer(k, k) / sum, [k, k] float32.
torch::Tensor setupKernel(const std::vector<double> &kernel);

// up_or_down_sampling.upsample_2d: x [B, C, H, W] -> [B, C, H * factor, W * factor]
// (kernel scaled by factor^2 to keep the gain).
torch::Tensor upsample2d(const torch::Tensor &x, const std::vector<double> &kernel, int64_t factor = 2);
// up_or_down_sampling.downsample_2d: x [B, C, H, W] -> [B, C, H / factor, W / factor].
torch::Tensor downsample2d(const torch::Tensor &x, const std::vector<double> &kernel, int64_t factor = 2);
// The fused transposed convolution + FIR filter (up_or_down_sampling.upsample_conv_2d), and FIR
// filter + strided convolution (conv_downsample_2d). x [B, in, H, W], weight [out, in, k, k] ->
// [B, out, H * factor, W * factor] / [B, out, H / factor, W / factor]; no bias.
torch::Tensor upsampleConv2d(const torch::Tensor &x, const torch::Tensor &weight, const std::vector<double> &kernel,
                             int64_t factor = 2);
torch::Tensor convDownsample2d(const torch::Tensor &x, const torch::Tensor &weight, const std::vector<double> &kernel,
                               int64_t factor = 2);

// up_or_down_sampling.naive_upsample_2d (nearest: each pixel repeated factor x factor) and
// naive_downsample_2d (the mean of each factor x factor block): [B, C, H, W] -> [B, C, H * factor,
// W * factor] / [B, C, H / factor, W / factor]. H, W must be multiples of factor for the latter.
torch::Tensor naiveUpsample2d(const torch::Tensor &x, int64_t factor = 2);
torch::Tensor naiveDownsample2d(const torch::Tensor &x, int64_t factor = 2);

// up_or_down_sampling.Conv2d: a convolution (3x3 in the networks) fused with FIR up- or
// down-sampling. Parameters weight [out, in, k, k] (default_init) and bias [out] (zeros).
class FirConv2dImpl : public torch::nn::Module {
public:
    enum class Mode { Same, Up, Down };
    FirConv2dImpl(int64_t in, int64_t out, int64_t kernelSize, Mode mode, std::vector<double> firKernel);
    // x: [B, in, H, W] -> [B, out, 2H, 2W] (Up), [B, out, H / 2, W / 2] (Down) or [B, out, H, W] (Same).
    torch::Tensor forward(const torch::Tensor &x);

    torch::Tensor weight;
    torch::Tensor bias;

private:
    Mode mode_;
    std::vector<double> firKernel_;
};
TORCH_MODULE(FirConv2d);

struct ResampleOptions {
    int64_t in = 0;        // in_ch
    int64_t out = 0;       // out_ch; 0: same as in
    bool withConv = false; // with_conv: a convolution (with parameters) as well as the resampling
    bool fir = false;      // FIR resampling with firKernel instead of nearest / average pooling
    std::vector<double> firKernel{1, 3, 3, 1};
};

// layerspp.Upsample (and layers.Upsample of DDPM, which is the same without FIR): nearest
// (+ conv3x3) without FIR, FIR upsampling (or the fused FIR conv) with it. Parameters Conv_0 or
// Conv2d_0, only when withConv.
class UpsampleImpl : public torch::nn::Module {
public:
    explicit UpsampleImpl(const ResampleOptions &options);
    // x: [B, in, H, W] -> [B, out, 2H, 2W] (out = in without a convolution).
    torch::Tensor forward(const torch::Tensor &x);

private:
    ResampleOptions options_;
    Conv2d conv_{nullptr};
    FirConv2d firConv_{nullptr};
};
TORCH_MODULE(Upsample);

// layerspp.Downsample (and layers.Downsample of DDPM, which is the same without FIR):
// 'SAME'-padded stride-2 conv3x3 or 2x2 average pooling; FIR downsampling with FIR. Parameters
// Conv_0 or Conv2d_0, only when withConv.
class DownsampleImpl : public torch::nn::Module {
public:
    explicit DownsampleImpl(const ResampleOptions &options);
    // x: [B, in, H, W] -> [B, out, H / 2, W / 2] (out = in without a convolution).
    torch::Tensor forward(const torch::Tensor &x);

private:
    ResampleOptions options_;
    Conv2d conv_{nullptr};
    FirConv2d firConv_{nullptr};
};
TORCH_MODULE(Downsample);

} // namespace sde
