#pragma once

#include "config/model_config.h"
#include "nets/blocks.h"
#include "nets/score_network.h"

namespace sde {

// NCSN++ and DDPM++ (models/ncsnpp.py of the reference): one configurable U-Net. Every block
// sits in the ModuleList "all_modules" in the order of the reference's constructor, so the state
// dict keys are the reference's ("all_modules.12.Conv_0.weight").
class NcsnppImpl : public BlockListNetwork {
public:
    explicit NcsnppImpl(const ModelConfig &config);
    torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &timeCond) override;

private:
    ModelConfig config_;
    Nonlinearity act_;
    int64_t numResolutions_;
    torch::Tensor sigmas_; // buffer "sigmas": exp(linspace(log sigma_max, log sigma_min, N)), float64
};

} // namespace sde
