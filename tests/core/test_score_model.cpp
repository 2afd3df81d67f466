// The score-function conventions of each SDE (what label the network is fed and how its output
// becomes a score), the discrete SMLD/DDPM losses, and every network option of the configs.
#include "config/presets.h"
#include "model/score_model.h"
#include "nets/score_network.h"
#include "sampling/correctors.h"
#include "sde/ve_sde.h"
#include "sde/vp_sde.h"
#include "train/losses.h"

#include "test_support.h"

#include <QtTest/QtTest>

#include <cmath>

using namespace sde;

namespace {

// A network whose output at every pixel is its label plus `offset`: it shows what the score
// function fed it.
class LabelEcho : public ScoreNetworkImpl {
public:
    explicit LabelEcho(double offset = 0.0) : offset_(offset) {}
    torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &labels) override
    {
        lastLabels = labels;
        return torch::ones_like(x) * batchView(labels.to(torch::kFloat32) + offset_, x);
    }
    torch::Tensor lastLabels;

private:
    double offset_;
};

// A network that predicts zero everywhere.
class Zero : public ScoreNetworkImpl {
public:
    torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &) override { return torch::zeros_like(x); }
};

ModelConfig smallConfig(const std::string &sde, bool continuous)
{
    ModelConfig c = loadPreset(sde == "vesde" ? "ve/cifar10_ncsnpp" : "vp/cifar10_ddpmpp");
    c.training.sde = sde;
    c.training.continuous = continuous;
    c.model.embeddingType = "positional";
    return c;
}

} // namespace

