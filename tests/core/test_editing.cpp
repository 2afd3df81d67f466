// Inpainting and colorization with the PC sampler.
#include "editing/colorization.h"
#include "editing/guidance.h"
#include "editing/inpainting.h"
#include "editing/interpolation.h"
#include "util/batch.h"
#include "io/model_file.h"
#include "model/score_model.h"
#include "util/error.h"

#include "fixture_model.h"
#include "test_support.h"

#include <QtTest/QtTest>

using namespace sde;
using sde::test::fixtureModel;

namespace {

// Two classes of VP-model data: N(-mu 1, s^2 I) and N(+mu 1, s^2 I) with equal weights. The
// network makes the mixture's score exact; `logits` is the exact noisy classifier p_t(y | x).
struct Mixture {
    static constexpr double mu = 0.5, s = 0.2;
    const Sde &sde;
    torch::Tensor logits(const torch::Tensor &x, const torch::Tensor &t) const
    {
        torch::Tensor a = batchView(sde.meanCoefficient(t), x);
        torch::Tensor v = (sde.meanCoefficient(t).pow(2) * s * s + sde.marginalStd(t).pow(2));
        torch::Tensor d0 = (x + a * mu).pow(2).flatten(1).sum(1), d1 = (x - a * mu).pow(2).flatten(1).sum(1);
        return torch::stack({-d0 / (2 * v), -d1 / (2 * v)}, 1);
    }
    torch::Tensor score(const torch::Tensor &x, const torch::Tensor &t) const
    {
        torch::Tensor w = torch::softmax(logits(x, t), 1);
        torch::Tensor a = batchView(sde.meanCoefficient(t), x);
        torch::Tensor v = batchView(sde.meanCoefficient(t).pow(2) * s * s + sde.marginalStd(t).pow(2), x);
        return (batchView(w.select(1, 0), x) * (-(x + a * mu)) + batchView(w.select(1, 1), x) * (-(x - a * mu))) / v;
    }
};

class MixtureNetwork : public ScoreNetworkImpl {
public:
    explicit MixtureNetwork(const Sde &sde) : mixture_{sde} {}
    torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &labels) override
    {
        torch::Tensor t = labels / 999.0;
        return -mixture_.score(x, t) * batchView(mixture_.sde.marginalStd(t), x);
    }
    Mixture mixture_;
};

PcSamplerOptions fewSteps(const ScoreModel &model)
{
    PcSamplerOptions options = PcSamplerOptions::fromConfig(model.config());
    options.steps = 10;
    return options;
}

} // namespace

