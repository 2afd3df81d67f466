#include "train/ema.h"

#include "util/error.h"

#include <algorithm>

namespace sde {

ExponentialMovingAverage::ExponentialMovingAverage(const std::vector<torch::Tensor> &parameters, double rate)
    : rate_(rate)
{
    torch::NoGradGuard noGrad;
    for (const auto &p : parameters)
        shadow_.push_back(p.detach().clone());
}

void ExponentialMovingAverage::update(const std::vector<torch::Tensor> &parameters)
{
    torch::NoGradGuard noGrad;
    ++updates_;
    const double decay =
        std::min(rate_, (1.0 + static_cast<double>(updates_)) / (10.0 + static_cast<double>(updates_)));
    for (size_t i = 0; i < shadow_.size(); ++i)
        shadow_[i].sub_((shadow_[i] - parameters[i]) * (1.0 - decay));
}

void ExponentialMovingAverage::load(const std::vector<torch::Tensor> &shadow, int64_t updates)
{
    if (shadow.size() != shadow_.size())
        throw Error("the EMA holds " + std::to_string(shadow.size()) + " tensors, the network has " +
                    std::to_string(shadow_.size()) + " parameters");
    torch::NoGradGuard noGrad;
    for (size_t i = 0; i < shadow.size(); ++i)
        shadow_[i].copy_(shadow[i]);
    updates_ = updates;
}

void ExponentialMovingAverage::copyTo(const std::vector<torch::Tensor> &parameters) const
{
    torch::NoGradGuard noGrad;
    for (size_t i = 0; i < shadow_.size(); ++i)
        parameters[i].copy_(shadow_[i]);
}

} // namespace sde
