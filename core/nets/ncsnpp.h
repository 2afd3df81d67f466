#pragma once

#include "config/model_config.h"
#include "nets/blocks.h"
#include "nets/score_network.h"

namespace sde {

// ncsnpp.NCSNpp: NCSN++ and DDPM++ (models/ncsnpp.py of the reference) as one configurable U-Net.
// Every block with parameters sits in the ModuleList "all_modules" in the order of the
// reference's constructor, so the state dict keys are the reference's ("all_modules.12.Conv_0.weight").
// The reference also appends its parameterless pyramid resamplers (pyramid_downsample for
// progressive_input = input_skip, pyramid_upsample for progressive = output_skip) to the list;
// they carry no state, so this port calls the functions they wrap inline and leaves them out.
//
// Shapes, in the reference's terms: C = data.num_channels, H = W = data.image_size,
// L = len(ch_mult) (num_resolutions); level i runs at H / 2^i with nf * ch_mult[i] channels.
class NcsnppImpl : public BlockListNetwork {
public:
    // Builds the blocks of ncsnpp.NCSNpp.__init__, randomly initialised with the reference's
    // default_init. Throws sde::Error (from the layers) for a width GroupNorm cannot split.
    explicit NcsnppImpl(const ModelConfig &config);

    // ncsnpp.NCSNpp.forward(x, time_cond).
    //   x: [B, C, H, W], in [0, 1] (data.centered = false) or [-1, 1] (centered).
    //   timeCond: [B]; embedding_type "fourier": the noise level sigma(t) itself (continuous VE),
    //     "positional": the label the SDE's convention gives (t * 999 for VP, or the integer
    //     index into `sigmas` for discrete SMLD).
    // Returns [B, C, H, W], divided by the noise level when model.scale_by_sigma.
    torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &timeCond) override;

private:
    ModelConfig config_;
    Nonlinearity act_;
    int64_t numResolutions_; // L = len(ch_mult)
    torch::Tensor sigmas_;   // buffer "sigmas" [N]: exp(linspace(log sigma_max, log sigma_min, N)), float64
};

} // namespace sde
