#pragma once

// A score model whose score is exact for Gaussian data N(0, dataStd^2 I): the samplers' answers
// are known in closed form, so a test can check them against truth.
#include "config/presets.h"
#include "model/score_model.h"
#include "util/batch.h"

#include <cmath>
#include <memory>
#include <string>

namespace sde::test {

constexpr double kDataStd = 0.5; // data ~ N(0, 0.5^2 I) in the model's range

// Makes the score exact under both conventions: VP-type models divide the network output by
// -std(t), VE models use it as the score.
class GaussianOracle : public ScoreNetworkImpl {
public:
    explicit GaussianOracle(const ModelConfig &config) : sde_(createSde(config)) {}
    torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &labels) override
    {
        torch::Tensor t;
        if (sde_->kind() == Sde::Kind::Ve) // continuous VE labels are sigma(t)
            t = torch::log(labels / 0.01) / std::log(50.0 / 0.01);
        else
            t = labels / 999.0;
        torch::Tensor a = sde_->meanCoefficient(t);
        torch::Tensor std = sde_->marginalStd(t);
        torch::Tensor v = a.pow(2) * kDataStd * kDataStd + std.pow(2);
        torch::Tensor score = -x / batchView(v, x);
        return sde_->kind() == Sde::Kind::Ve ? score : -score * batchView(std, x);
    }

private:
    std::unique_ptr<Sde> sde_;
};

// A 16x16 model (D = 256 per channel: the SNR rule of the Langevin corrector assumes many
// dimensions) of centered data with the exact score, for vesde, vpsde or subvpsde.
inline std::unique_ptr<ScoreModel> oracleModel(const std::string &sde, int64_t channels = 1)
{
    ModelConfig config = loadPreset(sde == "vesde" ? "ve/cifar10_ncsnpp_continuous" : "vp/cifar10_ddpmpp_continuous");
    config.training.sde = sde;
    config.data.numChannels = channels;
    config.data.imageSize = 16;
    config.data.centered = true;
    return std::make_unique<ScoreModel>(config, std::make_shared<GaussianOracle>(config));
}

} // namespace sde::test
