#pragma once

#include "sde/sde.h"

namespace sde {

// The variance-preserving SDE of DDPM: dx = -1/2 beta(t) x dt + sqrt(beta(t)) dw with
// beta(t) = beta_min + t (beta_max - beta_min). Also the base of sub-VP, which shares the
// drift, the mean and the discrete DDPM schedule.
class VpSde : public Sde {
public:
    VpSde(double betaMin, double betaMax, int64_t numScales);

    Kind kind() const override { return Kind::Vp; }
    std::string name() const override { return "vpsde"; }
    double betaMin() const { return beta0_; }
    double betaMax() const { return beta1_; }

    // The DDPM schedule: betas = linspace(beta_min / N, beta_max / N, N), alphas = 1 - betas.
    const torch::Tensor &discreteBetas() const { return discreteBetas_; }
    const torch::Tensor &alphas() const { return alphas_; }
    const torch::Tensor &sqrtAlphasCumprod() const { return sqrtAlphasCumprod_; }
    const torch::Tensor &sqrtOneMinusAlphasCumprod() const { return sqrtOneMinusAlphasCumprod_; }

    std::pair<torch::Tensor, torch::Tensor> sde(const torch::Tensor &x, const torch::Tensor &t) const override;
    torch::Tensor meanCoefficient(const torch::Tensor &t) const override;
    // sqrt(1 - a(t)^2).
    torch::Tensor marginalStd(const torch::Tensor &t) const override;
    // The DDPM discretization: f = (sqrt(alpha_i) - 1) x, G = sqrt(beta_i).
    std::pair<torch::Tensor, torch::Tensor> discretize(const torch::Tensor &x, const torch::Tensor &t) const override;
    torch::Tensor langevinAlpha(const torch::Tensor &t) const override;

    torch::Tensor beta(const torch::Tensor &t) const;
    // log of the mean coefficient: -1/4 t^2 (beta_max - beta_min) - 1/2 t beta_min.
    torch::Tensor logMeanCoefficient(const torch::Tensor &t) const;
    // beta_i at the discrete step of t.
    torch::Tensor discreteBeta(const torch::Tensor &t) const;

protected:
    double beta0_;
    double beta1_;
    torch::Tensor discreteBetas_;
    torch::Tensor alphas_;
    torch::Tensor sqrtAlphasCumprod_;
    torch::Tensor sqrtOneMinusAlphasCumprod_;
};

} // namespace sde
