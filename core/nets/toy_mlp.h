#pragma once

#include "config/model_config.h"
#include "nets/layers.h"
#include "nets/score_network.h"

namespace sde {

// The score network of the 2D toy models: points are stored as [B, 2, 1, 1] "images" so that
// every SDE, sampler and likelihood of the engine applies to them unchanged. An MLP with a
// sinusoidal embedding of the time label added to every hidden layer:
//   h = Dense_0(x) + Dense_1(emb);  h = h + Dense(act(Dense(act(h)) + emb_i))  (num_res_blocks times);
//   out = Dense_out(act(h)).
// model.nf is the hidden width. As the reference's networks, it predicts the score scaled as
// the SDE's convention asks (VP: -std * score; VE: the score, divided by sigma when scale_by_sigma).
class ToyMlpImpl : public ScoreNetworkImpl {
public:
    explicit ToyMlpImpl(const ModelConfig &config);
    torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &labels) override;

private:
    ModelConfig config_;
    Nonlinearity act_;
    Dense input_{nullptr};
    Dense timeInput_{nullptr};
    torch::nn::ModuleList blocks_{nullptr};
    Dense output_{nullptr};
};

} // namespace sde
