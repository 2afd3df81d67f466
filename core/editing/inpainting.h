#pragma once

#include "sampling/pc_sampler.h"
#include "sampling/sampling_settings.h"

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

// The same with the sampler the settings name (their seed; the batch is the images'): "pc" is the
// inpainter above with settings.pc; the probability-flow ODE and the fast samplers run with
// knownDataScore(), so every denoised estimate holds the known pixels exactly. Unlike the
// reference's replacement, no noise is drawn for the known pixels, and the deterministic
// samplers stay deterministic; but a deterministic sampler cannot correct a fill that started to
// disagree with the kept pixels, so samplers that draw noise (DDIM with eta 1, PC) fill closer to
// the truth (README: inpainting per sampler).
SampleResult inpaint(const ScoreModel &model, const torch::Tensor &images, const torch::Tensor &mask,
                     const SamplingSettings &settings, const SamplerCallback &onStep = nullptr,
                     const CancelToken *cancel = nullptr);

// The front ends' masks (the CLI's --mask, the studio's painted mask, mask PNGs) are fill masks:
//   fillMask [B or 1, 1 or C, H, W] in [0, 1], the weight of the generated content at each pixel:
//   0 keeps the known pixel, 1 generates it, and values between blend the two in the result,
//     result = fillMask * generated + (1 - fillMask) * known.
// The sampler generates every pixel of nonzero weight and holds the others to the image, so its
// known-pixel mask (inpaint()'s `mask`, the reference's convention) is knownPixels(fillMask).
// A mask file's gray value m in 0..255 is the weight m / 255 (imaging/mask_file.h).

// 1 where fillMask is 0 (a known pixel), 0 where it is above 0 (a pixel to generate); same shape.
torch::Tensor knownPixels(const torch::Tensor &fillMask);

// Inpainting with a fill mask, as the CLI and the studio run it: inpaint() with settings on the
// region fillMask > 0, then the samples blended with the images by the fill mask (above), so
// pixels of weight 0 are the images' exactly and soft mask edges fade the generated content in.
// images [B, C, H, W] in [0, 1] at the model's shape. When the run completes, result.samples is
// the blend ([B, C, H, W] in [0, 1]); result.x stays the sampler's state. Throws sde::Error for
// shapes that do not fit (fillMask as inpaint()'s `mask`) and for weights outside [0, 1].
SampleResult inpaintWithFillMask(const ScoreModel &model, const torch::Tensor &images, const torch::Tensor &fillMask,
                                 const SamplingSettings &settings, const SamplerCallback &onStep = nullptr,
                                 const CancelToken *cancel = nullptr);

// A linear map of states, e.g. into the decoupled colors of colorization and back.
using TensorMap = std::function<torch::Tensor(const torch::Tensor &)>;

// The model's score with its known part replaced by the score of the data itself, noised to t:
// in the space `into` maps to (orthogonal; the identity when not given, `back` its inverse),
//   s'(x, t) = (1 - mask) s(x, t) + mask (a(t) data - x) / std(t)^2,
// whose Tweedie estimate (x + std^2 s') / a is `data` wherever mask is 1. data and mask have the
// batch's shape.
ScoreFn knownDataScore(const ScoreModel &model, torch::Tensor data, torch::Tensor mask, TensorMap into = nullptr,
                       TensorMap back = nullptr);

// Checks images against the model's sample shape; `what` names them in the error.
void requireModelShape(const ScoreModel &model, const torch::Tensor &images, const std::string &what);

} // namespace sde
