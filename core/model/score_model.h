#pragma once

#include "config/model_config.h"
#include "nets/score_network.h"
#include "sde/sde.h"
#include "util/cuda_graphs.h"

#include <memory>
#include <string>

namespace sde {

// A score network together with its SDE and config: turns the network into the score function
// s(x, t) with the conventions of the reference's get_score_fn:
//   VP / sub-VP, continuous (and always for sub-VP): label t * 999, score = -net / std(t);
//   VP, discrete:                                   label t * (N - 1), score = -net / sqrt(1 - alphabar_i);
//   VE, continuous:                                 label sigma(t), score = net;
//   VE, discrete:                                   label round((T - t)(N - 1)), score = net.
class ScoreModel {
public:
    ScoreModel(ModelConfig config, ScoreNetwork network);

    const ModelConfig &config() const { return config_; }
    const Sde &sde() const { return *sde_; }
    const ScoreNetwork &network() const { return network_; }
    bool continuous() const { return config_.training.continuous; }

    // One sample's shape: {channels, size, size}.
    std::vector<int64_t> sampleShape() const;
    int64_t parameterCount() const;

    torch::Device device() const;
    void to(torch::Device device);
    // Dropout on (training) or off (evaluation, the default after loading).
    void setTraining(bool training);

    // The time labels the network is fed for times t [B].
    torch::Tensor networkLabels(const torch::Tensor &t) const;
    // s(x, t) for x [B, C, H, W] and t [B]. On CUDA, without gradient, in evaluation mode and
    // at batch <= cudaGraphMaxBatch(), the network replays a captured CUDA graph (one per shape
    // and precision; util/cuda_graphs.h) when cudaGraphsEnabled().
    torch::Tensor score(const torch::Tensor &x, const torch::Tensor &t) const;
    // The CUDA graphs of this model's score evaluations (captures, replays, why a shape fell back).
    // A shape is captured the second time it is evaluated (util/cuda_graphs.h).
    const CudaGraphCache &cudaGraphs() const { return *graphs_; }
    // The score as a callable for samplers and the reverse SDE.
    ScoreFn scoreFn() const;

    // Maps data in the model's input range to [0, 1] and back (centered data is in [-1, 1]).
    torch::Tensor scaler(const torch::Tensor &x01) const;
    torch::Tensor inverseScaler(const torch::Tensor &x) const;

private:
    ModelConfig config_;
    std::unique_ptr<Sde> sde_;
    ScoreNetwork network_;
    std::unique_ptr<CudaGraphCache> graphs_ = std::make_unique<CudaGraphCache>();
};

} // namespace sde
