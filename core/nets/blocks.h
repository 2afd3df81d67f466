#pragma once

#include "nets/layers.h"
#include "nets/resampling.h"

namespace sde {

// The residual and attention blocks of NCSN++ / DDPM++ (layerspp.py) and of the original DDPM
// network (layers.py). The DDPM variants are the same computations with 32 GroupNorm groups,
// zero-initialised output layers and no skip rescaling, so one class with options serves both.
// All image tensors are NCHW.

struct AttnBlockOptions {
    int64_t channels = 0;     // C
    bool skipRescale = false; // (x + h) / sqrt(2) instead of x + h
    double initScale = 0.0;   // default_init scale of NIN_3 (0 means 1e-10: nearly zero)
    bool ddpmGroups = false;  // GroupNorm with 32 groups (layers.AttnBlock) instead of min(C/4, 32)
};

// layerspp.AttnBlockpp (and layers.AttnBlock): channel-wise self-attention over all H * W
// spatial positions. Parameters GroupNorm_0, NIN_0 (q), NIN_1 (k), NIN_2 (v), NIN_3 (out).
class AttnBlockImpl : public torch::nn::Module {
public:
    // Throws sde::Error when GroupNorm cannot split `channels` into its groups.
    explicit AttnBlockImpl(const AttnBlockOptions &options);
    // x: [B, C, H, W] -> [B, C, H, W]; C must be options.channels.
    torch::Tensor forward(const torch::Tensor &x);

private:
    AttnBlockOptions options_;
    GroupNorm norm_{nullptr};
    Nin q_{nullptr}, k_{nullptr}, v_{nullptr}, out_{nullptr};
};
TORCH_MODULE(AttnBlock);

struct ResnetBlockOptions {
    Nonlinearity act = Nonlinearity::Swish;
    int64_t in = 0;      // in_ch
    int64_t out = 0;     // out_ch; 0: same as in
    int64_t tembDim = 0; // temb_dim (nf * 4 in the U-Nets); 0: no time embedding (Dense_0 absent)
    double dropout = 0.1;
    bool skipRescale = false;
    double initScale = 0.0; // default_init scale of Conv_1 (0 means 1e-10: nearly zero)
    // BigGAN blocks only:
    bool up = false;   // doubles H, W
    bool down = false; // halves H, W
    bool fir = false;  // FIR resampling with firKernel instead of nearest / average pooling
    std::vector<double> firKernel{1, 3, 3, 1};
    // DDPM blocks only:
    bool convShortcut = false; // a 3x3 Conv_2 on the shortcut instead of NIN_0
    bool ddpmGroups = false;   // layers.ResnetBlockDDPM: 32 groups
};

// layerspp.ResnetBlockDDPMpp (and layers.ResnetBlockDDPM): GroupNorm_0, Conv_0, Dense_0,
// GroupNorm_1, Dropout_0, Conv_1, and Conv_2 or NIN_0 on the shortcut when the width changes.
class ResnetBlockDdpmppImpl : public torch::nn::Module {
public:
    // Throws sde::Error when GroupNorm cannot split in or out into its groups.
    explicit ResnetBlockDdpmppImpl(const ResnetBlockOptions &options);
    // x: [B, in, H, W], temb: [B, tembDim] or undefined (temb = None) -> [B, out, H, W].
    torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &temb);

private:
    ResnetBlockOptions options_;
    GroupNorm norm0_{nullptr}, norm1_{nullptr};
    Conv2d conv0_{nullptr}, conv1_{nullptr}, conv2_{nullptr};
    Dense dense0_{nullptr};
    Nin nin0_{nullptr};
};
TORCH_MODULE(ResnetBlockDdpmpp);

// layerspp.ResnetBlockBigGANpp: like the DDPM++ block, with optional FIR or naive up/down-sampling
// of both paths and a 1x1 Conv_2 shortcut whenever the shape changes.
class ResnetBlockBigGanImpl : public torch::nn::Module {
public:
    // Throws sde::Error when GroupNorm cannot split in or out into its groups.
    explicit ResnetBlockBigGanImpl(const ResnetBlockOptions &options);
    // x: [B, in, H, W], temb: [B, tembDim] or undefined -> [B, out, H', W'] with H' = 2H (up),
    // H / 2 (down) or H.
    torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &temb);

private:
    ResnetBlockOptions options_;
    GroupNorm norm0_{nullptr}, norm1_{nullptr};
    Conv2d conv0_{nullptr}, conv1_{nullptr}, conv2_{nullptr};
    Dense dense0_{nullptr};
};
TORCH_MODULE(ResnetBlockBigGan);

// layerspp.Combine: a 1x1 Conv_0 of the skip input (dim1 -> dim2), then concatenated with or
// added to the main path.
class CombineImpl : public torch::nn::Module {
public:
    CombineImpl(int64_t dim1, int64_t dim2, bool concatenate);
    // x: [B, dim1, H, W] (the input pyramid), y: [B, dim2, H, W] -> [B, 2 * dim2, H, W] ("cat")
    // or [B, dim2, H, W] ("sum").
    torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &y);

private:
    Conv2d conv_{nullptr};
    bool concatenate_;
};
TORCH_MODULE(Combine);

// The skip connection of the layerspp blocks: (x + h) / sqrt(2) when skip rescaling is on, else
// x + h. x and h of the same shape (or broadcastable).
torch::Tensor residualSum(const torch::Tensor &x, const torch::Tensor &h, bool skipRescale);

} // namespace sde
