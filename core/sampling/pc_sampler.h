#pragma once

#include "sampling/sampling_types.h"
#include "sde/sde.h"

#include <string>

namespace sde {

class ScoreModel;
struct ModelConfig;

struct PcSamplerOptions {
    std::string predictor = "reverse_diffusion"; // euler_maruyama | reverse_diffusion | ancestral_sampling | none
    std::string corrector = "langevin";          // langevin | ald | none
    double snr = 0.16;
    int64_t correctorSteps = 1; // corrector steps per noise level
    int64_t steps = 0;          // number of noise levels N; 0: the model's num_scales
    bool noiseRemoval = true;   // return the last step's mean (no final noise)
    bool probabilityFlow = false;
    double eps = 0.0;         // the last time; 0: 1e-5 for VE, 1e-3 otherwise
    double temperature = 1.0; // scales the prior sample

    // The sampling section of a config (the reference's defaults for that model).
    static PcSamplerOptions fromConfig(const ModelConfig &config);
};

// The fewest steps the PC sampler takes for a model with these options: with the VP SDE, a
// predictor or corrector that uses its DDPM schedule needs beta_max / N < 1 (21 steps for
// beta_max 20); otherwise 2. pcSample refuses fewer with an error that says so.
int64_t minimumPcSteps(const ModelConfig &config, const PcSamplerOptions &options);

// The predictor-corrector sampler of the reference (get_pc_sampler): from a prior sample at T,
// for each of N times linspace(T, eps, N): a corrector stage, then a predictor step; finally
// the inverse scaler. Sample i draws all its noise from its own stream seeded with seed + i.
// The Langevin corrector uses per-sample norms here, so a sample does not depend on its batch.
// `onStep` sees every step (x_t after the corrector at time t, with the Tweedie estimate from
// the predictor's own score evaluation); `cancel` stops the run within one step.
SampleResult pcSample(const ScoreModel &model, int64_t batch, uint64_t seed, const PcSamplerOptions &options,
                      const SamplerCallback &onStep = nullptr, const CancelToken *cancel = nullptr);

// Conditional generation with the PC sampler (the reference's pc_inpainter and pc_colorizer, and
// classifier guidance): `initial` turns the prior sample (already scaled by the prior std and the
// temperature) into the starting state, `constrain` maps (x, x_mean, t [B], noise) to the
// constrained pair after every corrector and predictor update, and `score`, when set, replaces
// the model's score (e.g. a guided one). Each part is optional. The noise streams are the
// sampler's, so results are reproducible per sample.
struct PcConditioning {
    ScoreFn score;
    std::function<torch::Tensor(const torch::Tensor &prior)> initial;
    std::function<std::pair<torch::Tensor, torch::Tensor>(const torch::Tensor &x, const torch::Tensor &xMean,
                                                          const torch::Tensor &t, const NoiseFn &noise)>
        constrain;
};
SampleResult pcSampleConstrained(const ScoreModel &model, int64_t batch, uint64_t seed, const PcSamplerOptions &options,
                                 const PcConditioning &constraint, const SamplerCallback &onStep = nullptr,
                                 const CancelToken *cancel = nullptr);

} // namespace sde
