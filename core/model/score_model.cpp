#include "model/score_model.h"

#include "nets/inference.h"

#include "sde/ve_sde.h"
#include "sde/vp_sde.h"
#include "util/batch.h"

namespace sde {

ScoreModel::ScoreModel(ModelConfig config, ScoreNetwork network)
    : config_(std::move(config)), sde_(createSde(config_)), network_(std::move(network))
{
    network_->eval();
}

std::vector<int64_t> ScoreModel::sampleShape() const
{
    return {config_.data.numChannels, config_.data.imageSize, config_.data.imageSize};
}

int64_t ScoreModel::parameterCount() const
{
    int64_t count = 0;
    for (const auto &p : network_->parameters())
        count += p.numel();
    return count;
}

torch::Device ScoreModel::device() const
{
    for (const auto &p : network_->parameters())
        return p.device();
    return torch::kCPU;
}

void ScoreModel::to(torch::Device device)
{
    graphs_->clear();
    network_->to(device);
}

void ScoreModel::setTraining(bool training)
{
    network_->train(training);
}

torch::Tensor ScoreModel::networkLabels(const torch::Tensor &t) const
{
    const Sde &s = *sde_;
    if (s.kind() == Sde::Kind::Ve) {
        if (continuous())
            return s.marginalStd(t);
        return torch::round((s.T() - t) * static_cast<double>(s.N() - 1)).to(torch::kLong);
    }
    if (continuous() || s.kind() == Sde::Kind::SubVp)
        return t * 999.0;
    return t * static_cast<double>(s.N() - 1);
}

namespace {

// The score by the reference's get_score_fn conventions (see the header).
torch::Tensor scoreOf(const ScoreModel &model, const torch::Tensor &x, const torch::Tensor &t)
{
    const Sde &s = model.sde();
    torch::Tensor labels = model.networkLabels(t);
    torch::Tensor output = model.network()->forward(x, labels);
    if (s.kind() == Sde::Kind::Ve)
        return output;
    torch::Tensor std;
    if (model.continuous() || s.kind() == Sde::Kind::SubVp) {
        std = s.marginalStd(t);
    } else {
        const auto &vp = static_cast<const VpSde &>(s);
        std = vp.sqrtOneMinusAlphasCumprod().to(labels.device()).index_select(0, labels.to(torch::kLong));
    }
    return -output / batchView(std, output);
}

} // namespace

torch::Tensor ScoreModel::score(const torch::Tensor &x, const torch::Tensor &t) const
{
    // Half precision on CUDA: the network runs under autocast, the score comes back float32.
    const EvaluationPrecision precision = evaluationPrecision();
    const bool noGrad = !torch::GradMode::is_enabled();
    const bool cudaAutocast = x.is_cuda() && precision != EvaluationPrecision::Float32 && noGrad;
    auto evaluate = [&](const torch::Tensor &xIn, const torch::Tensor &tIn) {
        // No gradient wanted: evaluate without autograd's bookkeeping.
        c10::InferenceMode inference;
        AutocastScope autocast(x.device(), cudaAutocast ? precision : EvaluationPrecision::Float32);
        return scoreOf(*this, xIn, tIn).to(torch::kFloat32);
    };
    if (x.is_cuda() && noGrad && cudaGraphsEnabled() && !network_->is_training() && x.size(0) <= cudaGraphMaxBatch()) {
        // The weights' storage is part of the key: a graph reads the parameters where they were.
        int64_t weights = 0;
        for (const auto &p : network_->parameters()) {
            weights = reinterpret_cast<int64_t>(p.data_ptr());
            break;
        }
        return graphs_->run(evaluate, x, t, {static_cast<int64_t>(precision), weights});
    }
    if (useOneDnn(x) || cudaAutocast) {
        // An ordinary tensor back (callers may update it in place).
        torch::Tensor s = evaluate(x, t);
        return s.clone();
    }
    return scoreOf(*this, x, t);
}

ScoreFn ScoreModel::scoreFn() const
{
    return [this](const torch::Tensor &x, const torch::Tensor &t) { return score(x, t); };
}

torch::Tensor ScoreModel::scaler(const torch::Tensor &x01) const
{
    return config_.data.centered ? x01 * 2.0 - 1.0 : x01;
}

torch::Tensor ScoreModel::inverseScaler(const torch::Tensor &x) const
{
    return config_.data.centered ? (x + 1.0) / 2.0 : x;
}

} // namespace sde
