#include "sde/ve_sde.h"

#include <cmath>

namespace sde {

VeSde::VeSde(double sigmaMin, double sigmaMax, int64_t numScales)
    : Sde(numScales), sigmaMin_(sigmaMin), sigmaMax_(sigmaMax)
{
    discreteSigmas_ = torch::exp(torch::linspace(std::log(sigmaMin), std::log(sigmaMax), numScales));
}

torch::Tensor VeSde::sigma(const torch::Tensor &t) const
{
    return sigmaMin_ * torch::pow(torch::full_like(t, sigmaMax_ / sigmaMin_), t);
}

std::pair<torch::Tensor, torch::Tensor> VeSde::sde(const torch::Tensor &x, const torch::Tensor &t) const
{
    // g(t) = sigma(t) sqrt(2 log(sigma_max / sigma_min)).
    torch::Tensor diffusion =
        sigma(t) * static_cast<float>(std::sqrt(2.0 * (std::log(sigmaMax_) - std::log(sigmaMin_))));
    return {torch::zeros_like(x), diffusion};
}

std::pair<torch::Tensor, torch::Tensor> VeSde::sigmaAndAdjacent(const torch::Tensor &t) const
{
    torch::Tensor index = timestepIndex(t);
    torch::Tensor table = discreteSigmas_.to(t.device());
    torch::Tensor sigma = table.index_select(0, index);
    torch::Tensor previous = table.index_select(0, (index - 1).clamp_min(0));
    torch::Tensor adjacent = torch::where(index == 0, torch::zeros_like(t), previous);
    return {sigma, adjacent};
}

std::pair<torch::Tensor, torch::Tensor> VeSde::discretize(const torch::Tensor &x, const torch::Tensor &t) const
{
    auto [sigma, adjacent] = sigmaAndAdjacent(t);
    return {torch::zeros_like(x), torch::sqrt(sigma.pow(2) - adjacent.pow(2))};
}

} // namespace sde
