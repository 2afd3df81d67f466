#include "editing/colorization.h"

#include "editing/inpainting.h"
#include "model/score_model.h"
#include "sampling/core_share.h"
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

namespace {

// What both colorizers share: the gray input as the model's RGB batch, and the decoupled space
// whose channel 0 (the gray level) is known.
struct ColorProblem {
    ColorProblem(const ScoreModel &model, const torch::Tensor &input)
    {
        if (model.sampleShape()[0] != 3)
            throw Error("colorization needs an RGB model; this one has " + std::to_string(model.sampleShape()[0]) +
                        " channel(s)");
        torch::Tensor gray = grayLevel(input).expand({-1, 3, -1, -1});
        requireModelShape(model, gray, "the images to colorize");
        const torch::Device device = model.device();
        M = colorDecouplingMatrix().to(device);
        invM = torch::inverse(M);
        data = decouple(model.scaler(gray.to(device, torch::kFloat32)));
        mask = torch::zeros_like(data);
        mask.select(1, 0).fill_(1.0);
    }
    torch::Tensor decouple(const torch::Tensor &x) const { return torch::einsum("bihw,ij->bjhw", {x, M}); }
    torch::Tensor couple(const torch::Tensor &x) const { return torch::einsum("bihw,ij->bjhw", {x, invM}); }
    // The result with its gray level set to the input's exactly.
    SampleResult finish(const ScoreModel &model, SampleResult result) const
    {
        result.x = couple(decouple(result.x) * (1.0 - mask) + data * mask);
        result.samples = model.inverseScaler(result.x);
        return result;
    }

    torch::Tensor M, invM;
    torch::Tensor data; // the input in the decoupled space; its channel 0 is known
    torch::Tensor mask;
};

} // namespace

SampleResult colorize(const ScoreModel &model, const torch::Tensor &input, uint64_t seed,
                      const PcSamplerOptions &options, const SamplerCallback &onStep, const CancelToken *cancel)
{
    const ColorProblem problem(model, input);
    const torch::Tensor &data = problem.data;
    const torch::Tensor &mask = problem.mask;
    const Sde &sde = model.sde();

    PcConditioning constraint;
    constraint.initial = [&](const torch::Tensor &prior) {
        return problem.couple(data * mask + problem.decouple(prior) * (1.0 - mask));
    };
    constraint.constrain = [&](const torch::Tensor &x, const torch::Tensor &xMean, const torch::Tensor &t,
                               const NoiseFn &noise) {
        auto [knownMean, std] = sde.marginalProb(data, t);
        torch::Tensor known = knownMean + noise(x) * batchView(std, x);
        return std::make_pair(problem.couple(problem.decouple(x) * (1.0 - mask) + known * mask),
                              problem.couple(problem.decouple(xMean) * (1.0 - mask) + knownMean * mask));
    };
    const CoreShare share(model.device(), onStep);
    return problem.finish(model,
                          pcSampleConstrained(model, data.size(0), seed, options, constraint, share.onStep(), cancel));
}

SampleResult colorize(const ScoreModel &model, const torch::Tensor &input, const SamplingSettings &settings,
                      const SamplerCallback &onStep, const CancelToken *cancel)
{
    if (settings.method == "pc")
        return colorize(model, input, settings.seed, settings.pc, onStep, cancel);
    const ColorProblem problem(model, input);
    SamplingSettings run = settings;
    run.batch = problem.data.size(0);
    ScoreFn score = knownDataScore(
        model, problem.data, problem.mask, [&problem](const torch::Tensor &x) { return problem.decouple(x); },
        [&problem](const torch::Tensor &x) { return problem.couple(x); });
    return problem.finish(model, runSamplerWithScore(model, run, score, onStep, cancel));
}

} // namespace sde
