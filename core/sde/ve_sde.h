#pragma once

#include "sde/sde.h"

namespace sde {

// The variance-exploding SDE of SMLD/NCSN: dx = sqrt(d[sigma^2(t)]/dt) dw with
// sigma(t) = sigma_min (sigma_max / sigma_min)^t.
class VeSde final : public Sde {
public:
    VeSde(double sigmaMin, double sigmaMax, int64_t numScales);

    Kind kind() const override { return Kind::Ve; }
    std::string name() const override { return "vesde"; }
    double sigmaMin() const { return sigmaMin_; }
    double sigmaMax() const { return sigmaMax_; }
    // The N noise levels exp(linspace(log sigma_min, log sigma_max, N)), ascending (float32).
    const torch::Tensor &discreteSigmas() const { return discreteSigmas_; }

    std::pair<torch::Tensor, torch::Tensor> sde(const torch::Tensor &x, const torch::Tensor &t) const override;
    torch::Tensor meanCoefficient(const torch::Tensor &t) const override { return torch::ones_like(t); }
    torch::Tensor marginalStd(const torch::Tensor &t) const override { return sigma(t); }
    // The SMLD discretization: f = 0, G = sqrt(sigma_i^2 - sigma_{i-1}^2).
    std::pair<torch::Tensor, torch::Tensor> discretize(const torch::Tensor &x, const torch::Tensor &t) const override;
    double priorStd() const override { return sigmaMax_; }

    torch::Tensor sigma(const torch::Tensor &t) const;
    // sigma_i and sigma_{i-1} (0 for i = 0) at the discrete step of t.
    std::pair<torch::Tensor, torch::Tensor> sigmaAndAdjacent(const torch::Tensor &t) const;

private:
    double sigmaMin_;
    double sigmaMax_;
    torch::Tensor discreteSigmas_;
};

} // namespace sde
