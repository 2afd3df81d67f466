// Inpainting, colorization and class-conditional sampling: with the reference's PC sampler, and
// with the probability-flow ODE and the fast samplers through knownDataScore / the guided score.
#include "config/presets.h"
#include "data/image_data.h"
#include "editing/colorization.h"
#include "editing/guidance.h"
#include "editing/inpainting.h"
#include "editing/interpolation.h"
#include "imaging/mask_file.h"
#include "io/bundled_models.h"
#include "io/model_file.h"
#include "model/score_model.h"
#include "util/batch.h"
#include "util/error.h"
#include "util/files.h"

#include "error_of.h"
#include "fixture_model.h"
#include "gaussian_oracle.h"
#include "test_support.h"

#include <QtTest/QtTest>

#include <opencv2/imgcodecs.hpp>

#include <filesystem>

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

// Settings for a sampler by id: "pc" (300 steps, no corrector), "ode" (RK45) or a fast sampler
// at about `nfe` evaluations; with `stochastic`, "ddim" is ancestral (eta 1) and "edm" has churn.
SamplingSettings settingsFor(const ModelConfig &config, const std::string &method, int64_t nfe, uint64_t seed,
                             bool stochastic)
{
    SamplingSettings settings = SamplingSettings::fromConfig(config);
    settings.method = method;
    settings.seed = seed;
    settings.pc.corrector = "none";
    settings.pc.steps = 300;
    settings.fast.solver = method;
    if (isFastSolver(method))
        settings.fast.steps = stepsForNfe(method, nfe);
    settings.fast.eta = stochastic ? 1.0 : 0.0;
    settings.fast.churn = stochastic ? 5.0 : 0.0;
    return settings;
}

void addSamplerRows()
{
    QTest::addColumn<QString>("sde");
    QTest::addColumn<QString>("method");
    for (const char *sde : {"vpsde", "vesde", "subvpsde"})
        for (const char *method : {"ode", "dpm2m", "dpm3m", "dpm2s", "edm", "ddim", "adaptive"})
            QTest::newRow((std::string(sde) + " " + method).c_str()) << sde << method;
}

