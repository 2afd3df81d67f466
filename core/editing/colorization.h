#pragma once

#include "sampling/pc_sampler.h"
#include "sampling/sampling_settings.h"

namespace sde {

class ScoreModel;

// The reference's orthogonal 3x3 matrix M whose first column is (1, 1, 1) / sqrt(3): in the
// decoupled space x M, channel 0 carries the gray level and channels 1, 2 the color.
torch::Tensor colorDecouplingMatrix();

// The gray level a colorization keeps: the mean of R, G and B (images [B, 3, H, W]), or the
// image itself when it has one channel.
torch::Tensor grayLevel(const torch::Tensor &images);

// Colorizes gray images with the PC colorizer of the reference
// (controllable_generation.get_pc_colorizer): in the decoupled space the gray channel is held to
// a noised copy of the input after every update while the color channels are sampled.
//   gray [B, 1 or 3, H, W] in [0, 1] (3 channels are turned to gray first); the model must be RGB.
// As in inpaint(), the mean uses the update's own mean, and the result's gray level is the
// input's exactly. Sample i uses the noise stream seed + i.
SampleResult colorize(const ScoreModel &model, const torch::Tensor &gray, uint64_t seed,
                      const PcSamplerOptions &options, const SamplerCallback &onStep = nullptr,
                      const CancelToken *cancel = nullptr);

// The same with the sampler the settings name (their seed; the batch is the images'): "pc" is the
// colorizer above with settings.pc; the probability-flow ODE and the fast samplers hold the gray
// channel of the decoupled space with knownDataScore().
SampleResult colorize(const ScoreModel &model, const torch::Tensor &gray, const SamplingSettings &settings,
                      const SamplerCallback &onStep = nullptr, const CancelToken *cancel = nullptr);

} // namespace sde
