#pragma once

#include <torch/torch.h>

#include <vector>

namespace sde {

// The exponential moving average of the parameters, as the reference's models/ema.py keeps it:
// with the update count k (starting at 0, incremented before use) the decay is
// min(rate, (1 + k) / (10 + k)), and shadow -= (1 - decay) (shadow - param).
class ExponentialMovingAverage {
public:
    ExponentialMovingAverage(const std::vector<torch::Tensor> &parameters, double rate);

    void update(const std::vector<torch::Tensor> &parameters);

    double rate() const { return rate_; }
    int64_t updates() const { return updates_; }
    const std::vector<torch::Tensor> &shadow() const { return shadow_; }

    // Restores a saved average (the shadow tensors in parameter order and the update count).
    void load(const std::vector<torch::Tensor> &shadow, int64_t updates);
    // Copies the shadow into the parameters (to evaluate or export the EMA weights).
    void copyTo(const std::vector<torch::Tensor> &parameters) const;

private:
    std::vector<torch::Tensor> shadow_;
    double rate_;
    int64_t updates_ = 0;
};

} // namespace sde
