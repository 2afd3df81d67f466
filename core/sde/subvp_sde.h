#pragma once

#include "sde/vp_sde.h"

namespace sde {

// The sub-VP SDE of Song et al. 2021 (eq. 29): the VP drift with a diffusion discounted by
// (1 - exp(-2 int beta)), whose marginal std 1 - exp(2 log a(t)) never exceeds the VP one.
// Its discretization is the generic Euler–Maruyama one, as in the reference.
class SubVpSde final : public VpSde {
public:
    using VpSde::VpSde;

    Kind kind() const override { return Kind::SubVp; }
    std::string name() const override { return "subvpsde"; }

    std::pair<torch::Tensor, torch::Tensor> sde(const torch::Tensor &x, const torch::Tensor &t) const override;
    // 1 - a(t)^2 (the reference's formula: this is the std, not the variance).
    torch::Tensor marginalStd(const torch::Tensor &t) const override;
    std::pair<torch::Tensor, torch::Tensor> discretize(const torch::Tensor &x, const torch::Tensor &t) const override
    {
        return Sde::discretize(x, t);
    }
};

} // namespace sde
