#pragma once

#include "sde/sde.h"

namespace sde {

// The reverse-time SDE dx = [f - g^2 s(x, t)] dt + g dw_bar of a forward SDE and a score, or,
// with probabilityFlow, the probability-flow ODE dx = [f - 1/2 g^2 s(x, t)] dt (diffusion 0).
class ReverseSde {
public:
    ReverseSde(const Sde &forward, ScoreFn score, bool probabilityFlow = false)
        : forward_(forward), score_(std::move(score)), probabilityFlow_(probabilityFlow)
    {}

    const Sde &forward() const { return forward_; }
    bool probabilityFlow() const { return probabilityFlow_; }

    // Drift [B, ...] and diffusion [B] of the reverse process at (x, t).
    std::pair<torch::Tensor, torch::Tensor> sde(const torch::Tensor &x, const torch::Tensor &t) const;
    // The discretized reverse step of the reverse-diffusion predictor: f_rev = f - G^2 s, G_rev = G.
    std::pair<torch::Tensor, torch::Tensor> discretize(const torch::Tensor &x, const torch::Tensor &t) const;

private:
    const Sde &forward_;
    ScoreFn score_;
    bool probabilityFlow_;
};

} // namespace sde
