#pragma once

#include "sampling/predictors.h"

namespace sde {

// One corrector stage (n_steps Langevin MCMC steps at a fixed time t), as the reference's
// Corrector classes. update() returns (x, x_mean).
class Corrector {
public:
    virtual ~Corrector() = default;
    virtual std::string name() const = 0;
    virtual std::pair<torch::Tensor, torch::Tensor> update(const torch::Tensor &x, const torch::Tensor &t,
                                                           const NoiseFn &noise) const = 0;
    virtual int evaluationsPerStep() const = 0;
};

// Langevin dynamics with the step size set by the signal-to-noise ratio rule of the paper
// (Algorithm 4): eps = 2 alpha (snr |z| / |s|)^2, norms averaged over the batch. The reference
// fails for sub-VP (it has no alphas table); here sub-VP uses the DDPM alphas of its betas.
class LangevinCorrector final : public Corrector {
public:
    LangevinCorrector(const Sde &sde, ScoreFn score, double snr, int64_t nSteps);
    std::string name() const override { return "langevin"; }
    std::pair<torch::Tensor, torch::Tensor> update(const torch::Tensor &x, const torch::Tensor &t,
                                                   const NoiseFn &noise) const override;
    int evaluationsPerStep() const override { return static_cast<int>(nSteps_); }

private:
    const Sde &sde_;
    ScoreFn score_;
    double snr_;
    int64_t nSteps_;
};

// The annealed Langevin dynamics of SMLD/NCSN: eps = 2 alpha (snr std(t))^2.
class AnnealedLangevinDynamics final : public Corrector {
public:
    AnnealedLangevinDynamics(const Sde &sde, ScoreFn score, double snr, int64_t nSteps);
    std::string name() const override { return "ald"; }
    std::pair<torch::Tensor, torch::Tensor> update(const torch::Tensor &x, const torch::Tensor &t,
                                                   const NoiseFn &noise) const override;
    int evaluationsPerStep() const override { return static_cast<int>(nSteps_); }

private:
    const Sde &sde_;
    ScoreFn score_;
    double snr_;
    int64_t nSteps_;
};

class NoneCorrector final : public Corrector {
public:
    std::string name() const override { return "none"; }
    std::pair<torch::Tensor, torch::Tensor> update(const torch::Tensor &x, const torch::Tensor &,
                                                   const NoiseFn &) const override
    {
        return {x, x};
    }
    int evaluationsPerStep() const override { return 0; }
};

// Builds a corrector by the reference's name (langevin, ald, none).
std::unique_ptr<Corrector> createCorrector(const std::string &name, const Sde &sde, ScoreFn score, double snr,
                                           int64_t nSteps);

} // namespace sde
