// Every training configuration the 27 presets cover (architecture, SDE, time embedding,
// continuous or discrete, conditioning, progressive paths), at test size: one step of training,
// its checkpoint opened as a model and its exported model, against the trained weights and
// their EMA computed here.
#include "config/presets.h"
#include "io/model_file.h"
#include "nets/score_network.h"
#include "train/ema.h"
#include "train/trainer.h"
#include "train/training_checkpoint.h"
#include "util/json_fields.h"

#include "test_support.h"
#include "tiny_models.h"

#include <QtTest/QtTest>

#include <algorithm>
#include <cmath>
#include <limits>

using namespace sde;

namespace {

// Every parameter and buffer of two networks, within a tight tolerance; names the first that differs.
std::string firstDifference(const torch::nn::Module &actual, const torch::nn::Module &expected)
{
    const auto a = stateDict(actual), e = stateDict(expected);
    if (a.size() != e.size())
        return "the networks have " + std::to_string(a.size()) + " and " + std::to_string(e.size()) + " tensors";
    for (size_t i = 0; i < a.size(); ++i)
        if (a[i].first != e[i].first || !torch::allclose(a[i].second, e[i].second, 1e-6, 1e-9))
            return e[i].first;
    return {};
}

} // namespace

class TestPresetTraining : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void trainCheckpointOpenExport_data()
    {
        QTest::addColumn<QString>("preset");
        const std::vector<std::string> names = presetNames();
        QCOMPARE(int(names.size()), 27);
        for (const std::string &name : names)
            QTest::newRow(name.c_str()) << QString::fromStdString(name);
    }

    // One step from seeded weights on seeded images: the loss is finite and the step moves the
    // weights; the checkpoint opened as a model holds the trained network's fixed parameters
    // and buffers and the EMA of its trainable ones, decay min(rate, 2 / 11) after one update
    // (train/ema.h), and scores a fixed input as that EMA network does; opened with its raw
    // weights it is the trained network; the exported model (what `sdestudio-cli train` writes
    // beside the checkpoints) is the EMA network with the shrunk config.
    void trainCheckpointOpenExport()
    {
        QFETCH(QString, preset);
        const ModelConfig original = loadPreset(preset.toStdString());
        const ModelConfig config = test::shrunkConfig(original);
        QCOMPARE(config.model.name, original.model.name);
        QCOMPARE(config.training.sde, original.training.sde);
        QCOMPARE(config.training.continuous, original.training.continuous);
        QCOMPARE(config.model.embeddingType, original.model.embeddingType);
        QCOMPARE(config.model.conditional, original.model.conditional);
        QCOMPARE(config.model.progressive, original.model.progressive);
        QCOMPARE(config.model.progressiveInput, original.model.progressiveInput);

        const std::string folder = test::makeTempDir();
        torch::manual_seed(3);
        ScoreTrainingTask task(config);
        test::RandomImages data(config);
        std::vector<torch::Tensor> initial;
        for (const auto &[name, parameter] : trainableParameters(task.module()))
            initial.push_back(parameter.detach().clone());
        TrainerOptions options;
        options.outDir = folder;
        options.steps = 1;
        options.seed = 7;
        double loss = std::numeric_limits<double>::quiet_NaN();
        TrainerCallbacks callbacks;
        callbacks.onStep = [&](int64_t, int64_t, double value) { loss = value; };
        const TrainingResult result = train(task, data, options, callbacks);
        QCOMPARE(result.outcome, TrainingOutcome::Finished);
        QCOMPARE(result.step, int64_t(1));
        QVERIFY2(std::isfinite(loss) && loss > 0.0, qPrintable(QString("loss %1").arg(loss)));

        // The EMA network, computed here from the initial and the trained weights.
        const double decay = std::min(config.model.emaRate, 2.0 / 11.0);
        ScoreModel expected(config, createScoreNetwork(config));
        loadStateDictStrict(*expected.network(), stateDict(task.module()), "the trained network");
        const auto trainable = trainableParameters(*expected.network());
        QCOMPARE(trainable.size(), initial.size());
        bool moved = false;
        {
            torch::NoGradGuard noGrad;
            for (size_t i = 0; i < trainable.size(); ++i) {
                const torch::Tensor trained = trainable[i].second.clone();
                moved = moved || !torch::equal(trained, initial[i]);
                trainable[i].second.copy_(initial[i] - (initial[i] - trained) * (1.0 - decay));
            }
        }
        QVERIFY2(moved, "the step left every weight as it was");
        expected.setTraining(false);

        torch::NoGradGuard noGrad;
        at::Generator generator = at::detail::createCPUGenerator(11);
        const torch::Tensor x = torch::randn({2, config.data.numChannels, 8, 8}, generator);
        const torch::Tensor t = torch::tensor({0.25f, 0.75f});
        const torch::Tensor score = expected.score(x, t);
        QVERIFY(torch::isfinite(score).all().item<bool>());

        const std::unique_ptr<ScoreModel> opened = loadCheckpointModel(result.checkpoint);
        const std::string differs = firstDifference(*opened->network(), *expected.network());
        QVERIFY2(differs.empty(), ("the checkpoint's EMA model differs at " + differs).c_str());
        SDE_COMPARE_TENSORS(opened->score(x, t), score, 1e-5, "checkpoint EMA model");

        const std::unique_ptr<ScoreModel> raw = loadCheckpointModel(result.checkpoint, false);
        const std::string rawDiffers = firstDifference(*raw->network(), task.module());
        QVERIFY2(rawDiffers.empty(), ("the checkpoint's raw model differs at " + rawDiffers).c_str());

        const LoadedModel exported = loadModelFile(result.modelPath);
        QCOMPARE(exported.info.loadedWeights, std::string("ema"));
        QCOMPARE(exported.info.step, int64_t(1));
        QCOMPARE(dumpJson(exported.model->config().toJson()), dumpJson(config.toJson()));
        const std::string exportDiffers = firstDifference(*exported.model->network(), *expected.network());
        QVERIFY2(exportDiffers.empty(), ("the exported model differs at " + exportDiffers).c_str());
        SDE_COMPARE_TENSORS(exported.model->score(x, t), score, 1e-5, "exported model");
    }
};

QTEST_GUILESS_MAIN(TestPresetTraining)
#include "test_preset_training.moc"
