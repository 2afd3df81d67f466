#include "nets/toy_mlp.h"

#include "sde/sde_catalogue.h"
#include <cmath>

namespace sde {

namespace {

// One residual block of the MLP: h + Dense_1(act(Dense_0(act(h)) + Dense_t(emb))).
class ToyResidualBlockImpl : public torch::nn::Module {
public:
    ToyResidualBlockImpl(int64_t width, Nonlinearity act)
        : act_(act), first_(register_module("Dense_0", Dense(width, width))),
          time_(register_module("Dense_t", Dense(width, width))),
          second_(register_module("Dense_1", Dense(width, width)))
    {}

    // h: [B, nf], emb: [B, nf] -> [B, nf]
    torch::Tensor forward(const torch::Tensor &h, const torch::Tensor &emb)
    {
        torch::Tensor inner = first_->forward(activate(act_, h)) + time_->forward(emb);
        return h + second_->forward(activate(act_, inner));
    }

private:
    Nonlinearity act_;
    Dense first_, time_, second_;
};
TORCH_MODULE(ToyResidualBlock);

} // namespace

ToyMlpImpl::ToyMlpImpl(const ModelConfig &config)
    : config_(config), act_(nonlinearityFromName(config.model.nonlinearity))
{
    const int64_t width = config.model.nf;
    const int64_t dims = config.data.numChannels;
    input_ = register_module("Dense_in", Dense(dims, width));
    timeInput_ = register_module("Dense_time", Dense(width, width));
    blocks_ = register_module("blocks", torch::nn::ModuleList());
    for (int64_t i = 0; i < config.model.numResBlocks; ++i)
        blocks_->push_back(ToyResidualBlock(width, act_));
    output_ = register_module("Dense_out", Dense(width, dims));
}

torch::Tensor ToyMlpImpl::forward(const torch::Tensor &x, const torch::Tensor &labels)
{
    const NetworkConfig &m = config_.model;
    const bool sigmaConditioned = sdeDescription(config_.training.sde).sigmaConditioned;
    const bool continuousVe = sigmaConditioned && config_.training.continuous;
    // Continuous VE feeds sigma(t): map log sigma onto [0, 999] like the VP models' t * 999.
    torch::Tensor positions = labels.to(torch::kFloat32);
    if (continuousVe)
        positions =
            (torch::log(positions) - std::log(m.sigmaMin)) / (std::log(m.sigmaMax) - std::log(m.sigmaMin)) * 999.0;
    // As layers.get_timestep_embedding in the U-Nets, then one Dense: emb: [B, nf]
    torch::Tensor emb = timeInput_->forward(timestepEmbedding(positions, m.nf));

    // [B, D, 1, 1] -> [B, D]
    torch::Tensor h = input_->forward(x.flatten(1)) + emb; // h: [B, nf]
    for (auto &block : *blocks_)
        h = block->as<ToyResidualBlockImpl>()->forward(h, emb);              // h: [B, nf]
    torch::Tensor out = output_->forward(activate(act_, h)).view(x.sizes()); // [B, D] -> [B, D, 1, 1]
    // As ncsnpp.NCSNpp / ddpm.DDPM with scale_by_sigma: h / used_sigmas, used_sigmas [B] -> [B, 1, 1, 1].
    if (sigmaConditioned && m.scaleBySigma) {
        torch::Tensor sigma =
            continuousVe ? labels.to(torch::kFloat32)
                         : smldSigmas(m).to(x.device()).index_select(0, labels.to(torch::kLong)).to(torch::kFloat32);
        out = out / sigma.view({-1, 1, 1, 1});
    }
    return out;
}

} // namespace sde
