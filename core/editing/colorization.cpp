#include "editing/colorization.h"

#include "editing/inpainting.h"
#include "model/score_model.h"
#include "util/batch.h"
#include "util/error.h"

namespace sde {

torch::Tensor colorDecouplingMatrix()
{
    // The reference's float32 values.
    return torch::tensor({5.7735014e-01f, -8.1649649e-01f, 4.7008697e-08f, //
                          5.7735026e-01f, 4.0824834e-01f, 7.0710671e-01f,  //
                          5.7735026e-01f, 4.0824822e-01f, -7.0710683e-01f})
        .view({3, 3});
}

torch::Tensor grayLevel(const torch::Tensor &images)
{
    if (images.dim() != 4 || (images.size(1) != 1 && images.size(1) != 3))
        throw Error("gray levels need images [B, 1 or 3, H, W]");
    return images.size(1) == 1 ? images : images.mean(1, /*keepdim=*/true);
}

SampleResult colorize(const ScoreModel &model, const torch::Tensor &input, uint64_t seed,
                      const PcSamplerOptions &options, const SamplerCallback &onStep, const CancelToken *cancel)
{
    if (model.sampleShape()[0] != 3)
        throw Error("colorization needs an RGB model; this one has " + std::to_string(model.sampleShape()[0])
                    + " channel(s)");
    torch::Tensor gray = grayLevel(input).expand({-1, 3, -1, -1});
    requireModelShape(model, gray, "the images to colorize");
    const torch::Device device = model.device();
    const torch::Tensor M = colorDecouplingMatrix().to(device);
    const torch::Tensor invM = torch::inverse(M);
    auto decouple = [&](const torch::Tensor &x) { return torch::einsum("bihw,ij->bjhw", {x, M}); };
    auto couple = [&](const torch::Tensor &x) { return torch::einsum("bihw,ij->bjhw", {x, invM}); };

    torch::Tensor data = decouple(model.scaler(gray.to(device, torch::kFloat32)));
    torch::Tensor mask = torch::zeros_like(data);
    mask.select(1, 0).fill_(1.0);
    const Sde &sde = model.sde();

    PcConditioning constraint;
    constraint.initial = [&](const torch::Tensor &prior) { return couple(data * mask + decouple(prior) * (1.0 - mask)); };
    constraint.constrain = [&](const torch::Tensor &x, const torch::Tensor &xMean, const torch::Tensor &t,
                               const NoiseFn &noise) {
        auto [knownMean, std] = sde.marginalProb(data, t);
        torch::Tensor known = knownMean + noise(x) * batchView(std, x);
        return std::make_pair(couple(decouple(x) * (1.0 - mask) + known * mask),
                              couple(decouple(xMean) * (1.0 - mask) + knownMean * mask));
    };
    SampleResult result = pcSampleConstrained(model, gray.size(0), seed, options, constraint, onStep, cancel);
    result.x = couple(decouple(result.x) * (1.0 - mask) + data * mask);
    result.samples = model.inverseScaler(result.x);
    return result;
}

} // namespace sde
