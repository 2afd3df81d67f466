// The oneDNN evaluation path of the score networks (nets/inference.h) against the plain one:
// the same scores within 1e-4 relative for every architecture (NCSN++, DDPM++, the bundled
// Fashion-MNIST and photo-rgb models, the noise-conditional classifier), prepacked weights that follow
// their tensors when these change, the plain path whenever a gradient is recorded, and
// ordinary (not inference-mode) tensors handed back.
#include "io/bundled_models.h"
#include "io/classifier_file.h"
#include "io/model_file.h"
#include "model/score_model.h"
#include "nets/inference.h"

#include "fixture_model.h"
#include "test_support.h"

#include <QtTest/QtTest>

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

torch::Tensor scoreOn(EvaluationPath path, const ScoreModel &model, const torch::Tensor &x, const torch::Tensor &t)
{
    EvaluationPathScope scope(path);
    torch::NoGradGuard noGrad;
    return model.score(x, t);
}

} // namespace

class TestInference : public QObject {
    Q_OBJECT
private Q_SLOTS:
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
        const std::string name = model.toStdString();
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

        torch::NoGradGuard noGrad;
        torch::Tensor fast = model.score(x, t);
        QVERIFY(!fast.is_inference());
        fast.add_(1.0); // a caller may update it in place
        SDE_COMPARE_TENSORS(fast - 1.0, s.detach(), 1e-4, "the fast score against the differentiable one");
    }
};

QTEST_GUILESS_MAIN(TestInference)
#include "test_inference.moc"
