#include "sampling/correctors.h"

#include "sampling/fast_samplers.h"
#include "util/batch.h"
#include "util/error.h"

namespace sde {

LangevinCorrector::LangevinCorrector(const Sde &sde, ScoreFn score, double snr, int64_t nSteps, StepRule rule,
                                     Norms norms)
    : sde_(sde), score_(std::move(score)), snr_(snr), nSteps_(nSteps), rule_(rule), norms_(norms)
{}

std::pair<torch::Tensor, torch::Tensor> LangevinCorrector::update(const torch::Tensor &input, const torch::Tensor &t,
                                                                  const NoiseFn &noise) const
{
    torch::Tensor alpha = sde_.langevinAlpha(t);
    torch::Tensor annealedStep;
    if (rule_ == StepRule::Annealed)
        annealedStep = (snr_ * sde_.marginalStd(t)).pow(2) * 2.0 * alpha;
    torch::Tensor x = input;
    torch::Tensor xMean = input;
    for (int64_t i = 0; i < nSteps_; ++i) {
        torch::Tensor grad = score_(x, t);
        torch::Tensor z = noise(x);
        torch::Tensor stepSize = annealedStep;
        if (rule_ == StepRule::SignalToNoise) {
            torch::Tensor gradNorm = grad.reshape({grad.size(0), -1}).norm(2, -1);
            torch::Tensor noiseNorm = z.reshape({z.size(0), -1}).norm(2, -1);
            if (norms_ == Norms::BatchMean) {
                gradNorm = gradNorm.mean();
                noiseNorm = noiseNorm.mean();
            }
            stepSize = (snr_ * noiseNorm / gradNorm).pow(2) * 2.0 * alpha;
        }
        xMean = x + batchView(stepSize, x) * grad;
        x = xMean + batchView(torch::sqrt(stepSize * 2.0), x) * z;
    }
    return {x, xMean};
}

const std::vector<std::string> &correctorIds()
{
    static const std::vector<std::string> ids{"none", "langevin", "ald"};
    return ids;
}

std::unique_ptr<Corrector> createCorrector(const std::string &name, const Sde &sde, ScoreFn score, double snr,
                                           int64_t nSteps, LangevinCorrector::Norms norms)
{
    if (name == "langevin")
        return std::make_unique<LangevinCorrector>(sde, std::move(score), snr, nSteps,
                                                   LangevinCorrector::StepRule::SignalToNoise, norms);
    if (name == "ald")
        return std::make_unique<LangevinCorrector>(sde, std::move(score), snr, nSteps,
                                                   LangevinCorrector::StepRule::Annealed, norms);
    if (name == "none")
        return std::make_unique<NoneCorrector>();
    throw Error("unknown corrector \"" + name + "\" (expected " + listOfIds(correctorIds()) + ")");
}

} // namespace sde
