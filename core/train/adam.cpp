#include "train/adam.h"

#include "util/error.h"
#include "util/shape_text.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace sde {

AdamOptimizer::AdamOptimizer(std::vector<torch::Tensor> parameters, Options options)
    : parameters_(std::move(parameters)), options_(options)
{
    torch::NoGradGuard noGrad;
    for (const auto &p : parameters_) {
        expAvg_.push_back(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        expAvgSq_.push_back(torch::zeros_like(p, torch::MemoryFormat::Preserve));
    }
}

void AdamOptimizer::step(double learningRate)
{
    torch::NoGradGuard noGrad;
    ++steps_;
    const double b1 = options_.beta1, b2 = options_.beta2;
    const double biasCorrection1 = 1.0 - std::pow(b1, static_cast<double>(steps_));
    const double biasCorrection2 = 1.0 - std::pow(b2, static_cast<double>(steps_));
    const double stepSize = learningRate / biasCorrection1;
    const double biasCorrection2Sqrt = std::sqrt(biasCorrection2);
    for (size_t i = 0; i < parameters_.size(); ++i) {
        torch::Tensor &p = parameters_[i];
        if (!p.grad().defined())
            continue;
        torch::Tensor grad = p.grad();
        if (options_.weightDecay != 0.0)
            grad = grad.add(p, options_.weightDecay);
        expAvg_[i].mul_(b1).add_(grad, 1.0 - b1);
        expAvgSq_[i].mul_(b2).addcmul_(grad, grad, 1.0 - b2);
        torch::Tensor denom = (expAvgSq_[i].sqrt() / biasCorrection2Sqrt).add_(options_.eps);
        p.addcdiv_(expAvg_[i], denom, -stepSize);
    }
}

void AdamOptimizer::zeroGrad()
{
    for (auto &p : parameters_)
        if (p.grad().defined()) {
            p.grad().detach_();
            p.grad().zero_();
        }
}

std::vector<std::pair<std::string, torch::Tensor>> AdamOptimizer::state() const
{
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (size_t i = 0; i < parameters_.size(); ++i) {
        out.emplace_back(std::to_string(i) + ".exp_avg", expAvg_[i]);
        out.emplace_back(std::to_string(i) + ".exp_avg_sq", expAvgSq_[i]);
    }
    return out;
}

void AdamOptimizer::loadState(const std::vector<std::pair<std::string, torch::Tensor>> &state, int64_t steps,
                              const std::string &label)
{
    std::map<std::string, torch::Tensor> byName(state.begin(), state.end());
    if (byName.size() != 2 * parameters_.size())
        throw Error(label + ": the optimizer state has " + std::to_string(byName.size()) + " tensors, expected " +
                    std::to_string(2 * parameters_.size()) + " (2 per parameter)");
    torch::NoGradGuard noGrad;
    for (size_t i = 0; i < parameters_.size(); ++i) {
        for (auto [suffix, target] : {std::pair{".exp_avg", &expAvg_[i]}, std::pair{".exp_avg_sq", &expAvgSq_[i]}}) {
            auto it = byName.find(std::to_string(i) + suffix);
            if (it == byName.end())
                throw Error(label + ": the optimizer state lacks " + std::to_string(i) + suffix);
            if (!it->second.sizes().equals(target->sizes()))
                throw Error(label + ": optimizer state " + it->first + " has shape " + shapeText(it->second.sizes()) +
                            ", the parameter has " + shapeText(target->sizes()));
            target->copy_(it->second);
        }
    }
    steps_ = steps;
}

double warmupLearningRate(double lr, int64_t warmup, int64_t step)
{
    if (warmup <= 0)
        return lr;
    return lr * std::min(static_cast<double>(step) / static_cast<double>(warmup), 1.0);
}

} // namespace sde
