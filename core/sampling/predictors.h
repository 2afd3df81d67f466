#pragma once

#include "sampling/sampling_types.h"
#include "sde/reverse_sde.h"

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace sde {

// One predictor step of the reverse-time SDE from time t (the reference's Predictor classes).
// update() returns (x, x_mean): the next state and the same without the final noise.
class Predictor {
public:
    virtual ~Predictor() = default;
    virtual std::string name() const = 0;
    virtual std::pair<torch::Tensor, torch::Tensor> update(const torch::Tensor &x, const torch::Tensor &t,
                                                           const NoiseFn &noise) const = 0;
    // Score evaluations per update.
    virtual int evaluationsPerStep() const { return 1; }
};

// Euler–Maruyama on the reverse SDE with dt = -1/N (or on the probability-flow ODE, where the
// noise term vanishes; that combination fails in the reference and works here).
class EulerMaruyamaPredictor final : public Predictor {
public:
    EulerMaruyamaPredictor(const Sde &sde, ScoreFn score, bool probabilityFlow = false);
    std::string name() const override { return "euler_maruyama"; }
    std::pair<torch::Tensor, torch::Tensor> update(const torch::Tensor &x, const torch::Tensor &t,
                                                   const NoiseFn &noise) const override;

private:
    ReverseSde reverse_;
};

// The reverse-diffusion predictor: x_mean = x - f_rev, x = x_mean + G z with the SDE's own
// discretization (SMLD for VE, DDPM for VP, Euler for sub-VP).
class ReverseDiffusionPredictor final : public Predictor {
public:
    ReverseDiffusionPredictor(const Sde &sde, ScoreFn score, bool probabilityFlow = false);
    std::string name() const override { return "reverse_diffusion"; }
    std::pair<torch::Tensor, torch::Tensor> update(const torch::Tensor &x, const torch::Tensor &t,
                                                   const NoiseFn &noise) const override;

private:
    ReverseSde reverse_;
};

// Ancestral sampling of SMLD (VE) and DDPM (VP).
class AncestralSamplingPredictor final : public Predictor {
public:
    AncestralSamplingPredictor(const Sde &sde, ScoreFn score);
    std::string name() const override { return "ancestral_sampling"; }
    std::pair<torch::Tensor, torch::Tensor> update(const torch::Tensor &x, const torch::Tensor &t,
                                                   const NoiseFn &noise) const override;

private:
    const Sde &sde_;
    ScoreFn score_;
};

// No predictor step (corrector-only sampling).
class NonePredictor final : public Predictor {
public:
    std::string name() const override { return "none"; }
    std::pair<torch::Tensor, torch::Tensor> update(const torch::Tensor &x, const torch::Tensor &,
                                                   const NoiseFn &) const override
    {
        return {x, x};
    }
    int evaluationsPerStep() const override { return 0; }
};

// The predictors' names as the reference spells them, in the order the studio lists them:
// reverse_diffusion, euler_maruyama, ancestral_sampling, none.
const std::vector<std::string> &predictorIds();

// Builds a predictor by the reference's name (euler_maruyama, reverse_diffusion,
// ancestral_sampling, none); the error lists the names.
std::unique_ptr<Predictor> createPredictor(const std::string &name, const Sde &sde, ScoreFn score,
                                           bool probabilityFlow = false);

} // namespace sde