class TestEditing : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void inpaintingKeepsTheKnownPixels_data()
    {
        QTest::addColumn<QString>("fixture");
        QTest::newRow("ncsnpp_ve_small") << "ncsnpp_ve_small";
        QTest::newRow("ddpmpp_vp_small") << "ddpmpp_vp_small";
    }
    void inpaintingKeepsTheKnownPixels()
    {
        QFETCH(QString, fixture);
        LoadedModel loaded = fixtureModel(fixture.toStdString());
        const ScoreModel &model = *loaded.model;
        const auto shape = model.sampleShape();
        torch::manual_seed(4);
        torch::Tensor images = torch::rand({2, shape[0], shape[1], shape[2]});
        torch::Tensor mask = torch::ones({1, 1, shape[1], shape[2]});
        mask.slice(2, 4, 12).slice(3, 4, 12).fill_(0.0); // fill the central square
        SampleResult r = inpaint(model, images, mask, 11, fewSteps(model));
        torch::Tensor known = mask.expand_as(images) > 0.5;
        QVERIFY(torch::equal(r.samples.masked_select(known), images.masked_select(known)));
        // The hole was filled with something new.
        QVERIFY((r.samples - images).masked_select(~known).abs().max().item<double>() > 0.05);
        // Reproducible with the same seed.
        SampleResult again = inpaint(model, images, mask, 11, fewSteps(model));
        QVERIFY(torch::equal(again.samples, r.samples));
    }

    void inpaintingRefusesShapesThatDoNotFit()
    {
        LoadedModel loaded = fixtureModel("ncsnpp_ve_small");
        const PcSamplerOptions options = fewSteps(*loaded.model);
        try {
            inpaint(*loaded.model, torch::rand({1, 3, 8, 8}), torch::ones({1, 1, 8, 8}), 0, options);
            QFAIL("expected an error");
        } catch (const Error &e) {
            QVERIFY2(QString(e.what()).contains("[1, 3, 8, 8]") && QString(e.what()).contains("[B, 3, 16, 16]"), e.what());
        }
        try {
            inpaint(*loaded.model, torch::rand({1, 3, 16, 16}), torch::ones({1, 1, 8, 8}), 0, options);
            QFAIL("expected an error");
        } catch (const Error &e) {
            QVERIFY2(QString(e.what()).contains("mask"), e.what());
        }
    }

    void decouplingMatrixIsOrthogonal()
    {
        torch::Tensor M = colorDecouplingMatrix().to(torch::kFloat64);
        QVERIFY(torch::allclose(M.matmul(M.t()), torch::eye(3, torch::kFloat64), 1e-6, 1e-6));
        QVERIFY(torch::allclose(M.select(1, 0), torch::full({3}, 1.0 / std::sqrt(3.0), torch::kFloat64), 1e-6, 1e-6));
    }

    void colorizationKeepsTheGrayLevel()
    {
        LoadedModel loaded = fixtureModel("ncsnpp_ve_small");
        torch::manual_seed(6);
        torch::Tensor color = torch::rand({2, 3, 16, 16}) * 0.8 + 0.1;
        SampleResult r = colorize(*loaded.model, color, 3, fewSteps(*loaded.model));
        QCOMPARE(r.samples.sizes().vec(), (std::vector<int64_t>{2, 3, 16, 16}));
        // Within float32 round-off of the reference's matrix (its float32 entries are orthogonal to ~1e-7).
        SDE_COMPARE_TENSORS(grayLevel(r.samples), grayLevel(color), 1e-4, "gray level");
        // The colors are new: the channels are no longer equal.
        QVERIFY((r.samples.select(1, 0) - r.samples.select(1, 1)).abs().max().item<double>() > 0.01);
        // A one-channel gray input gives the same result as its three-channel form.
        SampleResult fromGray = colorize(*loaded.model, grayLevel(color), 3, fewSteps(*loaded.model));
        SDE_COMPARE_TENSORS(fromGray.samples, r.samples, 1e-5, "gray input");
    }

    void classifierGuidancePicksTheClass()
    {
        ModelConfig config = loadPreset("vp/cifar10_ddpmpp_continuous");
        config.data.numChannels = 1;
        config.data.imageSize = 4;
        auto sde = createSde(config);
        ScoreModel model(config, std::make_shared<MixtureNetwork>(*sde));
        Mixture mixture{*sde};
        ClassifierFn classifier = [&](const torch::Tensor &x, const torch::Tensor &t) { return mixture.logits(x, t); };
        PcSamplerOptions options;
        options.corrector = "none";
        options.steps = 300;
        torch::Tensor ones = torch::ones({64}, torch::kLong);
        SampleResult guided = sampleClass(model, classifier, ones, 1.0, 1, options);
        torch::Tensor means = guided.x.flatten(1).mean(1);
        QVERIFY2((means > 0).all().item<bool>(), "a guided sample left class 1");
        QVERIFY(std::abs(means.mean().item<double>() - Mixture::mu) < 0.05);
        SampleResult unguided = sampleClass(model, classifier, ones, 0.0, 1, options);
        const double positive = (unguided.x.flatten(1).mean(1) > 0).to(torch::kFloat64).mean().item<double>();
        QVERIFY2(positive > 0.2 && positive < 0.8, qPrintable(QString("fraction in class 1 without guidance: %1").arg(positive)));
        QVERIFY_THROWS_EXCEPTION(Error, sampleClass(model, classifier, ones, -1.0, 1, options));
    }

    void slerpKeepsTheNormOfEqualNormLatents()
    {
        torch::manual_seed(8);
        torch::Tensor z0 = torch::randn({1, 3, 8, 8}), z1 = torch::randn({1, 3, 8, 8});
        z1 = z1 * (z0.norm() / z1.norm());
        QVERIFY(torch::allclose(slerp(z0, z1, 0.0), z0, 1e-5, 1e-5));
        QVERIFY(torch::allclose(slerp(z0, z1, 1.0), z1, 1e-5, 1e-5));
        const double middle = slerp(z0, z1, 0.5).norm().item<double>();
        QVERIFY(std::abs(middle - z0.norm().item<double>()) < 1e-3 * middle); // linear would shrink it
        QVERIFY(torch::allclose(slerp(z0, z0, 0.3), z0, 1e-5, 1e-5));       // parallel: no division by 0
    }

    void interpolationEndpointsReproduceTheInputs()
    {
        ModelConfig config = loadPreset("vp/cifar10_ddpmpp_continuous");
        config.data.numChannels = 1;
        config.data.imageSize = 4;
        auto sde = createSde(config);
        ScoreModel model(config, std::make_shared<MixtureNetwork>(*sde));
        torch::manual_seed(10);
        torch::Tensor a = torch::rand({1, 4, 4}) * 0.3 + 0.6, b = torch::rand({1, 4, 4}) * 0.3 + 0.1;
        Interpolation r = interpolateImages(model, a, b, {0.0, 0.5, 1.0}, OdeSamplerOptions{});
        QVERIFY(r.completed);
        QCOMPARE(r.frames.size(0), int64_t(3));
        QVERIFY2((r.frames[0] - a).abs().max().item<double>() < 2e-3, "alpha 0 is not the first image");
        QVERIFY2((r.frames[2] - b).abs().max().item<double>() < 2e-3, "alpha 1 is not the second image");
        QVERIFY((r.frames[1] - a).abs().max().item<double>() > 0.01);
    }

    void colorizationNeedsAnRgbModel()
    {
        LoadedModel gray = fixtureModel("ddpmpp_vp_small");
        try {
            colorize(*gray.model, torch::rand({1, 1, 16, 16}), 0, fewSteps(*gray.model));
            QFAIL("expected an error");
        } catch (const Error &e) {
            QVERIFY2(QString(e.what()).contains("RGB"), e.what());
        }
    }
};

QTEST_GUILESS_MAIN(TestEditing)
#include "test_editing.moc"
