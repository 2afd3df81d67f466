#include "sde/sde.h"

#include "config/model_config.h"
#include "sde/sde_catalogue.h"
#include "sde/subvp_sde.h"
#include "sde/ve_sde.h"
#include "sde/vp_sde.h"
#include "util/error.h"

#include <cmath>

namespace sde {

std::pair<torch::Tensor, torch::Tensor> Sde::marginalProb(const torch::Tensor &x, const torch::Tensor &t) const
{
    return {batchView(meanCoefficient(t), x) * x, marginalStd(t)};
}

torch::Tensor Sde::priorSampling(at::IntArrayRef shape, const torch::TensorOptions &options,
                                 c10::optional<at::Generator> generator) const
{
    return torch::randn(shape, generator, options) * priorStd();
}

torch::Tensor Sde::priorLogp(const torch::Tensor &z) const
{
    // log N(z; 0, s^2 I) = -D/2 log(2 pi s^2) - |z|^2 / (2 s^2), D the dimension of one sample.
    const double s = priorStd();
    const double dims = static_cast<double>(z[0].numel());
    torch::Tensor sq = z.pow(2).flatten(1).sum(1);
    return -dims / 2.0 * std::log(2.0 * M_PI * s * s) - sq / (2.0 * s * s);
}

std::pair<torch::Tensor, torch::Tensor> Sde::discretize(const torch::Tensor &x, const torch::Tensor &t) const
{
    const double dt = 1.0 / static_cast<double>(N());
    auto [drift, diffusion] = sde(x, t);
    return {drift * dt, diffusion * std::sqrt(dt)};
}

torch::Tensor Sde::langevinAlpha(const torch::Tensor &t) const
{
    return torch::ones_like(t);
}

torch::Tensor Sde::timestepIndex(const torch::Tensor &t) const
{
    return (t * static_cast<double>(N() - 1) / T()).to(torch::kLong);
}

std::unique_ptr<Sde> createSde(const ModelConfig &config)
{
    const NetworkConfig &m = config.model;
    switch (sdeDescription(config.training.sde).kind) {
    case Sde::Kind::Ve:
        return std::make_unique<VeSde>(m.sigmaMin, m.sigmaMax, m.numScales);
    case Sde::Kind::Vp:
        return std::make_unique<VpSde>(m.betaMin, m.betaMax, m.numScales);
    case Sde::Kind::SubVp:
        return std::make_unique<SubVpSde>(m.betaMin, m.betaMax, m.numScales);
    }
    throw Error("unknown SDE \"" + config.training.sde + "\"");
}

} // namespace sde
