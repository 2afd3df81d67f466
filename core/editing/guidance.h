#pragma once

#include "sampling/pc_sampler.h"
#include "sampling/sampling_settings.h"

namespace sde {

class ScoreModel;

// A time-dependent classifier: logits [B, K] of p_t(y | x) for x [B, ...] at times t [B].
using ClassifierFn = std::function<torch::Tensor(const torch::Tensor &x, const torch::Tensor &t)>;

// The largest classifier guidance scale the CLI and the studio take: far past where samples
// stop changing, and small enough that the guided score stays finite in float32.
constexpr double kMaxGuidanceScale = 50.0;

// The score of p_t(x | y): s(x, t) + scale * grad_x log p_t(y | x), the classifier guidance of
// the paper's class-conditional sampling (scale 1 is exact Bayes; larger sharpens the class).
// labels [B] hold one class per sample. The gradient is taken with autograd. Throws sde::Error
// for a scale outside [0, kMaxGuidanceScale] (or NaN).
ScoreFn guidedScore(const ScoreModel &model, ClassifierFn classifier, torch::Tensor labels, double scale);

// Class-conditional samples with the PC sampler and the guided score.
SampleResult sampleClass(const ScoreModel &model, const ClassifierFn &classifier, const torch::Tensor &labels,
                         double scale, uint64_t seed, const PcSamplerOptions &options,
                         const SamplerCallback &onStep = nullptr, const CancelToken *cancel = nullptr);
// The same with the sampler the settings name (their seed; the batch is the labels').
SampleResult sampleClass(const ScoreModel &model, const ClassifierFn &classifier, const torch::Tensor &labels,
                         double scale, const SamplingSettings &settings, const SamplerCallback &onStep = nullptr,
                         const CancelToken *cancel = nullptr);

} // namespace sde
