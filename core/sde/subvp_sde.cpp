#include "sde/subvp_sde.h"

namespace sde {

std::pair<torch::Tensor, torch::Tensor> SubVpSde::sde(const torch::Tensor &x, const torch::Tensor &t) const
{
    torch::Tensor b = beta(t);
    torch::Tensor discount = 1.0 - torch::exp(-2.0 * beta0_ * t - (beta1_ - beta0_) * t.pow(2));
    return {-0.5 * batchView(b, x) * x, torch::sqrt(b * discount)};
}

torch::Tensor SubVpSde::marginalStd(const torch::Tensor &t) const
{
    return 1.0 - torch::exp(2.0 * logMeanCoefficient(t));
}

} // namespace sde
