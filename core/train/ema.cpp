#include "train/ema.h"

#include "util/error.h"
#include "util/shape_text.h"

#include <algorithm>

namespace sde {

std::vector<std::pair<std::string, torch::Tensor>> trainableParameters(torch::nn::Module &module)
{
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (const auto &item : module.named_parameters())
        if (item.value().requires_grad())
            out.emplace_back(item.key(), item.value());
    return out;
}

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
    for (size_t i = 0; i < shadow.size(); ++i)
        if (!shadow[i].sizes().equals(shadow_[i].sizes()))
            throw Error("the EMA's tensor " + std::to_string(i) + " has shape " + shapeText(shadow[i].sizes()) +
                        ", its parameter " + shapeText(shadow_[i].sizes()));
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
