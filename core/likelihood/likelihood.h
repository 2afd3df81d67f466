#pragma once

#include "sampling/ode_solver.h"

#include <torch/torch.h>

#include <functional>

namespace sde {

class ScoreModel;

enum class HutchinsonProbe { Rademacher, Gaussian };

struct LikelihoodOptions {
    HutchinsonProbe probe = HutchinsonProbe::Rademacher;
    OdeOptions ode;                         // RK45 with rtol = atol = 1e-5 by default, as the reference
    double eps = 1e-5;                      // the ODE runs from t = eps to T
    c10::optional<at::Generator> generator; // draws the probe
};

struct LikelihoodResult {
    torch::Tensor bitsPerDim; // [B]
    torch::Tensor latent;     // x(T): the ODE's end point, the invertible latent code
    torch::Tensor deltaLogp;  // [B]: the integrated divergence
    int64_t nfe = 0;          // evaluations of the ODE's right-hand side (each: one score + one VJP)
    bool completed = true;
};

// The divergence of f at x by the Hutchinson–Skilling estimator: sum(eps * d<f(x), eps>/dx).
torch::Tensor hutchinsonDivergence(const std::function<torch::Tensor(const torch::Tensor &)> &f, const torch::Tensor &x,
                                   const torch::Tensor &probe);

// Bits per dimension of `data` (in the model's data range) through the probability-flow ODE, as
// the reference's likelihood.py computes them: the ODE and the divergence of its drift are
// integrated together from eps to T, then
//   bpd = -(log p_T(x(T)) + delta_logp) / (D log 2) + 7 - inverse_scaler(-1),
// the last term being the reference's offset for 8-bit data. `probe` fixes the Hutchinson noise
// (else it is drawn from options.generator). `onStep` can watch or stop the integration.
LikelihoodResult bitsPerDim(const ScoreModel &model, const torch::Tensor &data, const LikelihoodOptions &options = {},
                            const torch::Tensor &probe = {}, const OdeStepCallback &onStep = nullptr);

} // namespace sde
