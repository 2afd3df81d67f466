#include "sampling/pc_sampler.h"

#include "sampling/sampler_catalogue.h"
#include "sampling/sampling_memory.h"
#include "sampling/sampling_settings.h"
#include "sde/sde_catalogue.h"

#include "model/score_model.h"
#include "sampling/correctors.h"
#include "sampling/predictors.h"
#include "sampling/score_cache.h"
#include "util/error.h"

#include <cmath>

namespace sde {

int64_t minimumPcSteps(const ModelConfig &config, const PcSamplerOptions &options)
{
    // The DDPM schedule of the VP SDE (and of sub-VP, which borrows it), beta_i up to
    // beta_max / N, needs beta_i < 1: with fewer steps reverse diffusion, ancestral sampling and
    // Langevin take square roots of negative numbers and every pixel turns NaN or black (the
    // reference does the same, silently).
    const bool usesSchedule = options.predictor == "reverse_diffusion" || options.predictor == "ancestral_sampling" ||
                              options.corrector != "none";
    if (!usesSchedule)
        return 2;
    return fewestScheduleSteps(sdeDescription(config.training.sde), config.model.betaMax);
}

PcSamplerOptions PcSamplerOptions::fromConfig(const ModelConfig &config)
{
    PcSamplerOptions o;
    o.predictor = config.sampling.predictor;
    o.corrector = config.sampling.corrector;
    o.snr = config.sampling.snr;
    o.correctorSteps = config.sampling.nStepsEach;
    o.noiseRemoval = config.sampling.noiseRemoval;
    o.probabilityFlow = config.sampling.probabilityFlow;
    return o;
}

SampleResult pcSample(const ScoreModel &model, int64_t batch, uint64_t seed, const PcSamplerOptions &options,
                      const SamplerCallback &onStep, const CancelToken *cancel)
{
    return pcSampleConstrained(model, batch, seed, options, PcConditioning{}, onStep, cancel);
}

SampleResult pcSampleConstrained(const ScoreModel &model, int64_t batch, uint64_t seed, const PcSamplerOptions &options,
                                 const PcConditioning &constraint, const SamplerCallback &onStep,
                                 const CancelToken *cancel)
{
    SamplingSettings settings;
    settings.method = "pc";
    settings.pc = options;
    settings.batch = batch;
    checkSamplingSettings(settings);
    requireMemoryForSampling(model.config(), batch, model.device());
    ModelConfig config = model.config();
    const int64_t steps = options.steps > 0 ? options.steps : config.model.numScales;
    if (steps < 2)
        throw Error("the PC sampler needs at least 2 steps");
    const double eps = options.eps > 0.0 ? options.eps : config.samplingEps();
    // The discretization follows the number of steps; the network's time labels stay the model's.
    config.model.numScales = steps;
    std::unique_ptr<Sde> sde = createSde(config);
    torch::NoGradGuard noGrad;
    ScoreCache cache(model, constraint.score);
    ScoreFn score = cache.scoreFn();
    // A predictor or corrector this SDE does not have is refused first: no step count would help.
    auto predictor = createPredictor(options.predictor, *sde, score, options.probabilityFlow);
    auto corrector = createCorrector(options.corrector, *sde, score, options.snr, options.correctorSteps,
                                     LangevinCorrector::Norms::PerSample);
    const int64_t least = minimumPcSteps(config, options);
    if (steps < least)
        throw Error("with " + std::to_string(steps) + " steps the " + sdeDescription(config.training.sde).title +
                    "'s discrete beta reaches " + std::to_string(config.model.betaMax / static_cast<double>(steps)) +
                    " (it must stay below 1): use at least " + std::to_string(least) +
                    " steps, or the euler_maruyama predictor without a corrector");

    const torch::Device device = model.device();
    const auto floatOptions = torch::TensorOptions().dtype(torch::kFloat32).device(device);
    std::vector<int64_t> shape = model.sampleShape();
    shape.insert(shape.begin(), batch);
    NoiseStreams streams(seed, batch);
    NoiseFn noise = [&](const torch::Tensor &like) { return streams.randn(like); };

    torch::Tensor x = streams.randn(shape, floatOptions) * (sde->priorStd() * options.temperature);
    if (constraint.initial)
        x = constraint.initial(x);
    torch::Tensor xMean = x;
    auto constrain = [&](const torch::Tensor &vt) {
        if (constraint.constrain)
            std::tie(x, xMean) = constraint.constrain(x, xMean, vt, noise);
    };
    torch::Tensor times = torch::linspace(sde->T(), eps, steps, torch::TensorOptions().dtype(torch::kFloat32));

    SampleResult result;
    for (int64_t i = 0; i < steps; ++i) {
        if (cancel && cancel->requested()) {
            result.completed = false;
            break;
        }
        const double t = times[i].item<double>();
        torch::Tensor vt = torch::full({batch}, t, floatOptions);
        std::tie(x, xMean) = corrector->update(x, vt, noise);
        constrain(vt);
        torch::Tensor corrected = x;
        std::tie(x, xMean) = predictor->update(x, vt, noise);
        constrain(vt);
        requireFiniteState(x, i + 1, steps, t);
        result.steps = i + 1;
        if (onStep) {
            SamplerStep step;
            step.step = i + 1;
            step.totalSteps = steps;
            step.t = t;
            step.x = corrected;
            step.nfe = cache.evaluations();
            step.denoised = cache.tweedie(corrected, vt);
            onStep(step);
        }
    }
    result.nfe = cache.evaluations();
    result.x = options.noiseRemoval ? xMean : x;
    if (result.steps > 0)
        requireFiniteState(result.x, result.steps, steps, times[result.steps - 1].item<double>());
    result.samples = model.inverseScaler(result.x);
    return result;
}

} // namespace sde
