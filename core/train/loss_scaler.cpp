#include "train/loss_scaler.h"

#include "util/error.h"

#include <cmath>
#include <string>

namespace sde {

LossScaler::LossScaler(bool enabled, double initialScale) : enabled_(enabled), scale_(initialScale)
{
    if (!std::isfinite(initialScale) || initialScale < kMinimumScale)
        throw Error("the initial loss scale must be a finite number >= 1, not " + std::to_string(initialScale));
}

torch::Tensor LossScaler::scaleLoss(const torch::Tensor &loss) const
{
    return enabled_ ? loss * scale_ : loss;
}

void LossScaler::unscale(const std::vector<torch::Tensor> &parameters) const
{
    if (!enabled_)
        return;
    torch::NoGradGuard noGrad;
    const double inverse = 1.0 / scale_;
    for (const auto &p : parameters)
        if (p.grad().defined())
            p.grad().mul_(inverse);
}

void LossScaler::update(bool finiteGradients)
{
    if (!enabled_)
        return;
    if (!finiteGradients) {
        scale_ = std::max(kMinimumScale, scale_ * 0.5);
        goodSteps_ = 0;
        return;
    }
    if (++goodSteps_ >= kGrowthInterval) {
        scale_ *= 2.0;
        goodSteps_ = 0;
    }
}

void LossScaler::load(double scale, int64_t goodSteps)
{
    if (!std::isfinite(scale) || scale < kMinimumScale || goodSteps < 0)
        throw Error("the loss scale (" + std::to_string(scale) + ", " + std::to_string(goodSteps) +
                    " good steps) is not a valid float16 training state");
    scale_ = scale;
    goodSteps_ = goodSteps;
}

} // namespace sde
