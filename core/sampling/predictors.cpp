#include "sampling/predictors.h"

#include "sampling/fast_samplers.h"
#include "sde/sde_catalogue.h"
#include "sde/ve_sde.h"
#include "sde/vp_sde.h"
#include "util/batch.h"
#include "util/error.h"

#include <cmath>

namespace sde {

EulerMaruyamaPredictor::EulerMaruyamaPredictor(const Sde &sde, ScoreFn score, bool probabilityFlow)
    : reverse_(sde, std::move(score), probabilityFlow)
{}

std::pair<torch::Tensor, torch::Tensor> EulerMaruyamaPredictor::update(const torch::Tensor &x, const torch::Tensor &t,
                                                                       const NoiseFn &noise) const
{
    const double dt = -1.0 / static_cast<double>(reverse_.forward().N());
    auto [drift, diffusion] = reverse_.sde(x, t);
    torch::Tensor xMean = x + drift * dt;
    if (reverse_.probabilityFlow())
        return {xMean, xMean};
    torch::Tensor z = noise(x);
    return {xMean + batchView(diffusion, x) * std::sqrt(-dt) * z, xMean};
}

ReverseDiffusionPredictor::ReverseDiffusionPredictor(const Sde &sde, ScoreFn score, bool probabilityFlow)
    : reverse_(sde, std::move(score), probabilityFlow)
{}

std::pair<torch::Tensor, torch::Tensor>
ReverseDiffusionPredictor::update(const torch::Tensor &x, const torch::Tensor &t, const NoiseFn &noise) const
{
    auto [f, G] = reverse_.discretize(x, t);
    torch::Tensor xMean = x - f;
    if (reverse_.probabilityFlow())
        return {xMean, xMean};
    torch::Tensor z = noise(x);
    return {xMean + batchView(G, x) * z, xMean};
}

AncestralSamplingPredictor::AncestralSamplingPredictor(const Sde &sde, ScoreFn score)
    : sde_(sde), score_(std::move(score))
{
    if (!sdeDescription(sde.kind()).ancestralSampling)
        throw Error("ancestral sampling is defined for the VE and VP SDEs only, not " +
                    sdeDescription(sde.kind()).title + "; use reverse_diffusion or euler_maruyama");
}

std::pair<torch::Tensor, torch::Tensor>
AncestralSamplingPredictor::update(const torch::Tensor &x, const torch::Tensor &t, const NoiseFn &noise) const
{
    if (sde_.kind() == Sde::Kind::Ve) {
        const auto &ve = static_cast<const VeSde &>(sde_);
        auto [sigma, adjacent] = ve.sigmaAndAdjacent(t);
        torch::Tensor gap = sigma.pow(2) - adjacent.pow(2);
        torch::Tensor score = score_(x, t);
        torch::Tensor xMean = x + score * batchView(gap, x);
        torch::Tensor std = torch::sqrt(adjacent.pow(2) * gap / sigma.pow(2));
        return {xMean + batchView(std, x) * noise(x), xMean};
    }
    const auto &vp = static_cast<const VpSde &>(sde_);
    torch::Tensor beta = vp.discreteBeta(t);
    torch::Tensor score = score_(x, t);
    torch::Tensor xMean = (x + batchView(beta, x) * score) / batchView(torch::sqrt(1.0 - beta), x);
    return {xMean + batchView(torch::sqrt(beta), x) * noise(x), xMean};
}

const std::vector<std::string> &predictorIds()
{
    static const std::vector<std::string> ids{"reverse_diffusion", "euler_maruyama", "ancestral_sampling", "none"};
    return ids;
}

std::unique_ptr<Predictor> createPredictor(const std::string &name, const Sde &sde, ScoreFn score, bool probabilityFlow)
{
    if (name == "euler_maruyama")
        return std::make_unique<EulerMaruyamaPredictor>(sde, std::move(score), probabilityFlow);
    if (name == "reverse_diffusion")
        return std::make_unique<ReverseDiffusionPredictor>(sde, std::move(score), probabilityFlow);
    if (name == "ancestral_sampling") {
        if (probabilityFlow)
            throw Error("ancestral sampling has no probability-flow form; use euler_maruyama or reverse_diffusion");
        return std::make_unique<AncestralSamplingPredictor>(sde, std::move(score));
    }
    if (name == "none")
        return std::make_unique<NonePredictor>();
    throw Error("unknown predictor \"" + name + "\" (expected " + listOfIds(predictorIds()) + ")");
}

} // namespace sde
