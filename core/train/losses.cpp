#include "train/losses.h"

#include "model/score_model.h"
#include "sde/ve_sde.h"
#include "sde/vp_sde.h"
#include "util/batch.h"
#include "util/error.h"

namespace sde {

namespace {

// Per-sample reduction over all data dimensions: mean, or 1/2 sum as the reference does.
torch::Tensor reduce(const torch::Tensor &losses, bool reduceMean)
{
    torch::Tensor flat = losses.reshape({losses.size(0), -1});
    return reduceMean ? flat.mean(-1) : 0.5 * flat.sum(-1);
}

} // namespace

torch::Tensor denoisingScoreMatchingLoss(const ScoreModel &model, const torch::Tensor &x0, const torch::Tensor &t,
                                         const torch::Tensor &z, bool reduceMean, bool likelihoodWeighting)
{
    const Sde &sde = model.sde();
    auto [mean, std] = sde.marginalProb(x0, t);
    torch::Tensor perturbed = mean + batchView(std, z) * z;
    torch::Tensor score = model.score(perturbed, t);
    torch::Tensor losses;
    if (!likelihoodWeighting) {
        losses = reduce((score * batchView(std, score) + z).pow(2), reduceMean);
    } else {
        torch::Tensor g2 = sde.sde(torch::zeros_like(x0), t).second.pow(2);
        losses = reduce((score + z / batchView(std, z)).pow(2), reduceMean) * g2;
    }
    return losses.mean();
}

torch::Tensor smldLoss(const ScoreModel &model, const torch::Tensor &x0, const torch::Tensor &labels,
                       const torch::Tensor &z, bool reduceMean)
{
    if (model.sde().kind() != Sde::Kind::Ve)
        throw Error("the SMLD loss needs a VE SDE");
    const auto &ve = static_cast<const VeSde &>(model.sde());
    torch::Tensor descending = torch::flip(ve.discreteSigmas(), {0}).to(x0.device());
    torch::Tensor sigmas = descending.index_select(0, labels);
    torch::Tensor noise = z * batchView(sigmas, z);
    torch::Tensor score = model.network()->forward(x0 + noise, labels);
    torch::Tensor target = -noise / batchView(sigmas.pow(2), noise);
    torch::Tensor losses = reduce((score - target).pow(2), reduceMean) * sigmas.pow(2);
    return losses.mean();
}

torch::Tensor ddpmLoss(const ScoreModel &model, const torch::Tensor &x0, const torch::Tensor &labels,
                       const torch::Tensor &z, bool reduceMean)
{
    if (model.sde().kind() != Sde::Kind::Vp)
        throw Error("the DDPM loss needs a VP SDE");
    const auto &vp = static_cast<const VpSde &>(model.sde());
    torch::Tensor a = vp.sqrtAlphasCumprod().to(x0.device()).index_select(0, labels);
    torch::Tensor s = vp.sqrtOneMinusAlphasCumprod().to(x0.device()).index_select(0, labels);
    torch::Tensor perturbed = batchView(a, x0) * x0 + batchView(s, z) * z;
    torch::Tensor predicted = model.network()->forward(perturbed, labels);
    return reduce((predicted - z).pow(2), reduceMean).mean();
}

torch::Tensor sampleLossTimes(int64_t batch, const torch::TensorOptions &options,
                              c10::optional<at::Generator> generator, double eps)
{
    return torch::rand({batch}, generator, options) * (1.0 - eps) + eps;
}

torch::Tensor configuredLoss(const ScoreModel &model, const torch::Tensor &x0, c10::optional<at::Generator> generator,
                             c10::optional<BatchSlice> rows)
{
    const TrainingConfig &training = model.config().training;
    const int64_t batch = x0.size(0);
    if (rows && (rows->begin < 0 || rows->end > batch || rows->size() < 1))
        throw Error("rows " + std::to_string(rows->begin) + " to " + std::to_string(rows->end) +
                    " are not rows of a batch of " + std::to_string(batch));
    const bool part = rows && rows->size() < batch;
    // The rows of a share: x0 and the draws of the whole batch narrowed alike.
    const auto share = [&](const torch::Tensor &tensor) {
        return part ? tensor.narrow(0, rows->begin, rows->size()) : tensor;
    };
    // The draws are made where the generator lives (a CPU generator for a CUDA model keeps runs
    // reproducible across devices), then moved to the data.
    const auto drawOptions = generator ? x0.options().device(generator->device()) : x0.options();
    if (training.continuous) {
        torch::Tensor t = sampleLossTimes(batch, drawOptions, generator);
        torch::Tensor z = torch::randn(x0.sizes(), generator, drawOptions);
        return denoisingScoreMatchingLoss(model, share(x0), share(t).to(x0.device()), share(z).to(x0.device()),
                                          training.reduceMean, training.likelihoodWeighting);
    }
    if (training.likelihoodWeighting)
        throw Error("likelihood weighting is not supported for discrete SMLD/DDPM training");
    torch::Tensor labels =
        share(torch::randint(0, model.sde().N(), {batch}, generator, drawOptions.dtype(torch::kLong))).to(x0.device());
    torch::Tensor z = share(torch::randn(x0.sizes(), generator, drawOptions)).to(x0.device());
    switch (model.sde().kind()) {
    case Sde::Kind::Ve:
        return smldLoss(model, share(x0), labels, z, training.reduceMean);
    case Sde::Kind::Vp:
        return ddpmLoss(model, share(x0), labels, z, training.reduceMean);
    case Sde::Kind::SubVp:
        break;
    }
    throw Error("discrete training is not defined for the sub-VP SDE");
}

} // namespace sde
