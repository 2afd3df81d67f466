#include "editing/inpainting.h"

#include "model/score_model.h"
#include "sampling/core_share.h"
#include "util/batch.h"
#include "util/error.h"
#include "util/shape_text.h"

namespace sde {

void requireModelShape(const ScoreModel &model, const torch::Tensor &images, const std::string &what)
{
    const auto shape = model.sampleShape();
    if (images.dim() != 4 || images.size(1) != shape[0] || images.size(2) != shape[1] || images.size(3) != shape[2])
        throw Error(what + " have shape " + shapeText(images.sizes()) + ", the model takes [B, " +
                    std::to_string(shape[0]) + ", " + std::to_string(shape[1]) + ", " + std::to_string(shape[2]) + "]");
}

namespace {

// The mask as 0 / 1 floats shaped like the images' batch; throws when it does not fit them.
torch::Tensor knownMask(const torch::Tensor &maskIn, const torch::Tensor &images, const torch::Device &device)
{
    if (maskIn.dim() != 4 || (maskIn.size(0) != 1 && maskIn.size(0) != images.size(0)) ||
        (maskIn.size(1) != 1 && maskIn.size(1) != images.size(1)) || maskIn.size(2) != images.size(2) ||
        maskIn.size(3) != images.size(3))
        throw Error("the mask has shape " + shapeText(maskIn.sizes()) + "; it must be [1 or B, 1 or C, " +
                    std::to_string(images.size(2)) + ", " + std::to_string(images.size(3)) + "]");
    return (maskIn.to(device, torch::kFloat32) >= 0.5)
        .to(torch::kFloat32)
        .expand({images.size(0), images.size(1), images.size(2), images.size(3)})
        .contiguous();
}

} // namespace

SampleResult inpaint(const ScoreModel &model, const torch::Tensor &images, const torch::Tensor &maskIn, uint64_t seed,
                     const PcSamplerOptions &options, const SamplerCallback &onStep, const CancelToken *cancel)
{
    requireModelShape(model, images, "the images to inpaint");
    const int64_t batch = images.size(0);
    const torch::Device device = model.device();
    torch::Tensor data = model.scaler(images.to(device, torch::kFloat32));
    torch::Tensor mask = knownMask(maskIn, images, device);
    const Sde &sde = model.sde();

    PcConditioning constraint;
    constraint.initial = [&](const torch::Tensor &prior) { return data * mask + prior * (1.0 - mask); };
    constraint.constrain = [&](const torch::Tensor &x, const torch::Tensor &xMean, const torch::Tensor &t,
                               const NoiseFn &noise) {
        auto [knownMean, std] = sde.marginalProb(data, t);
        torch::Tensor known = knownMean + noise(x) * batchView(std, x);
        return std::make_pair(x * (1.0 - mask) + known * mask, xMean * (1.0 - mask) + knownMean * mask);
    };
    const CoreShare share(device, onStep);
    SampleResult result = pcSampleConstrained(model, batch, seed, options, constraint, share.onStep(), cancel);
    result.x = result.x * (1.0 - mask) + data * mask;
    result.samples = model.inverseScaler(result.x);
    return result;
}

SampleResult inpaint(const ScoreModel &model, const torch::Tensor &images, const torch::Tensor &maskIn,
                     const SamplingSettings &settings, const SamplerCallback &onStep, const CancelToken *cancel)
{
    if (settings.method == "pc")
        return inpaint(model, images, maskIn, settings.seed, settings.pc, onStep, cancel);
    requireModelShape(model, images, "the images to inpaint");
    const torch::Device device = model.device();
    torch::Tensor data = model.scaler(images.to(device, torch::kFloat32));
    torch::Tensor mask = knownMask(maskIn, images, device);
    SamplingSettings run = settings;
    run.batch = images.size(0);
    SampleResult result = runSamplerWithScore(model, run, knownDataScore(model, data, mask), onStep, cancel);
    result.x = result.x * (1.0 - mask) + data * mask;
    result.samples = model.inverseScaler(result.x);
    return result;
}

torch::Tensor knownPixels(const torch::Tensor &fillMask)
{
    return (fillMask <= 0).to(torch::kFloat32);
}

SampleResult inpaintWithFillMask(const ScoreModel &model, const torch::Tensor &images, const torch::Tensor &fillMask,
                                 const SamplingSettings &settings, const SamplerCallback &onStep,
                                 const CancelToken *cancel)
{
    // Written so that NaN, which fails every comparison, is refused too.
    if (!((fillMask >= 0.0) & (fillMask <= 1.0)).all().item<bool>())
        throw Error("the fill mask has weights outside [0, 1] (or NaN)");
    SampleResult result = inpaint(model, images, knownPixels(fillMask), settings, onStep, cancel);
    if (result.completed && result.samples.defined() && result.samples.numel() > 0) {
        const torch::Tensor weight = fillMask.to(result.samples.device(), torch::kFloat32);
        const torch::Tensor known = images.to(result.samples.device(), torch::kFloat32);
        result.samples = weight * result.samples + (1.0 - weight) * known;
    }
    return result;
}

ScoreFn knownDataScore(const ScoreModel &model, torch::Tensor data, torch::Tensor mask, TensorMap into, TensorMap back)
{
    if (!into || !back)
        into = back = [](const torch::Tensor &x) { return x; };
    return [&model, base = model.scoreFn(), data = std::move(data), mask = std::move(mask), into = std::move(into),
            back = std::move(back)](const torch::Tensor &x, const torch::Tensor &t) {
        auto [mean, std] = model.sde().marginalProb(data, t);
        torch::Tensor known = (mean - into(x)) / batchView(std * std, x);
        return back(into(base(x, t)) * (1.0 - mask) + known * mask);
    };
}

} // namespace sde
