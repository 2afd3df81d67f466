#include "editing/guidance.h"

#include "model/score_model.h"
#include "util/error.h"

namespace sde {

ScoreFn guidedScore(const ScoreModel &model, ClassifierFn classifier, torch::Tensor labels, double scale)
{
    if (!(scale >= 0.0 && scale <= kMaxGuidanceScale))
        throw Error("the guidance scale must be between 0 and " + std::to_string(static_cast<int>(kMaxGuidanceScale)) +
                    ", not " + std::to_string(scale));
    ScoreFn base = model.scoreFn();
    return [base, classifier = std::move(classifier), labels = std::move(labels), scale](const torch::Tensor &x,
                                                                                         const torch::Tensor &t) {
        torch::Tensor score = base(x, t);
        if (scale == 0.0)
            return score;
        torch::Tensor gradient;
        {
            torch::AutoGradMode enableGrad(true);
            torch::Tensor input = x.detach().requires_grad_(true);
            torch::Tensor logp = torch::log_softmax(classifier(input, t), -1);
            torch::Tensor chosen = logp.gather(1, labels.to(logp.device()).view({-1, 1})).sum();
            gradient = torch::autograd::grad({chosen}, {input})[0];
        }
        return score + scale * gradient.detach();
    };
}

SampleResult sampleClass(const ScoreModel &model, const ClassifierFn &classifier, const torch::Tensor &labels,
                         double scale, uint64_t seed, const PcSamplerOptions &options, const SamplerCallback &onStep,
                         const CancelToken *cancel)
{
    SamplingSettings settings;
    settings.method = "pc";
    settings.pc = options;
    settings.seed = seed;
    return sampleClass(model, classifier, labels, scale, settings, onStep, cancel);
}

SampleResult sampleClass(const ScoreModel &model, const ClassifierFn &classifier, const torch::Tensor &labels,
                         double scale, const SamplingSettings &settings, const SamplerCallback &onStep,
                         const CancelToken *cancel)
{
    if (labels.dim() != 1 || labels.size(0) < 1)
        throw Error("class-conditional sampling needs one class label per sample");
    SamplingSettings run = settings;
    run.batch = labels.size(0);
    return runSamplerWithScore(model, run, guidedScore(model, classifier, labels.to(torch::kLong), scale), onStep,
                               cancel);
}

} // namespace sde
