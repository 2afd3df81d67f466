#pragma once

#include "sampling/fast_samplers.h"
#include "sampling/ode_sampler.h"

#include <vector>

namespace sde {

class ScoreModel;

// Spherical interpolation between latents z0 and z1 ([B, ...] or one sample each), per sample:
// sin((1 - a) theta) / sin(theta) z0 + sin(a theta) / sin(theta) z1, theta the angle between
// them; linear when they are (nearly) parallel.
torch::Tensor slerp(const torch::Tensor &z0, const torch::Tensor &z1, double alpha);

// `count` positions evenly spaced from 0 to 1, both included (count >= 2): 0, 1/(count - 1), ..., 1.
std::vector<double> evenPositions(int64_t count);

struct Interpolation {
    torch::Tensor latents;      // [2, C, H, W]: the codes of the two images
    torch::Tensor frames;       // [F, C, H, W] in [0, 1]: the decoded interpolation
    std::vector<double> alphas; // the F positions
    int64_t nfe = 0;
    bool completed = true;
};

// Encodes two images [C, H, W] in [0, 1] with the probability-flow ODE, interpolates their
// latents spherically at `alphas`, scales them by options.temperature and decodes them.
// alpha 0 and 1 give back the inputs within the solver's tolerance.
Interpolation interpolateImages(const ScoreModel &model, const torch::Tensor &first, const torch::Tensor &second,
                                const std::vector<double> &alphas, const OdeSamplerOptions &options,
                                const SamplerCallback &onStep = nullptr, const CancelToken *cancel = nullptr);

// The decoding half of interpolateImages: latents [2, C, H, W] (two codes from encodeLatent)
// interpolated at `alphas`, scaled by options.temperature and decoded in one batch. The studio
// encodes once and decodes again when the temperature changes.
Interpolation decodeInterpolation(const ScoreModel &model, const torch::Tensor &latents,
                                  const std::vector<double> &alphas, const OdeSamplerOptions &options,
                                  const SamplerCallback &onStep = nullptr, const CancelToken *cancel = nullptr);

// The same decoded by a deterministic fast solver of the probability-flow ODE (DPM-Solver++,
// EDM Heun without churn, DDIM with eta 0) in its fixed budget instead of RK45: tens of
// evaluations per frame instead of hundreds, each frame independent of the others (the studio's
// temperature slider decodes the shown frame first). Throws sde::Error for a solver that draws
// noise (adaptive, EDM with churn, DDIM with eta > 0): it would not decode the latent.
Interpolation decodeInterpolation(const ScoreModel &model, const torch::Tensor &latents,
                                  const std::vector<double> &alphas, const FastSamplerOptions &options,
                                  const SamplerCallback &onStep = nullptr, const CancelToken *cancel = nullptr);

// Whether `options` decode a latent deterministically (see above).
bool decodesDeterministically(const FastSamplerOptions &options);

} // namespace sde
