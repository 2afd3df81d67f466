// The oneDNN evaluation path of the score networks (nets/inference.h) against the plain one:
// the same scores within 1e-4 relative for every architecture (NCSN++, DDPM++, the bundled
// Fashion-MNIST and photo-rgb models, the noise-conditional classifier), prepacked weights that follow
// their tensors when these change, the plain path whenever a gradient is recorded, and
// ordinary (not inference-mode) tensors handed back. Bfloat16 evaluations: close to float32 but not
// equal to it (so they really ran in bfloat16), float32 again when switched back and whenever a
// gradient is recorded, samples from the same seed close to float32's, and precisions a device
// cannot run refused by name.
#include "config/presets.h"
#include "io/bundled_models.h"
#include "io/classifier_file.h"
#include "io/model_file.h"
#include "model/score_model.h"
#include "nets/inference.h"
#include "sampling/sampling_settings.h"
#include "util/device.h"
#include "util/error.h"

#include "fixture_model.h"
#include "test_support.h"

#include <QtTest/QtTest>

#include <thread>

using namespace sde;
using sde::test::fixtureModel;

namespace {

std::pair<torch::Tensor, torch::Tensor> inputsFor(const ScoreModel &model, int64_t batch)
{
    torch::manual_seed(3);
    std::vector<int64_t> shape = model.sampleShape();
    shape.insert(shape.begin(), batch);
    const double eps = model.config().samplingEps();
    return {torch::randn(shape) * 0.7, torch::rand({batch}) * (1.0 - eps) + eps};
}

torch::Tensor scoreOn(EvaluationPath path, const ScoreModel &model, const torch::Tensor &x, const torch::Tensor &t,
                      EvaluationPrecision precision = EvaluationPrecision::Float32)
{
    EvaluationPathScope scope(path);
    EvaluationPrecisionScope precisionScope(precision);
    torch::NoGradGuard noGrad;
    return model.score(x, t);
}

std::unique_ptr<ScoreModel> modelNamed(const std::string &name)
{
    std::unique_ptr<ScoreModel> m;
    if (name.find('/') != std::string::npos) {
        torch::manual_seed(1);
        ModelConfig config = loadPreset(name);
        m = std::make_unique<ScoreModel>(config, createScoreNetwork(config));
    } else if (name == "fashion-mnist" || name == "photo-rgb") {
        m = loadModelFile(resolveModelPath(name)).model;
    } else {
        m = fixtureModel(name).model;
    }
    m->setTraining(false);
    return m;
}

// Skips the test where this CPU cannot evaluate in bfloat16.
#define SKIP_WITHOUT_BFLOAT16()                                                                                        \
    do {                                                                                                               \
        const std::string reason_ = precisionUnsupportedReason(EvaluationPrecision::BFloat16, torch::kCPU);            \
        if (!reason_.empty())                                                                                          \
            QSKIP(reason_.c_str());                                                                                    \
    } while (false)

} // namespace

class TestInference : public QObject {
    Q_OBJECT
private Q_SLOTS:
    // A thread made serial (the studio's GUI thread) has one intra-op thread; threads started
    // later have the configured count, and those set up before keep theirs. (A thread's count is
    // what LibTorch's parallel loops and oneDNN's primitives on it use: OpenMP's per-thread
    // nthreads-var, which at::get_num_threads reads.)
    void aSerialThreadLeavesTheOthersTheirThreads()
    {
        const int before = at::get_num_threads();
        const int configured = before + 2;
        int returned = 0, serial = 0, later = 0, serialAfterLater = 0;
        std::thread([&] {
            configureThreads(configured);
            returned = runThisThreadSerially();
            serial = at::get_num_threads();
            std::thread([&] { later = at::get_num_threads(); }).join();
            serialAfterLater = at::get_num_threads();
        }).join();
        int fresh = 0;
        std::thread([&] { fresh = at::get_num_threads(); }).join();
        const int here = at::get_num_threads();
        configureThreads(before);
        QCOMPARE(returned, configured);
        QCOMPARE(serial, 1);
        QCOMPARE(later, configured);
        QCOMPARE(serialAfterLater, 1);
        QCOMPARE(fresh, configured);
        QCOMPARE(here, before); // set up before: untouched
    }

    void initTestCase() { QVERIFY2(at::hasMKLDNN(), "LibTorch was built without oneDNN"); }

