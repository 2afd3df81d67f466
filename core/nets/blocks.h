#pragma once

#include "nets/layers.h"
#include "nets/resampling.h"

namespace sde {

// The residual and attention blocks of NCSN++ / DDPM++ (layerspp.py) and of the original DDPM
// network (layers.py). The DDPM variants are the same computations with 32 GroupNorm groups,
// zero-initialised output layers and no skip rescaling, so one class with options serves both.

struct AttnBlockOptions {
    int64_t channels = 0;
    bool skipRescale = false;
    double initScale = 0.0;
    bool ddpmGroups = false; // GroupNorm with 32 groups (layers.AttnBlock) instead of min(C/4, 32)
};

// Channel-wise self-attention over all spatial positions (AttnBlockpp / AttnBlock).
class AttnBlockImpl : public torch::nn::Module {
public:
    explicit AttnBlockImpl(const AttnBlockOptions &options);
    torch::Tensor forward(const torch::Tensor &x);

private:
    AttnBlockOptions options_;
    GroupNorm norm_{nullptr};
    Nin q_{nullptr}, k_{nullptr}, v_{nullptr}, out_{nullptr};
};
TORCH_MODULE(AttnBlock);

struct ResnetBlockOptions {
    Nonlinearity act = Nonlinearity::Swish;
    int64_t in = 0;
    int64_t out = 0;     // 0: same as in
    int64_t tembDim = 0; // 0: no time embedding (Dense_0 absent)
    double dropout = 0.1;
    bool skipRescale = false;
    double initScale = 0.0;
    // BigGAN blocks only:
    bool up = false;
    bool down = false;
    bool fir = false;
    std::vector<double> firKernel{1, 3, 3, 1};
    // DDPM blocks only:
    bool convShortcut = false;
    bool ddpmGroups = false; // layers.ResnetBlockDDPM: 32 groups
};

// ResnetBlockDDPMpp (and layers.ResnetBlockDDPM): GroupNorm_0, Conv_0, Dense_0, GroupNorm_1,
// Dropout_0, Conv_1, and Conv_2 or NIN_0 on the shortcut when the width changes.
class ResnetBlockDdpmppImpl : public torch::nn::Module {
public:
    explicit ResnetBlockDdpmppImpl(const ResnetBlockOptions &options);
    torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &temb);

private:
    ResnetBlockOptions options_;
    GroupNorm norm0_{nullptr}, norm1_{nullptr};
    Conv2d conv0_{nullptr}, conv1_{nullptr}, conv2_{nullptr};
    Dense dense0_{nullptr};
    Nin nin0_{nullptr};
};
TORCH_MODULE(ResnetBlockDdpmpp);

// ResnetBlockBigGANpp: like the DDPM++ block, with optional FIR or naive up/down-sampling of
// both paths and a 1x1 Conv_2 shortcut whenever the shape changes.
class ResnetBlockBigGanImpl : public torch::nn::Module {
public:
    explicit ResnetBlockBigGanImpl(const ResnetBlockOptions &options);
    torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &temb);

private:
    ResnetBlockOptions options_;
    GroupNorm norm0_{nullptr}, norm1_{nullptr};
    Conv2d conv0_{nullptr}, conv1_{nullptr}, conv2_{nullptr};
    Dense dense0_{nullptr};
};
TORCH_MODULE(ResnetBlockBigGan);

// layerspp.Combine: a 1x1 Conv of the skip input, then concatenated or summed.
class CombineImpl : public torch::nn::Module {
public:
    CombineImpl(int64_t dim1, int64_t dim2, bool concatenate);
    torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &y);

private:
    Conv2d conv_{nullptr};
    bool concatenate_;
};
TORCH_MODULE(Combine);

// (x + h) / sqrt(2) when skip rescaling is on, else x + h.
torch::Tensor residualSum(const torch::Tensor &x, const torch::Tensor &h, bool skipRescale);

} // namespace sde
