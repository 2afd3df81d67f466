#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace sde {

struct ModelConfig;
struct NetworkConfig;

// A time-conditional network s_theta(x, label), the model_fn the reference's models/utils.py
// get_model_fn calls. What the label means (t * 999, a noise level sigma, a discrete index) is the
// business of ScoreModel (get_score_fn of the reference), which turns the network into a score.
class ScoreNetworkImpl : public torch::nn::Module {
public:
    // x: [B, C, H, W] (points: [B, D, 1, 1]), labels: [B] -> the same shape as x.
    virtual torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &labels) = 0;
};
using ScoreNetwork = std::shared_ptr<ScoreNetworkImpl>;

// The reference's U-Nets keep every block in one nn.ModuleList named "all_modules", appended in
// constructor order, and walk it with a running index in forward(). This base holds that list.
class BlockListNetwork : public ScoreNetworkImpl {
protected:
    BlockListNetwork() { allModules_ = register_module("all_modules", torch::nn::ModuleList()); }

    void add(std::shared_ptr<torch::nn::Module> module)
    {
        allModules_->push_back(module);
        blocks_.push_back(std::move(module));
    }
    // The block at `index` as its type; advances the index as the reference's m_idx += 1.
    template <typename T>
    T &block(size_t &index)
    {
        return *blocks_.at(index++)->as<T>();
    }
    std::shared_ptr<torch::nn::Module> &blockAt(size_t index) { return blocks_.at(index); }
    size_t blockCount() const { return blocks_.size(); }

private:
    torch::nn::ModuleList allModules_;
    std::vector<std::shared_ptr<torch::nn::Module>> blocks_;
};

// Whether `resolution` is among the configured attention resolutions.
bool hasAttention(const std::vector<int64_t> &attnResolutions, int64_t resolution);

// The most parameters a network may hold: 4 GB of float32 weights, about nine times the largest of
// the reference's configs (NCSN++ deep for CIFAR-10, 107.6 million). A config beyond it is refused
// before any weight is allocated, whatever each of its fields allows on its own.
constexpr int64_t kMostNetworkParameters = 1'000'000'000;

// Throws sde::Error, naming the count, when the network `config` describes would hold more than
// kMostNetworkParameters parameters; counts them on a layout-only build (no weight is allocated).
void requireNetworkWithinSize(const ModelConfig &config);

// models/utils.py create_model: builds the network a config names (model.name: ncsnpp, ddpm or
// toy_mlp), randomly initialised as the reference initialises it. Throws sde::Error for a config it
// cannot build (ModelConfig::validate, an unknown name, or requireNetworkWithinSize).
ScoreNetwork createScoreNetwork(const ModelConfig &config);

// The buffer "sigmas" both networks carry (models/utils.py get_sigmas of the reference): the SMLD
// noise levels exp(linspace(log sigma_max, log sigma_min, N)), descending, [N = num_scales], float64.
torch::Tensor smldSigmas(const NetworkConfig &model);

// One entry of a state dict: its name, shape and dtype.
struct TensorLayout {
    std::string name;
    std::vector<int64_t> shape;
    torch::Dtype dtype = torch::kFloat32;
};

// The state dict a network of this config has (names without the `module.` prefix, in the
// reference's order: parameters and buffers of a module, then its children), built without
// initialising any weights. `parameterCount` receives the number of parameters.
std::vector<TensorLayout> networkLayout(const ModelConfig &config, int64_t *parameterCount = nullptr);

// The state dict of a built network, in the reference's order.
std::vector<std::pair<std::string, torch::Tensor>> stateDict(const torch::nn::Module &module);

} // namespace sde