    void fastPathMatchesThePlainOne_data()
    {
        QTest::addColumn<QString>("model");
        QTest::newRow("NCSN++ VE fixture") << "ncsnpp_ve_small";
        QTest::newRow("DDPM++ VP fixture") << "ddpmpp_vp_small";
        QTest::newRow("bundled fashion-mnist") << "fashion-mnist";
        QTest::newRow("bundled photo-rgb") << "photo-rgb";
        QTest::newRow("CIFAR-10 NCSN++ continuous (random weights)") << "ve/cifar10_ncsnpp_continuous";
    }
    void fastPathMatchesThePlainOne()
    {
        QFETCH(QString, model);
        std::unique_ptr<ScoreModel> m = modelNamed(model.toStdString());
        for (int64_t batch : {1, 3}) {
            auto [x, t] = inputsFor(*m, batch);
            torch::Tensor plain = scoreOn(EvaluationPath::Plain, *m, x, t);
            torch::Tensor fast = scoreOn(EvaluationPath::OneDnn, *m, x, t);
            const double error = test::relativeError(fast, plain);
            qInfo("%s, batch %lld: relative difference %.2e", qPrintable(model), static_cast<long long>(batch), error);
            QVERIFY2(error <= 1e-4, qPrintable(QString("relative difference %1").arg(error)));
            QVERIFY(!torch::equal(fast, torch::zeros_like(fast)));
            QVERIFY(fast.is_contiguous());
        }
    }

    void bfloat16ScoresStayCloseToFloat32_data() { fastPathMatchesThePlainOne_data(); }
    void bfloat16ScoresStayCloseToFloat32()
    {
        SKIP_WITHOUT_BFLOAT16();
        QFETCH(QString, model);
        std::unique_ptr<ScoreModel> m = modelNamed(model.toStdString());
        auto [x, t] = inputsFor(*m, 3);
        const torch::Tensor exact = scoreOn(EvaluationPath::Plain, *m, x, t);
        const torch::Tensor half = scoreOn(EvaluationPath::OneDnn, *m, x, t, EvaluationPrecision::BFloat16);
        const double error = test::relativeError(half, exact);
        qInfo("%s: bfloat16 against float32, relative difference %.2e", qPrintable(model), error);
        QCOMPARE(half.scalar_type(), torch::kFloat32);
        // Above float32's own differences (1e-4): the convolutions did run in bfloat16.
        QVERIFY2(error > 1e-3, qPrintable(QString("relative difference %1: not bfloat16").arg(error)));
        // Measured 0.5 % (trained models) to 1.4 % (random small fixtures).
        QVERIFY2(error < 0.03, qPrintable(QString("relative difference %1").arg(error)));
        // Back in float32, the float32 weights are packed again.
        SDE_COMPARE_TENSORS(scoreOn(EvaluationPath::OneDnn, *m, x, t), exact, 1e-4, "float32 after bfloat16");
    }

    void bfloat16SamplesStayCloseToFloat32()
    {
        SKIP_WITHOUT_BFLOAT16();
        std::unique_ptr<ScoreModel> m = modelNamed("fashion-mnist");
        SamplingSettings settings;
        settings.method = "dpm2m";
        settings.fast.solver = "dpm2m";
        settings.fast.steps = stepsForNfe("dpm2m", 20);
        settings.batch = 8;
        settings.seed = 11;
        EvaluationPathScope scope(EvaluationPath::OneDnn);
        const SampleResult exact = runSampler(*m, settings);
        settings.precision = EvaluationPrecision::BFloat16;
        const SampleResult half = runSampler(*m, settings);
        QCOMPARE(half.samples.scalar_type(), torch::kFloat32);
        QCOMPARE(half.nfe, exact.nfe);
        // Pixels in [0, 1]: the mean difference against what tells garments apart (float32 samples
        // of different seeds differ by about 0.3 per pixel).
        const double difference =
            (m->inverseScaler(half.samples) - m->inverseScaler(exact.samples)).abs().mean().item<double>();
        qInfo("bfloat16 against float32 samples, 20 NFE: mean |difference| %.4f per pixel", difference);
        QVERIFY(difference > 1e-5);
        // Measured 0.0017.
        QVERIFY2(difference < 0.01, qPrintable(QString("mean difference %1").arg(difference)));
        QVERIFY(describeSettings(settings).find("bfloat16") != std::string::npos);
        QCOMPARE(SamplingSettings::fromJson(settings.toJson()).precision, EvaluationPrecision::BFloat16);
    }

