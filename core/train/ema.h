#pragma once

#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

namespace sde {

// The parameters that training updates and the EMA averages, (name, tensor) in the module's
// parameter order: those with requires_grad. Fixed parameters (the Fourier embedding's W) and
// buffers are left out; they keep the model state's values.
std::vector<std::pair<std::string, torch::Tensor>> trainableParameters(torch::nn::Module &module);

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
    // Throws sde::Error, changing nothing, when the count or a shape differs from the parameters'.
    void load(const std::vector<torch::Tensor> &shadow, int64_t updates);
    // Copies the shadow into the parameters (to evaluate or export the EMA weights).
    void copyTo(const std::vector<torch::Tensor> &parameters) const;

private:
    std::vector<torch::Tensor> shadow_;
    double rate_;
    int64_t updates_ = 0;
};

} // namespace sde
