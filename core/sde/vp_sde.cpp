#include "sde/vp_sde.h"

namespace sde {

VpSde::VpSde(double betaMin, double betaMax, int64_t numScales) : Sde(numScales), beta0_(betaMin), beta1_(betaMax)
{
    const double n = static_cast<double>(numScales);
    discreteBetas_ = torch::linspace(betaMin / n, betaMax / n, numScales);
    alphas_ = 1.0 - discreteBetas_;
    torch::Tensor cumprod = torch::cumprod(alphas_, 0);
    sqrtAlphasCumprod_ = torch::sqrt(cumprod);
    sqrtOneMinusAlphasCumprod_ = torch::sqrt(1.0 - cumprod);
}

torch::Tensor VpSde::beta(const torch::Tensor &t) const
{
    return beta0_ + t * (beta1_ - beta0_);
}

torch::Tensor VpSde::logMeanCoefficient(const torch::Tensor &t) const
{
    return -0.25 * t.pow(2) * (beta1_ - beta0_) - 0.5 * t * beta0_;
}

torch::Tensor VpSde::meanCoefficient(const torch::Tensor &t) const
{
    return torch::exp(logMeanCoefficient(t));
}

std::pair<torch::Tensor, torch::Tensor> VpSde::sde(const torch::Tensor &x, const torch::Tensor &t) const
{
    torch::Tensor b = beta(t);
    return {-0.5 * batchView(b, x) * x, torch::sqrt(b)};
}

torch::Tensor VpSde::marginalStd(const torch::Tensor &t) const
{
    return torch::sqrt(1.0 - torch::exp(2.0 * logMeanCoefficient(t)));
}

torch::Tensor VpSde::discreteBeta(const torch::Tensor &t) const
{
    return discreteBetas_.to(t.device()).index_select(0, timestepIndex(t));
}

std::pair<torch::Tensor, torch::Tensor> VpSde::discretize(const torch::Tensor &x, const torch::Tensor &t) const
{
    torch::Tensor b = discreteBeta(t);
    torch::Tensor alpha = 1.0 - b;
    return {batchView(torch::sqrt(alpha), x) * x - x, torch::sqrt(b)};
}

torch::Tensor VpSde::langevinAlpha(const torch::Tensor &t) const
{
    return alphas_.to(t.device()).index_select(0, timestepIndex(t));
}

} // namespace sde
