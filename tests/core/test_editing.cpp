// Inpainting and colorization with the PC sampler.
#include "editing/colorization.h"
#include "editing/inpainting.h"
#include "io/model_file.h"
#include "model/score_model.h"
#include "util/error.h"

#include "test_support.h"

#include <QtTest/QtTest>

using namespace sde;

namespace {

LoadedModel fixtureModel(const std::string &name)
{
    LoadOptions options;
    options.config = test::fixtureDir(name) + "/config.json";
    return loadModelFile(test::fixtureDir(name) + "/checkpoint.pth", options);
}

PcSamplerOptions fewSteps(const ScoreModel &model)
{
    PcSamplerOptions options = PcSamplerOptions::fromConfig(model.config());
    options.steps = 10;
    return options;
}

} // namespace

class TestEditing : public QObject {
    Q_OBJECT
private slots:
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
