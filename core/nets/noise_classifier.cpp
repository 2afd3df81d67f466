#include "nets/noise_classifier.h"

#include "util/error.h"

#include <algorithm>

namespace sde {

Json ClassifierConfig::toJson() const
{
    Json out = Json::object();
    out["nf"] = nf;
    out["ch_mult"] = chMult;
    out["num_res_blocks"] = numResBlocks;
    out["num_classes"] = numClasses;
    out["class_names"] = classNames;
    out["score_config"] = scoreConfig.toJson();
    return out;
}

ClassifierConfig ClassifierConfig::fromJson(const Json &document)
{
    ClassifierConfig config;
    if (!document.is_object())
        throw Error("a classifier config must be a JSON object");
    if (!document.contains("score_config"))
        throw Error("the classifier config lacks \"score_config\" (the data and SDE of its score model)");
    config.scoreConfig = ModelConfig::fromJson(json::at(document, "score_config"));
    if (document.contains("nf"))
        config.nf = json::getInt64(document, "nf");
    if (document.contains("ch_mult")) {
        config.chMult.clear();
        for (const Json &m : json::toArray(json::at(document, "ch_mult"), "ch_mult"))
            config.chMult.push_back(json::toInt64(m, "ch_mult"));
    }
    if (document.contains("num_res_blocks"))
        config.numResBlocks = json::getInt64(document, "num_res_blocks");
    if (document.contains("num_classes"))
        config.numClasses = json::getInt64(document, "num_classes");
    if (document.contains("class_names"))
        for (const Json &name : json::toArray(json::at(document, "class_names"), "class_names"))
            config.classNames.push_back(json::toString(name, "class_names"));
    config.validate();
    return config;
}

void ClassifierConfig::validate() const
{
    if (nf < 8 || nf > 1024 || nf % 8 != 0)
        throw Error("classifier nf = " + std::to_string(nf) + ": must be a multiple of 8 between 8 and 1024");
    if (chMult.empty() || chMult.size() > 8)
        throw Error("classifier ch_mult needs 1 to 8 levels");
    for (int64_t m : chMult)
        if (m < 1 || m > 16)
            throw Error("classifier ch_mult entries must be between 1 and 16, not " + std::to_string(m));
    if (numResBlocks < 1 || numResBlocks > 16)
        throw Error("classifier num_res_blocks must be between 1 and 16, not " + std::to_string(numResBlocks));
    if (numClasses < 2 || numClasses > 100000)
        throw Error("classifier num_classes must be between 2 and 100000, not " + std::to_string(numClasses));
    if (!classNames.empty() && static_cast<int64_t>(classNames.size()) != numClasses)
        throw Error("classifier class_names has " + std::to_string(classNames.size()) + " names for " +
                    std::to_string(numClasses) + " classes");
    if (scoreConfig.isPointModel())
        throw Error("the noise-conditional classifier takes images, not points");
}

NoiseConditionalClassifierImpl::NoiseConditionalClassifierImpl(const ClassifierConfig &config)
    : config_(config), act_(Nonlinearity::Swish)
{
    config_.validate();
    const int64_t embedDim = 4 * config.nf;
    timeDense0_ = register_module("Dense_0", Dense(config.nf, embedDim));
    timeDense1_ = register_module("Dense_1", Dense(embedDim, embedDim));
    input_ = register_module("Conv_in", conv3x3(config.scoreConfig.data.numChannels, config.nf));
    blocks_ = register_module("blocks", torch::nn::ModuleList());
    int64_t channels = config.nf;
    for (size_t level = 0; level < config.chMult.size(); ++level) {
        for (int64_t i = 0; i < config.numResBlocks; ++i) {
            ResnetBlockOptions options;
            options.act = act_;
            options.in = channels;
            options.out = config.nf * config.chMult[level];
            options.tembDim = embedDim;
            options.dropout = 0.0;
            options.skipRescale = true;
            blocks_->push_back(ResnetBlockDdpmpp(options));
            channels = options.out;
        }
    }
    outputNorm_ = register_module("GroupNorm_out", GroupNorm(std::min<int64_t>(channels / 4, 32), channels));
    head_ = register_module("Dense_out", Dense(channels, config.numClasses));
}

int64_t NoiseConditionalClassifierImpl::featureSize() const
{
    return config_.nf * config_.chMult.back();
}

// The time embedding and input as in ncsnpp.NCSNpp.forward ("positional"), then the residual
// blocks of its downsampling path without attention or skips.
torch::Tensor NoiseConditionalClassifierImpl::features(const torch::Tensor &x, const torch::Tensor &t)
{
    // log sigma(t) of the VE SDE is linear in t, so t * 999 serves every SDE as the position.
    torch::Tensor temb = timestepEmbedding(t.to(torch::kFloat32) * 999.0, config_.nf); // temb: [B, nf]
    temb = timeDense1_->forward(activate(act_, timeDense0_->forward(temb)));           // temb: [B, nf * 4]
    // Data in [0, 1] is mapped to [-1, 1]; h: [B, nf, H, W]
    torch::Tensor h = input_->forward(config_.scoreConfig.data.centered ? x : 2.0 * x - 1.0);
    size_t index = 0;
    for (size_t level = 0; level < config_.chMult.size(); ++level) {
        for (int64_t i = 0; i < config_.numResBlocks; ++i)
            // h: [B, nf * ch_mult[i], H / 2^i, W / 2^i] (layerspp.ResnetBlockDDPMpp)
            h = blocks_[index++]->as<ResnetBlockDdpmppImpl>()->forward(h, temb);
        if (level + 1 < config_.chMult.size())
            h = torch::avg_pool2d(h, 2); // h: [B, nf * ch_mult[i], H / 2^(i+1), W / 2^(i+1)]
    }
    h = activate(act_, outputNorm_->forward(h)); // h: [B, F, H / 2^(L-1), W / 2^(L-1)], F = nf * ch_mult[-1]
    return h.mean({2, 3});                       // [B, F]
}

torch::Tensor NoiseConditionalClassifierImpl::forward(const torch::Tensor &x, const torch::Tensor &t)
{
    return head_->forward(features(x, t)); // [B, F] -> [B, K]
}

} // namespace sde
