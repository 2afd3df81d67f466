#pragma once

#include "config/model_config.h"
#include "nets/layers.h"
#include "nets/score_network.h"

namespace sde {

// The score network of the 2D toy models (no counterpart in the reference, which has image networks
// only; it follows their conventions: label in, score scaled as the SDE asks out). Points are stored as [B, 2, 1, 1]
// "images" so that every SDE, sampler and likelihood of the engine applies to them unchanged. An MLP with a sinusoidal
// embedding of the time label added to every hidden layer:
//   h = Dense_0(x) + Dense_1(emb);  h = h + Dense(act(Dense(act(h)) + emb_i))  (num_res_blocks times);
//   out = Dense_out(act(h)).
// model.nf is the hidden width. As the reference's networks, it predicts the score scaled as
// the SDE's convention asks (VP: -std * score; VE: the score, divided by sigma when scale_by_sigma).
class ToyMlpImpl : public ScoreNetworkImpl {
public:
    explicit ToyMlpImpl(const ModelConfig &config);
    // x: [B, D, 1, 1] with D = data.num_channels (2 for the toy sets); labels: [B] (t * 999 for VP,
    // sigma(t) for continuous VE, the noise-level index for discrete SMLD). Returns [B, D, 1, 1].
    torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &labels) override;

private:
    ModelConfig config_;
    Nonlinearity act_;
    Dense input_{nullptr};                  // "Dense_in": D -> nf
    Dense timeInput_{nullptr};              // "Dense_time": nf -> nf
    torch::nn::ModuleList blocks_{nullptr}; // "blocks": num_res_blocks residual blocks of width nf
    Dense output_{nullptr};                 // "Dense_out": nf -> D
};

} // namespace sde
