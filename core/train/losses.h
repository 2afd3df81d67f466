#pragma once

#include "data/training_data.h"

#include <torch/torch.h>

namespace sde {

class ScoreModel;

// The training objectives of the reference (losses.py), with the random draws passed in so a
// step can be reproduced exactly. `x0` is data in the model's range; the network's current
// mode (train or eval) is used as it is.

// Continuous denoising score matching: E_t E_z | s(x_t, t) std(t) + z |^2, with
// x_t = mean(x0, t) + std(t) z, reduced per sample by mean or 1/2 sum; with likelihood
// weighting | s + z / std |^2 g(t)^2 instead. t [B] in [eps, 1), z like x0.
torch::Tensor denoisingScoreMatchingLoss(const ScoreModel &model, const torch::Tensor &x0, const torch::Tensor &t,
                                         const torch::Tensor &z, bool reduceMean, bool likelihoodWeighting);

// The SMLD (NCSN) loss for discrete VE models: labels [B] index the descending noise levels.
torch::Tensor smldLoss(const ScoreModel &model, const torch::Tensor &x0, const torch::Tensor &labels,
                       const torch::Tensor &z, bool reduceMean);

// The DDPM (epsilon-prediction) loss for discrete VP models: labels [B] in [0, N).
torch::Tensor ddpmLoss(const ScoreModel &model, const torch::Tensor &x0, const torch::Tensor &labels,
                       const torch::Tensor &z, bool reduceMean);

// The times of the continuous loss: t ~ U[eps, T) with eps = 1e-5, as the reference draws them.
torch::Tensor sampleLossTimes(int64_t batch, const torch::TensorOptions &options,
                              c10::optional<at::Generator> generator = c10::nullopt, double eps = 1e-5);

// The loss the model's config trains with (continuous DSM, SMLD or DDPM), drawing its times or
// labels and noise from `generator`. With `rows`, the mean loss of those rows of x0 alone, their
// draws taken from those of the whole batch: the rows of a data-parallel share see the times and
// noise they would see in a single-process run.
torch::Tensor configuredLoss(const ScoreModel &model, const torch::Tensor &x0,
                             c10::optional<at::Generator> generator = c10::nullopt,
                             c10::optional<BatchSlice> rows = c10::nullopt);

} // namespace sde
