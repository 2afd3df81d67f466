#pragma once

#include "sampling/sampling_types.h"
#include "sde/sde.h"

#include <string>
#include <utility>
#include <vector>

namespace sde {

class ScoreModel;

// Samplers that reach the reference's quality in tens of score evaluations instead of
// thousands. All of them see the model through its denoiser, the Tweedie estimate
// x0(x, t) = (x + sigma(t)^2 s(x, t)) / alpha(t), on the schedule x_t = alpha(t) x_0 + sigma(t) z
// of any SDE (NoiseSchedule), and all end on that estimate at the last time eps, so a result
// carries no leftover noise:
//   dpm2m, dpm3m  DPM-Solver++ multistep of order 2 and 3 (Lu et al. 2022) on a time grid of
//                 the user's choice: EDM's sigma^(1/rho) grid by default, or uniform in log-SNR
//                 as Lu et al. step; the first steps (and, below 10 steps, the last) use lower
//                 orders. One evaluation per step.
//   dpm2s         DPM-Solver++(2S), singlestep second order with the midpoint in log-SNR, on the
//                 same grids. Two evaluations per step, one more at the end.
//   edm           the Heun sampler of Karras et al. 2022 on the sigma^(1/rho) grid of the scaled
//                 state x / alpha, with optional stochastic churn (S_churn; churn never raises
//                 the noise above the prior's). Two evaluations per step, the last is one Euler
//                 step to sigma 0.
//   ddim          DDIM (Song et al. 2021) on steps uniform in t; eta 0 is deterministic, eta 1
//                 ancestral sampling. One evaluation per step.
//   adaptive      the reverse SDE with error control (Jolicoeur-Martineau et al. 2021): improved
//                 Euler with a step size per sample, accepted while the L2 error scaled by
//                 max(atol, rtol max(|x'|, |x|)) is at most 1; two evaluations per try, one more
//                 for the final Tweedie step.
struct FastSamplerOptions {
    std::string solver = "dpm2m";
    int64_t steps = 20; // time points of the grid (see stepsForNfe); not used by adaptive
    double eta = 0.0;   // ddim
    double churn = 0.0; // edm: S_churn (0: deterministic)
    double rho = 7.0;   // edm, and the dpm samplers on the karras grid
    // dpm2m, dpm3m, dpm2s: "karras" (the sigma^(1/rho) grid) or "logsnr" (uniform in log-SNR).
    // On the bundled Fashion-MNIST model the Karras grid gives FD-FMNIST 1.69 against 2.43 at 5
    // NFE and 0.40 against 0.45 at 10, and the same within noise from 20 NFE (bench_quality_per_nfe).
    std::string grid = "karras";
    double rtol = 0.05;   // adaptive
    double atol = 0.0078; // adaptive (in the model's range)
    double eps = 0.0;     // the last time; 0: 1e-5 for VE, 1e-3 otherwise
    double temperature = 1.0;
};

// The solver ids, in the order the studio lists them, and a name for people.
const std::vector<std::string> &fastSolverIds();
// Ids as a sentence lists them: "dpm2m, dpm3m, dpm2s, edm, ddim or adaptive".
std::string listOfIds(const std::vector<std::string> &ids);
std::string fastSolverTitle(const std::string &solver);
bool isFastSolver(const std::string &solver);
// The DPM-Solver++ samplers walk a time grid of the user's choice (FastSamplerOptions::grid):
// "logsnr", uniform in log-SNR, or "karras", the sigma^(1/rho) grid EDM uses.
bool usesTimeGrid(const std::string &solver);
const std::vector<std::string> &timeGridIds();
bool isTimeGrid(const std::string &grid);
std::string timeGridTitle(const std::string &grid);

// Score evaluations of a run with `steps` grid points (0 for adaptive: it decides as it goes).
int64_t plannedNfe(const std::string &solver, int64_t steps);
// The most grid points whose run stays within `nfe` evaluations (at least the solver's minimum).
int64_t stepsForNfe(const std::string &solver, int64_t nfe);
// The evaluations of a fixed-grid fast sampler's smallest and largest grid (its steps knob's
// range), the budgets it can take; {0, 0} for the adaptive one, which plans none.
std::pair<int64_t, int64_t> plannedNfeRange(const std::string &solver);

// Samples `batch` images; sample i draws its prior (and, for edm with churn, ddim with eta > 0
// and adaptive, all its noise) from a generator seeded with seed + i. `onStep` sees each step's
// state in the model's range with its Tweedie estimate; `cancel` stops within one step.
SampleResult fastSample(const ScoreModel &model, int64_t batch, uint64_t seed, const FastSamplerOptions &options,
                        const SamplerCallback &onStep = nullptr, const CancelToken *cancel = nullptr);

// The same with `score` in place of the model's score (a guided or constrained one, see
// editing/); the denoiser is (x + sigma^2 score) / alpha as before.
SampleResult fastSampleWithScore(const ScoreModel &model, const ScoreFn &score, int64_t batch, uint64_t seed,
                                 const FastSamplerOptions &options, const SamplerCallback &onStep = nullptr,
                                 const CancelToken *cancel = nullptr);

// The same from a given state at T (a latent of the probability-flow ODE, e.g. from
// encodeLatent) instead of a prior sample; the temperature scales it. The deterministic
// samplers decode the latent; the stochastic ones draw their noise from seed + i.
SampleResult fastSampleFrom(const ScoreModel &model, const torch::Tensor &latent, const FastSamplerOptions &options,
                            const SamplerCallback &onStep = nullptr, const CancelToken *cancel = nullptr,
                            uint64_t seed = 0);

} // namespace sde
