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

// The Langevin correctors: n_steps of x <- x + eps s(x, t) + sqrt(2 eps) z at a fixed t. They
// differ in the step size eps:
//  - Langevin (the paper's Algorithm 4): eps = 2 alpha (snr |z| / |s|)^2, norms averaged over the
//    batch;
//  - annealed Langevin dynamics of SMLD/NCSN ("ald"): eps = 2 alpha (snr std(t))^2.
// alpha is 1 for VE and the DDPM alpha_i for VP. The reference fails for sub-VP (it has no alphas
// table); here sub-VP uses the DDPM alphas of its betas.
class LangevinCorrector final : public Corrector {
public:
    enum class StepRule { SignalToNoise, Annealed };
    // The reference averages |z| and |s| over the batch, which couples the samples of a batch;
    // PerSample takes each sample's own norms, as the paper's Algorithm 4 writes it for one sample.
    enum class Norms { BatchMean, PerSample };

    LangevinCorrector(const Sde &sde, ScoreFn score, double snr, int64_t nSteps,
                      StepRule rule = StepRule::SignalToNoise, Norms norms = Norms::BatchMean);
    std::string name() const override { return rule_ == StepRule::SignalToNoise ? "langevin" : "ald"; }
    std::pair<torch::Tensor, torch::Tensor> update(const torch::Tensor &x, const torch::Tensor &t,
                                                   const NoiseFn &noise) const override;
    int evaluationsPerStep() const override { return static_cast<int>(nSteps_); }

private:
    const Sde &sde_;
    ScoreFn score_;
    double snr_;
    int64_t nSteps_;
    StepRule rule_;
    Norms norms_;
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

// The correctors' names as the reference spells them, in the order the studio lists them:
// none, langevin, ald.
const std::vector<std::string> &correctorIds();

// Builds a corrector by the reference's name (langevin, ald, none).
std::unique_ptr<Corrector> createCorrector(const std::string &name, const Sde &sde, ScoreFn score, double snr,
                                           int64_t nSteps,
                                           LangevinCorrector::Norms norms = LangevinCorrector::Norms::BatchMean);

} // namespace sde