class TestScoreModel : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void veContinuousFeedsSigma()
    {
        auto net = std::make_shared<LabelEcho>();
        ScoreModel model(smallConfig("vesde", true), net);
        torch::Tensor t = torch::tensor({0.25f, 0.75f});
        torch::Tensor score = model.score(torch::zeros({2, 3, 4, 4}), t);
        torch::Tensor sigma = 0.01 * torch::pow(torch::full({2}, 5000.0), t);
        SDE_COMPARE_TENSORS(net->lastLabels, sigma, 1e-6, "labels");
        SDE_COMPARE_TENSORS(score.select(1, 0).select(1, 0).select(1, 0), sigma, 1e-6, "score = output");
    }

    void veDiscreteFeedsReversedIndex()
    {
        auto net = std::make_shared<LabelEcho>();
        ScoreModel model(smallConfig("vesde", false), net);
        torch::Tensor t = torch::tensor({1.0f, 0.5f, 1e-5f});
        model.score(torch::zeros({3, 3, 4, 4}), t);
        QCOMPARE(net->lastLabels.scalar_type(), torch::kLong);
        QCOMPARE(net->lastLabels[0].item<int64_t>(), int64_t(0));   // t = T: the largest sigma
        QCOMPARE(net->lastLabels[1].item<int64_t>(), int64_t(500)); // round(0.5 * 999)
        QCOMPARE(net->lastLabels[2].item<int64_t>(), int64_t(999)); // t -> 0: the smallest sigma
    }

    void vpContinuousDividesByStd()
    {
        auto net = std::make_shared<LabelEcho>(1.0);
        ScoreModel model(smallConfig("vpsde", true), net);
        torch::Tensor t = torch::tensor({0.1f, 0.9f});
        torch::Tensor score = model.score(torch::zeros({2, 3, 4, 4}), t);
        SDE_COMPARE_TENSORS(net->lastLabels, t * 999.0, 1e-6, "labels");
        const auto &vp = static_cast<const VpSde &>(model.sde());
        torch::Tensor std = vp.marginalProb(torch::zeros({2, 1}), t).second;
        SDE_COMPARE_TENSORS(score.flatten(1).select(1, 0), -(t * 999.0 + 1.0) / std, 1e-5, "score");
    }

    void vpDiscreteUsesTheDdpmTable()
    {
        auto net = std::make_shared<LabelEcho>(1.0);
        ScoreModel model(smallConfig("vpsde", false), net);
        torch::Tensor t = torch::tensor({0.3f, 1.0f});
        torch::Tensor score = model.score(torch::zeros({2, 3, 4, 4}), t);
        SDE_COMPARE_TENSORS(net->lastLabels, t * 999.0, 1e-6, "labels");
        // std = sqrt(1 - prod_{j <= i} (1 - beta_j)) computed here in double precision.
        for (int b = 0; b < 2; ++b) {
            const int64_t i = static_cast<int64_t>(t[b].item<float>() * 999.0f);
            double prod = 1.0;
            for (int64_t j = 0; j <= i; ++j)
                prod *= 1.0 - (0.1 / 1000 + (20.0 / 1000 - 0.1 / 1000) * j / 999.0);
            const double expected = -(t[b].item<double>() * 999.0 + 1.0) / std::sqrt(1.0 - prod);
            QVERIFY2(std::abs(score[b][0][0][0].item<double>() - expected) < 1e-4 * std::abs(expected),
                     qPrintable(QString("%1 vs %2").arg(score[b][0][0][0].item<double>()).arg(expected)));
        }
    }

    void subVpAlwaysUsesContinuousLabels()
    {
        auto net = std::make_shared<LabelEcho>();
        ModelConfig c = smallConfig("subvpsde", true);
        ScoreModel model(c, net);
        torch::Tensor t = torch::tensor({0.4f});
        model.score(torch::zeros({1, 3, 4, 4}), t);
        SDE_COMPARE_TENSORS(net->lastLabels, t * 999.0, 1e-6, "labels");
    }

    // With a network that predicts zero, the DDPM loss is the mean of z^2 and the SMLD loss
    // (target -z/sigma, weighted by sigma^2) is the mean of 1/2 sum z^2.
    void discreteLossesOfAZeroNetwork()
    {
        torch::manual_seed(1);
        torch::Tensor x0 = torch::rand({4, 3, 4, 4});
        torch::Tensor z = torch::randn({4, 3, 4, 4});
        torch::Tensor labels = torch::tensor({0, 10, 500, 999}, torch::kLong);
        ScoreModel vp(smallConfig("vpsde", false), std::make_shared<Zero>());
        const double ddpm = ddpmLoss(vp, x0, labels, z, true).item<double>();
        QVERIFY(std::abs(ddpm - z.pow(2).mean().item<double>()) < 1e-6);
        ScoreModel ve(smallConfig("vesde", false), std::make_shared<Zero>());
        const double smld = smldLoss(ve, x0, labels, z, false).item<double>();
        const double expected = (0.5 * z.pow(2).flatten(1).sum(1)).mean().item<double>();
        QVERIFY2(std::abs(smld - expected) < 1e-5 * expected, qPrintable(QString("%1 vs %2").arg(smld).arg(expected)));
        // The configured loss dispatches to them and draws its own labels.
        QVERIFY(std::isfinite(configuredLoss(vp, x0).item<double>()));
    }

    void lossTimesLieInTheReferenceRange()
    {
        auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
        torch::Tensor t = sampleLossTimes(100000, torch::TensorOptions(), gen);
        QVERIFY(t.min().item<double>() >= 1e-5);
        QVERIFY(t.max().item<double>() < 1.0);
        QVERIFY(std::abs(t.mean().item<double>() - 0.5) < 0.01);
    }

    void priorSamplesHaveThePriorStd()
    {
        auto gen = at::make_generator<at::CPUGeneratorImpl>(11);
        VeSde ve(0.01, 50.0, 1000);
        torch::Tensor z = ve.priorSampling({64, 3, 32, 32}, torch::TensorOptions(), gen);
        QVERIFY(std::abs(z.std().item<double>() - 50.0) < 0.5);
        // Same seed, same sample.
        auto again = at::make_generator<at::CPUGeneratorImpl>(11);
        QVERIFY(torch::equal(z, ve.priorSampling({64, 3, 32, 32}, torch::TensorOptions(), again)));
    }

    // Annealed Langevin dynamics: with a zero score, x - x_mean = sqrt(2 eps) z with
    // eps = 2 alpha (snr sigma(t))^2 (alpha = 1 for VE), and x_mean = x.
    void annealedLangevinStepSize()
    {
        VeSde ve(0.01, 50.0, 1000);
        ScoreFn zero = [](const torch::Tensor &x, const torch::Tensor &) { return torch::zeros_like(x); };
        auto ald = createCorrector("ald", ve, zero, 0.16, 1);
        QCOMPARE(ald->name(), std::string("ald"));
        torch::Tensor x = torch::randn({2, 1, 4, 4});
        torch::Tensor z = torch::randn({2, 1, 4, 4});
        torch::Tensor t = torch::tensor({0.3f, 0.9f});
        auto [next, mean] = ald->update(x, t, [&](const torch::Tensor &) { return z; });
        QVERIFY(torch::equal(mean, x));
        torch::Tensor eps = 2.0 * (0.16 * ve.sigma(t)).pow(2);
        SDE_COMPARE_TENSORS(next - x, batchView(torch::sqrt(2.0 * eps), z) * z, 1e-5, "ald step");
    }

    // Options no official config uses still build and run: shapes and finiteness.
    void networkVariantsRun_data()
    {
        QTest::addColumn<QString>("variant");
        for (const char *v : {"progressive residual", "combine cat", "input_skip no fir", "ddpm resblocks",
                              "output_skip no fir", "fourier unconditional scale", "ddpm net"})
            QTest::newRow(v) << v;
    }
    void networkVariantsRun()
    {
        QFETCH(QString, variant);
        ModelConfig c = loadConfigFile(test::fixtureDir("ncsnpp_ve_small") + "/config.json");
        if (variant == "progressive residual")
            c.model.progressive = "residual";
        else if (variant == "combine cat") {
            c.model.progressiveInput = "input_skip";
            c.model.progressiveCombine = "cat";
        } else if (variant == "input_skip no fir") {
            c.model.progressiveInput = "input_skip";
            c.model.fir = false;
        } else if (variant == "ddpm resblocks") {
            c.model.resblockType = "ddpm";
            c.model.progressive = "output_skip";
        } else if (variant == "output_skip no fir") {
            c.model.progressive = "output_skip";
            c.model.fir = false;
            c.model.resampWithConv = false;
        } else if (variant == "fourier unconditional scale") {
            c.model.conditional = false;
        } else if (variant == "ddpm net") {
            c.model.name = "ddpm";
            c.model.nf = 32;
            c.training.sde = "vpsde";
            c.model.scaleBySigma = false;
        }
        torch::manual_seed(0);
        ScoreModel model(c, createScoreNetwork(c));
        torch::NoGradGuard noGrad;
        torch::Tensor x = torch::rand({2, 3, 16, 16});
        torch::Tensor s = model.score(x, torch::tensor({0.2f, 0.7f}));
        QCOMPARE(s.sizes().vec(), (std::vector<int64_t>{2, 3, 16, 16}));
        QVERIFY(torch::isfinite(s).all().item<bool>());
        // The output depends on the input (the network is not a constant).
        torch::Tensor s2 = model.score(x.flip({3}), torch::tensor({0.2f, 0.7f}));
        QVERIFY(!torch::allclose(s, s2));
    }
};

QTEST_GUILESS_MAIN(TestScoreModel)
#include "test_score_model.moc"
