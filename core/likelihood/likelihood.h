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
    torch::Tensor sampleNfe;  // [B] int64: each sample's own evaluations (imagesBitsPerDim)
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

// The evaluation protocol that the CLI's `bpd` and the studio's Likelihood tab share, for one
// 8-bit image [C, H, W] with values in [0, 1]. With `dequantize` (the default in both, as the
// reference evaluates: run_lib.evaluate reads its bpd data with uniform_dequantization=True,
// datasets.py: x = (255 x + u) / 256, u ~ U[0, 1)^D) the image is first rounded to its nearest
// 8-bit levels (in [0, 255]; a 16-bit file or a generated sample), dequantized, then scaled to
// the model's range, and its bits/dim computed as bitsPerDim does. The dequantization noise and
// then the Hutchinson probe are drawn from one generator seeded with `seed` (image i of a list
// uses seed + i), so a figure is made again by its seed. options.generator is ignored. Throws
// sde::Error for an image that is not [C, H, W] or holds NaN or infinity.
LikelihoodResult imageBitsPerDim(const ScoreModel &model, const torch::Tensor &image, bool dequantize, uint64_t seed,
                                 const LikelihoodOptions &options = {}, const OdeStepCallback &onStep = nullptr);

// How imagesBitsPerDim reports: after every round, each image's ODE time t [n] (float64, CPU, from
// eps to T), how much of their ODEs the images have integrated together (the sum over them of
// (t - eps) / (T - eps): 0 to n) and the evaluations so far (return false to stop); and each image
// as it finishes.
struct ImagesBitsPerDimCallbacks {
    std::function<bool(const torch::Tensor &t, double integrated, int64_t nfe)> onRound;
    std::function<void(int64_t image, double bitsPerDim, int64_t nfe)> onImage;
};

// How many images of a list the CLI's bpd and the studio's Likelihood tab evaluate together
// (images 0-7, 8-15, ...): both group a list alike, so they print the same figures (a batch's
// float rounding can move RK45's steps by the tolerance's order).
constexpr int64_t kBitsPerDimBatch = 8;

// imageBitsPerDim of several images [C, H, W] evaluated together: image i gets exactly what
// imageBitsPerDim(model, images[i], dequantize, seed + i) gives it (its own noise and probe, and
// its own RK45 steps, sized from its own error as solveOde sizes a one-image run), up to the
// float rounding of a batched network, but the network runs once per round for all of them,
// which on the CPU costs about what one image costs (LibTorch sends batches to oneDNN's
// convolutions; a lone image is evaluated in a batch of two, the second row a copy). Returns
// bitsPerDim [n] and sampleNfe [n] (each image's own evaluations); nfe counts the batched
// evaluations. Throws as imageBitsPerDim.
LikelihoodResult imagesBitsPerDim(const ScoreModel &model, const std::vector<torch::Tensor> &images, bool dequantize,
                                  uint64_t seed, const LikelihoodOptions &options = {},
                                  const ImagesBitsPerDimCallbacks &callbacks = {});

} // namespace sde
