#pragma once

#include "config/model_config.h"
#include "nets/blocks.h"
#include "nets/score_network.h"

namespace sde {

// ddpm.DDPM: the original DDPM U-Net (models/ddpm.py of the reference, Ho et al. 2020): DDPM
// residual blocks (layers.ResnetBlockDDPM) with 32-group GroupNorm, layers.AttnBlock at the
// configured resolutions, nearest/avg-pool resampling (with convolutions when resamp_with_conv),
// sinusoidal timestep embedding. Blocks sit in "all_modules" in the reference's constructor order.
//
// Shapes, in the reference's terms: C = data.num_channels, H = W = data.image_size,
// L = len(ch_mult) (num_resolutions); level i runs at H / 2^i with nf * ch_mult[i] channels.
class DdpmImpl : public BlockListNetwork {
public:
    // Builds the blocks of ddpm.DDPM.__init__ with the reference's initialisation. Throws
    // sde::Error (from the layers) for a width 32 GroupNorm groups cannot split.
    explicit DdpmImpl(const ModelConfig &config);

    // ddpm.DDPM.forward(x, labels).
    //   x: [B, C, H, W], in [0, 1] (data.centered = false) or [-1, 1] (centered).
    //   labels: [B], the timestep label (t * 999 for VP, the integer noise-level index for SMLD).
    // Returns [B, C, H, W], divided by sigmas[labels] when model.scale_by_sigma.
    torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &labels) override;

private:
    ModelConfig config_;
    Nonlinearity act_;
    int64_t numResolutions_; // L = len(ch_mult)
    torch::Tensor sigmas_;   // buffer "sigmas" [N] (utils.get_sigmas), float64
};

} // namespace sde