// Grid samplers take the same steps whatever the known pixels; RK45 and the adaptive sampler
// size their steps by errors over all pixels.
bool fixedGrid(const std::string &method)
{
    return method != "ode" && method != "adaptive";
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
            QVERIFY2(QString(e.what()).contains("[1, 3, 8, 8]") && QString(e.what()).contains("[B, 3, 16, 16]"),
                     e.what());
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

    void classifierGuidancePicksTheClass_data()
    {
        QTest::addColumn<QString>("method");
        for (const char *method : {"pc", "ode", "dpm2m", "dpm3m", "dpm2s", "edm", "ddim", "adaptive"})
            QTest::newRow(method) << method;
    }
    // Scale 1 makes the guided score the exact score of class 1, N(+mu 1, s^2 I): every sampler
    // must draw from it (DDIM and EDM in their deterministic form: their stochastic forms are
    // less accurate at 30 NFE whatever the score, see test_fast_samplers).
    void classifierGuidancePicksTheClass()
    {
        QFETCH(QString, method);
        ModelConfig config = loadPreset("vp/cifar10_ddpmpp_continuous");
        config.data.numChannels = 1;
        config.data.imageSize = 4;
        auto sde = createSde(config);
        ScoreModel model(config, std::make_shared<MixtureNetwork>(*sde));
        Mixture mixture{*sde};
        ClassifierFn classifier = [&](const torch::Tensor &x, const torch::Tensor &t) { return mixture.logits(x, t); };
        const SamplingSettings settings = settingsFor(config, method.toStdString(), 100, 1, false);
        torch::Tensor ones = torch::ones({64}, torch::kLong);
        SampleResult guided = sampleClass(model, classifier, ones, 1.0, settings);
        QCOMPARE(guided.x.size(0), int64_t(64));
        torch::Tensor means = guided.x.flatten(1).mean(1);
        QVERIFY2((means > 0).all().item<bool>(), "a guided sample left class 1");
        const double mean = means.mean().item<double>(),
                     std = (guided.x - Mixture::mu).pow(2).mean().sqrt().item<double>();
        QVERIFY2(std::abs(mean - Mixture::mu) < 0.03, qPrintable(QString("mean %1").arg(mean)));
        QVERIFY2(std::abs(std / Mixture::s - 1.0) < 0.1, qPrintable(QString("std %1").arg(std)));
        SampleResult unguided = sampleClass(model, classifier, ones, 0.0, settings);
        const double positive = (unguided.x.flatten(1).mean(1) > 0).to(torch::kFloat64).mean().item<double>();
        QVERIFY2(positive > 0.2 && positive < 0.8,
                 qPrintable(QString("fraction in class 1 without guidance: %1").arg(positive)));
        for (const double bad : {-1.0, kMaxGuidanceScale * 1.01, std::nan("")})
            QVERIFY_THROWS_EXCEPTION(Error, sampleClass(model, classifier, ones, bad, settings));
    }

    // The masks of the front ends (README, Masks): a mask file's gray level m is the fill weight
    // m / 255. Weight 0 keeps the image's pixel exactly, every pixel above 0 is generated, and the
    // result is m generated + (1 - m) image: checked against the plain inpainter run on the region
    // m > 0 with the same seed.
    void fillMasksGenerateAndBlend()
    {
        auto model = test::oracleModel("vpsde");
        SamplingSettings settings = settingsFor(model->config(), "ddim", 6, 5, true);
        settings.batch = 2;
        torch::manual_seed(13);
        const torch::Tensor images = torch::rand({2, 1, 16, 16});
        // A soft-edged mask file: levels 0 (keep), 1, 128, 254 and 255 (generate) across the middle.
        torch::Tensor levels = torch::zeros({1, 16, 16});
        const int edge[] = {0, 1, 128, 254, 255, 255, 254, 128, 1, 0};
        for (int x = 0; x < 10; ++x)
            levels.slice(1, 4, 12).select(2, 3 + x).fill_(edge[x]);
        const std::string path = test::makeTempDir() + "/mask.png";
        saveFillMask(path, levels / 255.0);
        const torch::Tensor fill = loadFillMask(path, 16, 16);
        QCOMPARE((fill * 255.0 - levels).abs().max().item<float>(), 0.0f);
        QVERIFY(torch::equal(knownPixels(fill), (levels == 0).to(torch::kFloat32)));

        const torch::Tensor weight = fill.unsqueeze(0); // [1, 1, 16, 16]
        SampleResult r = inpaintWithFillMask(*model, images, weight, settings);
        QVERIFY(r.completed);
        const SampleResult plain = inpaint(*model, images, knownPixels(weight), settings);
        const torch::Tensor w = weight.expand_as(images);
        SDE_COMPARE_TENSORS(r.samples, w * plain.samples + (1.0 - w) * images, 1e-6, "the blend");
        const torch::Tensor keep = w == 0;
        QVERIFY(torch::equal(r.samples.masked_select(keep), images.masked_select(keep)));
        const torch::Tensor full = w == 1;
        QVERIFY(torch::equal(r.samples.masked_select(full), plain.samples.masked_select(full)));
        QVERIFY((r.samples - images).masked_select(full).abs().mean().item<double>() > 0.05);
        QVERIFY_THROWS_EXCEPTION(Error, inpaintWithFillMask(*model, images, weight * 2.0, settings));
        QVERIFY_THROWS_EXCEPTION(Error, inpaintWithFillMask(*model, images, weight - 0.01, settings));
        torch::Tensor withNan = weight.clone();
        withNan.view({-1})[3] = std::numeric_limits<float>::quiet_NaN();
        QVERIFY_THROWS_EXCEPTION(Error, inpaintWithFillMask(*model, images, withNan, settings));
    }

    // Mask files load through loadImage: 16-bit levels round to the nearest of the 256 steps, a
    // transparent pixel is white (fill), and a mask of another size is an error naming the file.
    void maskFilesOfEveryKind()
    {
        const std::string dir = test::makeTempDir();
        cv::Mat deep(1, 4, CV_16UC1);
        const int deepLevels[] = {0, 1, 128 * 257, 65535};
        for (int x = 0; x < 4; ++x)
            deep.at<uint16_t>(0, x) = static_cast<uint16_t>(deepLevels[x]);
        QVERIFY(cv::imwrite(dir + "/deep.png", deep));
        const torch::Tensor fromDeep = loadFillMask(dir + "/deep.png", 1, 4);
        QCOMPARE(fromDeep.sizes().vec(), (std::vector<int64_t>{1, 1, 4}));
        QVERIFY(torch::equal(fromDeep * 255.0, torch::tensor({0.0f, 0.0f, 128.0f, 255.0f}).view({1, 1, 4})));

        cv::Mat rgba(1, 2, CV_8UC4);
        rgba.at<cv::Vec4b>(0, 0) = {0, 0, 0, 255}; // opaque black: keep
        rgba.at<cv::Vec4b>(0, 1) = {0, 0, 0, 0};   // transparent: white, fill
        QVERIFY(cv::imwrite(dir + "/alpha.png", rgba));
        QVERIFY(torch::equal(loadFillMask(dir + "/alpha.png", 1, 2), torch::tensor({0.0f, 1.0f}).view({1, 1, 2})));

        QCOMPARE(test::errorOf([&] { loadFillMask(dir + "/alpha.png", 16, 16); }),
                 QString::fromStdString("the mask '" + dir + "/alpha.png' is 2 x 1 pixels; its image is 16 x 16"));
        // The size is read from the header before decoding: a PNG whose header declares 8000 x 8000
        // pixels (its checksum and data left as they were) is refused by its size, not decoded.
        std::string big = readFile(dir + "/alpha.png");
        const char side[4] = {0, 0, char(0x1f), char(0x40)}; // 8000, big-endian
        big.replace(16, 4, side, 4);
        big.replace(20, 4, side, 4);
        writeFileAtomically(dir + "/big.png", big);
        QCOMPARE(test::errorOf([&] { loadFillMask(dir + "/big.png", 1, 2); }),
                 QString::fromStdString("the mask '" + dir + "/big.png' is 8000 x 8000 pixels; its image is 2 x 1"));
    }

    // With data of independent pixels (the Gaussian oracle) the known pixels tell nothing about
    // the others: a filled pixel follows exactly the path it takes in an unconditional run from the
    // same seed (grid samplers, DDIM and EDM in their stochastic forms), or at least draws from the
    // data's marginal N(0, 0.5^2) (RK45 and the adaptive sampler, whose steps follow all pixels).
    void inpaintingWithEverySamplerKeepsTheKnownPixels_data() { addSamplerRows(); }
    void inpaintingWithEverySamplerKeepsTheKnownPixels()
    {
        QFETCH(QString, sde);
        QFETCH(QString, method);
        auto model = test::oracleModel(sde.toStdString());
        const std::string id = method.toStdString();
        SamplingSettings settings = settingsFor(model->config(), id, 20, 21, true);
        settings.batch = 8;
        torch::manual_seed(12);
        torch::Tensor images = torch::rand({8, 1, 16, 16});
        torch::Tensor mask = torch::ones({1, 1, 16, 16});
        mask.slice(2, 2, 14).slice(3, 2, 14).fill_(0.0);
        torch::Tensor known = mask.expand_as(images) > 0.5;
        // The run's own denoised estimates hold the known pixels at every step.
        const torch::Tensor data = model->scaler(images).masked_select(known);
        double drift = 0.0;
        int64_t steps = 0;
        SamplerCallback onStep = [&](const SamplerStep &step) {
            drift = std::max(drift, (step.denoised().masked_select(known) - data).abs().max().item<double>());
            ++steps;
        };
        SampleResult r = inpaint(*model, images, mask, settings, onStep);
        QVERIFY(r.completed);
        QVERIFY(steps >= 2);
        QVERIFY2(drift < 1e-4, qPrintable(QString("known pixels of the estimates off by %1").arg(drift)));
        SDE_COMPARE_TENSORS(r.samples.masked_select(known), images.masked_select(known), 1e-6, "known pixels");
        torch::Tensor filled = r.x.masked_select(~known);
        if (fixedGrid(id)) {
            SampleResult free = runSampler(*model, settings);
            SDE_COMPARE_TENSORS(filled, free.x.masked_select(~known), 1e-5, "filled pixels");
            QCOMPARE(r.nfe, free.nfe);
        } else {
            const double std = filled.pow(2).mean().sqrt().item<double>();
            QVERIFY2(std::abs(std / test::kDataStd - 1.0) < 0.08, qPrintable(QString("filled std %1").arg(std)));
        }
    }

    // The same for colors: in the decoupled space the gray channel is known and the two color
    // channels are independent of it.
    void colorizationWithEverySamplerKeepsTheGrayLevel_data() { addSamplerRows(); }
    void colorizationWithEverySamplerKeepsTheGrayLevel()
    {
        QFETCH(QString, sde);
        QFETCH(QString, method);
        auto model = test::oracleModel(sde.toStdString(), 3);
        const std::string id = method.toStdString();
        SamplingSettings settings = settingsFor(model->config(), id, 20, 31, true);
        settings.batch = 4;
        torch::manual_seed(14);
        torch::Tensor gray = torch::rand({4, 1, 16, 16}) * 0.6 + 0.2;
        const torch::Tensor M = colorDecouplingMatrix();
        auto decoupledGray = [&](const torch::Tensor &x) {
            return torch::einsum("bihw,ij->bjhw", {x, M}).select(1, 0);
        };
        // The run's own denoised estimates hold the gray channel at every step.
        const torch::Tensor data = decoupledGray(model->scaler(gray.expand({-1, 3, -1, -1})));
        double drift = 0.0;
        SamplerCallback onStep = [&](const SamplerStep &step) {
            drift = std::max(drift, (decoupledGray(step.denoised()) - data).abs().max().item<double>());
        };
        SampleResult r = colorize(*model, gray, settings, onStep);
        QVERIFY(r.completed);
        QVERIFY2(drift < 1e-4, qPrintable(QString("gray channel of the estimates off by %1").arg(drift)));
        QCOMPARE(r.samples.sizes().vec(), (std::vector<int64_t>{4, 3, 16, 16}));
        SDE_COMPARE_TENSORS(grayLevel(r.samples), gray, 1e-5, "gray level");
        auto colors = [&](const torch::Tensor &x) { return torch::einsum("bihw,ij->bjhw", {x, M}).slice(1, 1, 3); };
        if (fixedGrid(id)) {
            SDE_COMPARE_TENSORS(colors(r.x), colors(runSampler(*model, settings).x), 1e-4, "color channels");
        } else {
            const double std = colors(r.x).pow(2).mean().sqrt().item<double>();
            QVERIFY2(std::abs(std / test::kDataStd - 1.0) < 0.08, qPrintable(QString("color std %1").arg(std)));
        }
    }

    // On real data the known pixels must shape the fill: with the bundled Fashion-MNIST model,
    // lower halves of test garments filled in 20 evaluations come closer to the truth than the
    // lower halves of unconditional samples from the same seeds. A deterministic sampler commits
    // to its garment early and cannot correct it later, so it gains less than a stochastic one
    // (measured: 0.25 DPM-Solver++ 2M and 0.18 ancestral DDIM against 0.33 unconditional; the
    // reference's PC inpainter at 1000 NFE 0.16).
    void fastInpaintingUsesTheKnownPixels_data()
    {
        QTest::addColumn<QString>("method");
        QTest::addColumn<bool>("stochastic");
        QTest::addColumn<double>("bound");
        QTest::newRow("dpm2m") << "dpm2m" << false << 0.85;
        QTest::newRow("ddim eta 1") << "ddim" << true << 0.65;
    }
    void fastInpaintingUsesTheKnownPixels()
    {
        QFETCH(QString, method);
        QFETCH(bool, stochastic);
        QFETCH(double, bound);
        const std::string path = fashionMnistImagesPath("test");
        if (!std::filesystem::exists(path))
            QSKIP("dataset-fashion-mnist is not installed");
        LoadedModel loaded = loadModelFile(resolveModelPath("fashion-mnist"));
        const ScoreModel &model = *loaded.model;
        torch::Tensor images = IdxTrainingData(path, model.sampleShape()[1], 1, false).images().slice(0, 0, 16);
        torch::Tensor mask = torch::ones({1, 1, images.size(2), images.size(3)});
        mask.slice(2, images.size(2) / 2).fill_(0.0);
        SamplingSettings settings = settingsFor(model.config(), method.toStdString(), 20, 41, stochastic);
        settings.batch = images.size(0);
        SampleResult filled = inpaint(model, images, mask, settings);
        SampleResult free = runSampler(model, settings);
        QCOMPARE(filled.nfe, int64_t(20));
        auto holeError = [&](const torch::Tensor &x) {
            return (x - images).slice(2, images.size(2) / 2).abs().mean().item<double>();
        };
        const double conditional = holeError(filled.samples), unconditional = holeError(free.samples);
        QVERIFY2(conditional < bound * unconditional,
                 qPrintable(QString("hole error %1 inpainted, %2 unconditional").arg(conditional).arg(unconditional)));
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
        QVERIFY(torch::allclose(slerp(z0, z0, 0.3), z0, 1e-5, 1e-5));         // parallel: no division by 0
        // The frames' positions: evenly spaced, both ends included.
        QCOMPARE(evenPositions(5), (std::vector<double>{0.0, 0.25, 0.5, 0.75, 1.0}));
        QCOMPARE(evenPositions(2), (std::vector<double>{0.0, 1.0}));
        QVERIFY_THROWS_EXCEPTION(Error, evenPositions(1));
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

        // The fast decode (the fast default solver, 20 NFE) of the same latents agrees with RK45's,
        // gives each frame independently of the others it is decoded with, and refuses a solver
        // that draws noise.
        FastSamplerOptions fast;
        fast.solver = "dpm3m";
        fast.steps = stepsForNfe("dpm3m", 20);
        const std::vector<double> alphas = {0.0, 0.5, 1.0};
        Interpolation quick = decodeInterpolation(model, r.latents, alphas, fast);
        QVERIFY(quick.completed);
        QCOMPARE(quick.nfe, int64_t(20));
        const double gap = (quick.frames - r.frames).abs().max().item<double>();
        QVERIFY2(gap < 0.02, qPrintable(QString("fast decode %1 from RK45's").arg(gap)));
        Interpolation middle = decodeInterpolation(model, r.latents, {0.5}, fast);
        QVERIFY(torch::allclose(middle.frames[0], quick.frames[1], 1e-6, 1e-6));
        fast.temperature = 0.8;
        QVERIFY((decodeInterpolation(model, r.latents, alphas, fast).frames - quick.frames).abs().max().item<double>() >
                1e-3);
        for (const auto &[solver, noisy] : std::vector<std::pair<std::string, bool>>{
                 {"ddim", false}, {"edm", false}, {"adaptive", true}, {"ddim eta 1", true}, {"edm churn", true}}) {
            FastSamplerOptions options = fast;
            options.solver = solver.substr(0, solver.find(' '));
            options.eta = solver == "ddim eta 1" ? 1.0 : 0.0;
            options.churn = solver == "edm churn" ? 5.0 : 0.0;
            QCOMPARE(decodesDeterministically(options), !noisy);
            if (noisy)
                QVERIFY_THROWS_EXCEPTION(Error, decodeInterpolation(model, r.latents, alphas, options));
        }
    }

    // Image i is made again by its seed alone, whatever its batch (README): a table over every
    // sampler of the catalogue, for generation, inpainting and colorization, on both fixture
    // networks. Issue 18, case 3: RK45 sized one step for the whole batch, so an image changed
    // with the other images of its batch.
    void imageDependsOnItsSeedAlone_data()
    {
        QTest::addColumn<QString>("fixture");
        QTest::addColumn<QString>("method");
        QTest::addColumn<QString>("task");
        for (const char *fixture : {"ncsnpp_ve_small", "ddpmpp_vp_small"})
            for (const std::string &method : samplingMethodIds())
                for (const std::string task : {"generate", "inpaint", "colorize"})
                    if (task != "colorize" || std::string(fixture) == "ncsnpp_ve_small") // the RGB one
                        QTest::newRow((std::string(fixture) + " " + method + " " + task).c_str())
                            << fixture << QString::fromStdString(method) << QString::fromStdString(task);
    }
    void imageDependsOnItsSeedAlone()
    {
        QFETCH(QString, fixture);
        QFETCH(QString, method);
        QFETCH(QString, task);
        LoadedModel loaded = fixtureModel(fixture.toStdString());
        const ScoreModel &model = *loaded.model;
        const std::string id = method.toStdString();
        SamplingSettings settings = SamplingSettings::fromConfig(model.config());
        settings.method = id;
        settings.fast.solver = id;
        settings.pc.steps = std::max<int64_t>(6, minimumPcSteps(model.config(), settings.pc));
        settings.ode.ode.rtol = settings.ode.ode.atol = 1e-2;
        settings.fast.steps = 4;
        settings.fast.eta = 1.0;    // ancestral DDIM
        settings.fast.churn = 10.0; // EDM with fresh noise
        settings.fast.rtol = settings.fast.atol = 0.5;
        const std::vector<int64_t> shape = model.sampleShape();
        torch::manual_seed(5);
        const torch::Tensor images = torch::rand({3, shape[0], shape[1], shape[2]});
        torch::Tensor mask = torch::zeros({1, 1, shape[1], shape[2]});
        mask.slice(2, 0, shape[1] / 2).fill_(1.0); // the upper half is known
        auto run = [&](const torch::Tensor &inputs, uint64_t seed) {
            SamplingSettings s = settings;
            s.seed = seed;
            s.batch = inputs.size(0);
            if (task == "inpaint")
                return inpaint(model, inputs, mask, s).samples;
            if (task == "colorize")
                return colorize(model, grayLevel(inputs), s).samples;
            return runSampler(model, s).samples;
        };
        const torch::Tensor batch = run(images, 42);
        const torch::Tensor alone = run(images.slice(0, 2, 3), 44);
        QVERIFY(torch::isfinite(batch).all().item<bool>());
        SDE_COMPARE_TENSORS(alone[0], batch[2], 1e-4, "image 3 of the batch against its seed alone");
        QVERIFY2((batch[2] - batch[1]).abs().max().item<double>() > 1e-3, "images 2 and 3 should differ");
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
