#pragma once

#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

namespace sde {

// Adam as torch.optim.Adam computes it (the reference's optimizer, single-tensor path, no
// amsgrad), with its state in plain tensors so a checkpoint can hold it and a resumed run
// continue bit for bit:
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
//   p -= lr / (1 - b1^k) * m / (sqrt(v) / sqrt(1 - b2^k) + eps),  k the step count.
class AdamOptimizer {
public:
    struct Options {
        double beta1 = 0.9;
        double beta2 = 0.999;
        double eps = 1e-8;
        double weightDecay = 0.0;
    };

    AdamOptimizer(std::vector<torch::Tensor> parameters, Options options);

    // One update with the gradients the parameters hold; parameters without a gradient are skipped.
    void step(double learningRate);
    void zeroGrad();

    int64_t stepCount() const { return steps_; }
    const std::vector<torch::Tensor> &parameters() const { return parameters_; }

    // The moments as named tensors ("<i>.exp_avg", "<i>.exp_avg_sq"), and back.
    std::vector<std::pair<std::string, torch::Tensor>> state() const;
    void loadState(const std::vector<std::pair<std::string, torch::Tensor>> &state, int64_t steps,
                   const std::string &label);

private:
    std::vector<torch::Tensor> parameters_;
    std::vector<torch::Tensor> expAvg_;
    std::vector<torch::Tensor> expAvgSq_;
    Options options_;
    int64_t steps_ = 0;
};

// The learning rate of the reference's optimization_manager at `step` (counted from 0):
// lr * min(step / warmup, 1), or lr without warm-up.
double warmupLearningRate(double lr, int64_t warmup, int64_t step);

} // namespace sde
