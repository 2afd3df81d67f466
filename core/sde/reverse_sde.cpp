#include "sde/reverse_sde.h"

namespace sde {

std::pair<torch::Tensor, torch::Tensor> ReverseSde::sde(const torch::Tensor &x, const torch::Tensor &t) const
{
    auto [drift, diffusion] = forward_.sde(x, t);
    const double weight = probabilityFlow_ ? 0.5 : 1.0;
    torch::Tensor reverseDrift = drift - batchView(diffusion.pow(2), x) * score_(x, t) * weight;
    return {reverseDrift, probabilityFlow_ ? torch::zeros_like(diffusion) : diffusion};
}

std::pair<torch::Tensor, torch::Tensor> ReverseSde::discretize(const torch::Tensor &x, const torch::Tensor &t) const
{
    auto [f, G] = forward_.discretize(x, t);
    const double weight = probabilityFlow_ ? 0.5 : 1.0;
    torch::Tensor reverseF = f - batchView(G.pow(2), x) * score_(x, t) * weight;
    return {reverseF, probabilityFlow_ ? torch::zeros_like(G) : G};
}

} // namespace sde
