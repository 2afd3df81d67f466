#include "sampling/ode_sampler.h"

#include "sampling/sampler_catalogue.h"
#include "sampling/sampling_memory.h"
#include "sampling/sampling_settings.h"

#include "model/score_model.h"
#include "sampling/predictors.h"
#include "sampling/score_cache.h"
#include "sde/reverse_sde.h"
#include "util/error.h"

namespace sde {

namespace {

// Integrates the probability-flow ODE from `from` to `to`, starting at x (float32, model range).
// `score` replaces the model's score when given.
SampleResult integrateFlow(const ScoreModel &model, const ScoreFn &score, const torch::Tensor &x, double from,
                           double to, const OdeSamplerOptions &options, const SamplerCallback &onStep,
                           const CancelToken *cancel)
{
    requireMemoryForSampling(model.config(), x.size(0), model.device());
    torch::NoGradGuard noGrad;
    ScoreCache cache(model, score);
    ReverseSde flow(model.sde(), cache.scoreFn(), /*probabilityFlow=*/true);
    const int64_t batch = x.size(0);
    const auto shape = x.sizes().vec();
    const auto floatOptions = x.options().dtype(torch::kFloat32);
    // Every sample is its own ODE (per-sample step control), so image i is the same whatever its
    // batch. A given score may hold data per sample (a label, known pixels), so it sees the whole
    // batch: the samples not being evaluated at their current state and time.
    torch::Tensor current = x.to(torch::kFloat64);
    torch::Tensor currentT = torch::full({batch}, from, torch::TensorOptions().dtype(torch::kFloat64));
    BatchOdeFunction rhs = [&](const torch::Tensor &t, const torch::Tensor &state, const torch::Tensor &rows) {
        std::vector<int64_t> rowShape = shape;
        rowShape[0] = state.size(0);
        torch::Tensor xt = state.view(rowShape).to(torch::kFloat32);
        torch::Tensor tt = t.to(floatOptions);
        if (score && state.size(0) < batch) {
            torch::Tensor whole = current.view(shape).to(torch::kFloat32).index_copy(0, rows, xt);
            torch::Tensor wholeT = currentT.to(floatOptions).index_copy(0, rows, tt);
            return flow.sde(whole, wholeT).first.index_select(0, rows).to(torch::kFloat64);
        }
        return flow.sde(xt, tt).first.to(torch::kFloat64);
    };
    const int64_t planned = options.ode.method == OdeMethod::Rk45 ? 0 : options.ode.steps;
    BatchOdeStepCallback stepCallback = [&](int64_t step, const torch::Tensor &t, const torch::Tensor &y, int64_t nfe) {
        current = y;
        currentT = t;
        if (onStep) {
            SamplerStep info;
            info.step = step;
            info.totalSteps = planned;
            // The progress shown is the sample furthest from the end.
            info.t = to < from ? t.max().item<double>() : t.min().item<double>();
            info.x = y.view(shape).to(torch::kFloat32);
            info.nfe = nfe;
            info.denoised = cache.tweedie(info.x, t.to(floatOptions));
            onStep(info);
        }
        return !(cancel && cancel->requested());
    };
    OdeResult solution = solveOdePerSample(rhs, from, to, current, options.ode, stepCallback,
                                           [cancel] { return cancel && cancel->requested(); });
    SampleResult result;
    result.x = solution.y.view(shape).to(torch::kFloat32);
    result.nfe = solution.nfe;
    result.steps = solution.steps;
    result.completed = solution.completed;
    return result;
}

SampleResult sampleFlow(const ScoreModel &model, const ScoreFn &score, int64_t batch, uint64_t seed,
                        const OdeSamplerOptions &options, const SamplerCallback &onStep, const CancelToken *cancel,
                        const torch::Tensor &latent)
{
    SamplingSettings settings;
    settings.method = "ode";
    settings.ode = options;
    settings.batch = latent.defined() ? std::max<int64_t>(1, latent.dim() > 0 ? latent.size(0) : 1) : batch;
    checkSamplingSettings(settings);
    const double eps = options.eps > 0.0 ? options.eps : model.config().samplingEps();
    const torch::Device device = model.device();
    std::vector<int64_t> shape = model.sampleShape();
    torch::Tensor x;
    if (latent.defined()) {
        std::vector<int64_t> expected = shape;
        expected.insert(expected.begin(), latent.dim() > 0 ? latent.size(0) : 0);
        if (latent.sizes().vec() != expected)
            throw Error("the latent has the wrong shape for this model");
        x = latent.to(device, torch::kFloat32) * options.temperature;
    } else {
        if (batch < 1)
            throw Error("the batch size must be at least 1");
        shape.insert(shape.begin(), batch);
        NoiseStreams streams(seed, batch);
        x = streams.randn(shape, torch::TensorOptions().dtype(torch::kFloat32).device(device)) *
            (model.sde().priorStd() * options.temperature);
    }
    SampleResult result = integrateFlow(model, score, x, model.sde().T(), eps, options, onStep, cancel);
    if (result.completed && options.noiseRemoval) {
        torch::NoGradGuard noGrad;
        ReverseDiffusionPredictor denoise(model.sde(), score ? score : model.scoreFn(), false);
        torch::Tensor vt = torch::full({result.x.size(0)}, eps, result.x.options());
        result.x =
            denoise.update(result.x, vt, [](const torch::Tensor &like) { return torch::zeros_like(like); }).second;
        ++result.nfe;
        // The solver checks every evaluation it makes; this one is outside it.
        requireFiniteState(result.x, result.steps, 0, eps);
    }
    result.samples = model.inverseScaler(result.x);
    return result;
}

} // namespace

SampleResult odeSample(const ScoreModel &model, int64_t batch, uint64_t seed, const OdeSamplerOptions &options,
                       const SamplerCallback &onStep, const CancelToken *cancel, const torch::Tensor &latent)
{
    return sampleFlow(model, nullptr, batch, seed, options, onStep, cancel, latent);
}

SampleResult odeSampleWithScore(const ScoreModel &model, const ScoreFn &score, int64_t batch, uint64_t seed,
                                const OdeSamplerOptions &options, const SamplerCallback &onStep,
                                const CancelToken *cancel)
{
    return sampleFlow(model, score, batch, seed, options, onStep, cancel, {});
}

SampleResult encodeLatent(const ScoreModel &model, const torch::Tensor &data, const OdeSamplerOptions &options,
                          const SamplerCallback &onStep, const CancelToken *cancel)
{
    std::vector<int64_t> expected = model.sampleShape();
    if (data.dim() != 4 || data.sizes().slice(1).vec() != expected)
        throw Error("the images have the wrong shape for this model");
    const double eps = options.eps > 0.0 ? options.eps : model.config().samplingEps();
    SampleResult result = integrateFlow(model, nullptr, data.to(model.device(), torch::kFloat32), eps, model.sde().T(),
                                        options, onStep, cancel);
    result.samples = result.x; // a latent has no image range
    return result;
}

} // namespace sde
