#pragma once

#include "sampling/pc_sampler.h"

namespace sde {

class ScoreModel;

// Fills the unknown pixels of images with the PC inpainter of the reference
// (controllable_generation.get_pc_inpainter): after every predictor and corrector update the
// known pixels are replaced by a copy of the data noised to the current time.
//   images [B, C, H, W] in [0, 1], at the model's size and channels;
//   mask   [B or 1, 1 or C, H, W]: 1 marks known pixels, 0 the pixels to fill (values >= 0.5 count
//          as known).
// Two departures from the reference, both deliberate: the noise-free mean of the unknown region
// is the update's own mean (the reference takes the already-noised state there), and the known
// pixels of the result are the input's exactly (the reference returns a(eps) x0 there for VP).
// Sample i uses the noise stream seed + i. Throws sde::Error for shapes that do not fit.
SampleResult inpaint(const ScoreModel &model, const torch::Tensor &images, const torch::Tensor &mask, uint64_t seed,
                     const PcSamplerOptions &options, const SamplerCallback &onStep = nullptr,
                     const CancelToken *cancel = nullptr);

// Checks images against the model's sample shape; `what` names them in the error.
void requireModelShape(const ScoreModel &model, const torch::Tensor &images, const std::string &what);

} // namespace sde