    void precisionsADeviceCannotRunAreRefusedByName()
    {
        try {
            checkPrecision(EvaluationPrecision::Float16, torch::kCPU);
            QFAIL("float16 on the CPU was accepted");
        } catch (const Error &e) {
            QVERIFY2(std::string(e.what()).find("float16") != std::string::npos, e.what());
            QVERIFY2(std::string(e.what()).find("CUDA") != std::string::npos, e.what());
        }
        QVERIFY_THROWS_EXCEPTION(Error, precisionFromId("half"));
        QCOMPARE(precisionFromId("bfloat16"), EvaluationPrecision::BFloat16);
        QCOMPARE(precisionId(EvaluationPrecision::Float16), std::string("float16"));
        checkPrecision(EvaluationPrecision::Float32, torch::kCPU);

        // The sampler refuses before it draws anything.
        LoadedModel loaded = fixtureModel("ddpmpp_vp_small");
        SamplingSettings settings;
        settings.method = "ddim";
        settings.fast.steps = 3;
        settings.precision = EvaluationPrecision::Float16;
        QVERIFY_THROWS_EXCEPTION(Error, runSampler(*loaded.model, settings));
        // Settings saved before the precision existed read as float32.
        const Json saved = settings.toJson();
        Json old = Json::object();
        for (const auto &[key, value] : saved.items())
            if (key != "precision")
                old[key] = value;
        QCOMPARE(SamplingSettings::fromJson(old).precision, EvaluationPrecision::Float32);
    }

    void classifierMatchesThePlainPath()
    {
        LoadedClassifier classifier = loadClassifierFile(resolveModelPath("fashion-mnist-classifier"));
        torch::manual_seed(5);
        torch::Tensor x = torch::randn({4, 1, 28, 28});
        torch::Tensor t = torch::rand({4});
        torch::NoGradGuard noGrad;
        torch::Tensor plain, fast;
        {
            EvaluationPathScope scope(EvaluationPath::Plain);
            plain = classifier.network->forward(x, t);
        }
        {
            EvaluationPathScope scope(EvaluationPath::OneDnn);
            fast = classifier.network->forward(x, t);
        }
        SDE_COMPARE_TENSORS(fast, plain, 1e-4, "classifier logits");
    }

    void prepackedWeightsFollowTheirTensors()
    {
        LoadedModel loaded = fixtureModel("ncsnpp_ve_small");
        ScoreModel &model = *loaded.model;
        auto [x, t] = inputsFor(model, 2);
        const torch::Tensor before = scoreOn(EvaluationPath::OneDnn, model, x, t);
        // An optimizer step changes the weights in place: the packed copies must follow.
        {
            torch::NoGradGuard noGrad;
            for (auto &p : model.network()->parameters())
                p.mul_(1.05);
        }
        const torch::Tensor plain = scoreOn(EvaluationPath::Plain, model, x, t);
        const torch::Tensor after = scoreOn(EvaluationPath::OneDnn, model, x, t);
        QVERIFY(test::relativeError(after, before) > 1e-3);
        SDE_COMPARE_TENSORS(after, plain, 1e-4, "after an in-place update");
        // Loading replaces the values too.
        {
            torch::NoGradGuard noGrad;
            for (auto &p : model.network()->parameters())
                p.copy_(p / 1.05);
        }
        SDE_COMPARE_TENSORS(scoreOn(EvaluationPath::OneDnn, model, x, t), before, 1e-4, "after loading back");
    }

    void gradientsTakeThePlainPathAndResultsAreOrdinaryTensors()
    {
        LoadedModel loaded = fixtureModel("ddpmpp_vp_small");
        ScoreModel &model = *loaded.model;
        auto [x, t] = inputsFor(model, 2);
        EvaluationPathScope scope(EvaluationPath::OneDnn);
        torch::Tensor input = x.clone().requires_grad_(true);
        torch::Tensor s = model.score(input, t);
        QVERIFY(!useOneDnn(input)); // a gradient is recorded here
        torch::Tensor grad = torch::autograd::grad({s.sum()}, {input})[0];
        QVERIFY(torch::isfinite(grad).all().item<bool>());
        QVERIFY(grad.abs().sum().item<double>() > 0.0);

        // With bfloat16 asked for, a recorded gradient still gets float32.
        {
            EvaluationPrecisionScope precision(EvaluationPrecision::BFloat16);
            torch::Tensor again = model.score(x.clone().requires_grad_(true), t);
            QVERIFY(torch::equal(again.detach(), s.detach()));
        }

        torch::NoGradGuard noGrad;
        torch::Tensor fast = model.score(x, t);
        QVERIFY(!fast.is_inference());
        fast.add_(1.0); // a caller may update it in place
        SDE_COMPARE_TENSORS(fast - 1.0, s.detach(), 1e-4, "the fast score against the differentiable one");
    }
};

QTEST_GUILESS_MAIN(TestInference)
#include "test_inference.moc"
