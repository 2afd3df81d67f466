#pragma once

#include "sampling/ode_solver.h"
#include "sampling/sampling_types.h"
#include "sde/sde.h"

namespace sde {

class ScoreModel;

struct OdeSamplerOptions {
    OdeOptions ode;            // RK45 (rtol = atol = 1e-5) by default, or fixed-step Euler / Heun
    bool noiseRemoval = false; // one reverse-diffusion step without noise at eps (the reference's denoise)
    double eps = 0.0;          // 0: 1e-5 for VE, 1e-3 otherwise
    double temperature = 1.0;  // scales the prior sample or the given latent
};

// Samples by integrating the probability-flow ODE from T to eps (the reference's
// get_ode_sampler), starting from a prior sample (sample i from a generator seeded with seed + i)
// or from `latent` when given. The state is float64 as in the reference; each evaluation runs in
// float32 on the model's device. RK45 sizes each sample's steps from its own error
// (solveOdePerSample), so sample i is the same whatever its batch; the reference adapts one step
// size for the whole batch. Euler and Heun do not couple samples. `onStep` sees every round with
// an accepted step; `cancel` stops within one round (6 evaluations).
SampleResult odeSample(const ScoreModel &model, int64_t batch, uint64_t seed, const OdeSamplerOptions &options,
                       const SamplerCallback &onStep = nullptr, const CancelToken *cancel = nullptr,
                       const torch::Tensor &latent = {});

// The same from a prior sample with `score` in place of the model's score (a guided or
// constrained one, see editing/). Such a score may hold data per sample (a label, known pixels),
// so every RK45 evaluation passes it the whole batch, the finished samples at their last state:
// the rounds in which few samples are still running cost a full batch's evaluation.
SampleResult odeSampleWithScore(const ScoreModel &model, const ScoreFn &score, int64_t batch, uint64_t seed,
                                const OdeSamplerOptions &options, const SamplerCallback &onStep = nullptr,
                                const CancelToken *cancel = nullptr);

// The latent code of data (in the model's range): the probability-flow ODE from eps to T.
// Decoding it with odeSample(..., latent) gives the data back within the solver's tolerance.
SampleResult encodeLatent(const ScoreModel &model, const torch::Tensor &data, const OdeSamplerOptions &options,
                          const SamplerCallback &onStep = nullptr, const CancelToken *cancel = nullptr);

} // namespace sde
