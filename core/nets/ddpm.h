#pragma once

#include "config/model_config.h"
#include "nets/blocks.h"
#include "nets/score_network.h"

namespace sde {

// The original DDPM U-Net (models/ddpm.py of the reference, Ho et al. 2020): DDPM residual
// blocks with 32-group GroupNorm, attention at the configured resolutions, nearest/avg-pool
// resampling (with convolutions when resamp_with_conv), sinusoidal timestep embedding.
class DdpmImpl : public BlockListNetwork {
public:
    explicit DdpmImpl(const ModelConfig &config);
    torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &labels) override;

private:
    ModelConfig config_;
    Nonlinearity act_;
    int64_t numResolutions_;
    torch::Tensor sigmas_;
};

} // namespace sde
