#pragma once

#include "config/model_config.h"
#include "nets/blocks.h"
#include "nets/layers.h"
#include "util/json_fields.h"

#include <torch/torch.h>

namespace sde {

// The shape of a noise-conditional (time-dependent) classifier p_t(y | x_t), the one the paper's
// class-conditional sampling differentiates. `data` and the SDE come from the score model it
// guides (stored with it), so it sees inputs exactly as that model does.
struct ClassifierConfig {
    ModelConfig scoreConfig; // data section (size, channels, centering) and the SDE
    int64_t nf = 32;
    std::vector<int64_t> chMult{1, 2, 2};
    int64_t numResBlocks = 1;
    int64_t numClasses = 10;
    std::vector<std::string> classNames;

    Json toJson() const;
    static ClassifierConfig fromJson(const Json &document);
    void validate() const;
};

// Not a port: the reference's models/ have no classifier. It is built from the reference's blocks
// (layers.get_timestep_embedding, layerspp.ResnetBlockDDPMpp).
// A small ResNet with a sinusoidal embedding of t * 999 in every block: conv3x3 -> per level
// num_res_blocks DDPM++ residual blocks, 2x average-pool between levels -> GroupNorm, act,
// global average pool (the features) -> Dense to the logits.
class NoiseConditionalClassifierImpl : public torch::nn::Module {
public:
    // Throws sde::Error for an invalid config (ClassifierConfig::validate).
    explicit NoiseConditionalClassifierImpl(const ClassifierConfig &config);

    // Logits [B, K] (K = num_classes) for x [B, C, H, W] in the model's input range (data.centered
    // or [0, 1]) at times t [B] in [0, 1].
    torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &t);
    // The pooled features [B, F] (F = featureSize() = nf * ch_mult[-1]) the logits are read from (the
    // space of the Fréchet distance).
    torch::Tensor features(const torch::Tensor &x, const torch::Tensor &t);
    int64_t featureSize() const;

    const ClassifierConfig &config() const { return config_; }

private:
    ClassifierConfig config_;
    Nonlinearity act_;
    Dense timeDense0_{nullptr}, timeDense1_{nullptr}; // "Dense_0": nf -> 4 nf, "Dense_1": 4 nf -> 4 nf
    Conv2d input_{nullptr};                           // "Conv_in": C -> nf
    torch::nn::ModuleList blocks_{nullptr};           // "blocks": layerspp.ResnetBlockDDPMpp, level by level
    GroupNorm outputNorm_{nullptr};                   // "GroupNorm_out"
    Dense head_{nullptr};                             // "Dense_out": F -> K
};
TORCH_MODULE(NoiseConditionalClassifier);

} // namespace sde
