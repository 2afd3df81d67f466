// The trainer: optimizer and EMA against independent implementations and closed forms, exact
// resume, checkpoint rotation, non-finite losses, pause and stop, metrics, and that training
// actually learns (a score model and a noise-conditional classifier).
#include "config/presets.h"
#include "data/toy_data.h"
#include "data/training_data.h"
#include "imaging/image_io.h"
#include "io/classifier_file.h"
#include "io/model_file.h"
#include "io/safetensors.h"
#include "metrics/frechet.h"
#include "metrics/sample_distance.h"
#include "nets/score_network.h"
#include "sampling/sampling_settings.h"
#include "train/adam.h"
#include "train/ema.h"
#include "train/loss_scaler.h"
#include "train/trainer.h"
#include "train/training_checkpoint.h"
#include "train/training_run.h"
#include "util/cuda_graphs.h"
#include "util/cuda_support.h"
#include "util/error.h"
#include "util/files.h"
#include "util/json_fields.h"

#include "error_of.h"
#include "test_support.h"
#include "tiny_models.h"

#include <QtTest/QtTest>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <future>
#include <limits>
#include <set>
#include <sstream>

using namespace sde;
using sde::test::errorOf;
using sde::test::optionsIn;
using sde::test::tinyImageConfig;
using sde::test::toyConfig;

namespace {

// 24 random 8 x 8 images with labels 0/1 (bright or dark), read by index; examples listed in
// `nanSteps`' batches come back as NaN to simulate a diverging run.
class SyntheticImages : public IndexedTrainingData {
public:
    explicit SyntheticImages(int64_t count = 24) : IndexedTrainingData(true)
    {
        at::Generator generator = at::detail::createCPUGenerator(7);
        labels_ = torch::randint(2, {count}, generator, torch::kLong);
        images_ =
            (torch::rand({count, 1, 8, 8}, generator) * 0.3 + 0.6 * labels_.to(torch::kFloat32).view({-1, 1, 1, 1}));
    }
    std::string description() const override { return "synthetic images"; }
    std::vector<int64_t> exampleShape() const override { return {1, 8, 8}; }
    int64_t classCount() const override { return 2; }
    int64_t size() const override { return images_.size(0); }
    torch::Tensor example(int64_t index, int64_t *label) override
    {
        *label = labels_[index].item<int64_t>();
        return images_[index];
    }
    TrainingBatch batch(int64_t step, int64_t batchSize, uint64_t seed) override
    {
        TrainingBatch out = IndexedTrainingData::batch(step, batchSize, seed);
        if (nanSteps.count(step))
            out.examples = out.examples * std::nan("");
        return out;
    }
    std::set<int64_t> nanSteps;

private:
    torch::Tensor images_, labels_;
};

// Synthetic images that cannot be read from step `failAt` on.
class FailingImages : public SyntheticImages {
public:
    explicit FailingImages(int64_t failAt) : failAt_(failAt) {}
    TrainingBatch batch(int64_t step, int64_t batchSize, uint64_t seed) override
    {
        if (step >= failAt_)
            throw Error("synthetic images: step " + std::to_string(step) + " cannot be read");
        return SyntheticImages::batch(step, batchSize, seed);
    }

private:
    int64_t failAt_;
};

// A score task whose loss at the steps listed in `nanGradientSteps` is finite but has a NaN
// gradient: + sqrt(0 p), whose derivative is 0 * inf.
class NanGradientTask : public ScoreTrainingTask {
public:
    using ScoreTrainingTask::ScoreTrainingTask;
    torch::Tensor loss(const TrainingBatch &batch, at::Generator &generator, double *accuracy, BatchSlice rows) override
    {
        torch::Tensor loss = ScoreTrainingTask::loss(batch, generator, accuracy, rows);
        if (nanGradientSteps.count(batch.step))
            loss = loss + torch::sqrt(module().parameters().front().sum() * 0.0);
        return loss;
    }
    std::set<int64_t> nanGradientSteps;
};

// What a run holds between steps that a test can see from outside: the network's training mode,
// its parameters and buffers (cloned) and the global generator's state.
struct NetworkState {
    explicit NetworkState(torch::nn::Module &module)
        : training(module.is_training()), generator(at::detail::getDefaultCPUGenerator().get_state())
    {
        for (const auto &[name, tensor] : stateDict(module))
            tensors.emplace_back(name, tensor.detach().clone());
    }
    bool training;
    torch::Tensor generator;
    std::vector<std::pair<std::string, torch::Tensor>> tensors;
};

// Empty when `module` is in `before`'s state, else what differs.
std::string differences(const NetworkState &before, torch::nn::Module &module)
{
    const NetworkState now(module);
    std::string out;
    if (now.training != before.training)
        out += std::string("the network is in ") + (now.training ? "training" : "evaluation") + " mode; ";
    if (!torch::equal(now.generator, before.generator))
        out += "the global generator moved; ";
    for (size_t i = 0; i < now.tensors.size(); ++i)
        if (!torch::equal(now.tensors[i].second, before.tensors[i].second))
            out += now.tensors[i].first + " changed; ";
    return out;
}

// The network's tensors against a checkpoint's model state, exactly.
void compareWithModelState(torch::nn::Module &module, const std::string &checkpoint)
{
    const TrainingCheckpoint saved = readTrainingCheckpoint(checkpoint);
    const auto tensors = stateDict(module);
    QCOMPARE(tensors.size(), saved.model.size());
    for (size_t i = 0; i < tensors.size(); ++i) {
        QCOMPARE(tensors[i].first, saved.model[i].first);
        QVERIFY2(torch::equal(tensors[i].second, saved.model[i].second), tensors[i].first.c_str());
    }
}

std::vector<std::string> lines(const std::string &path)
{
    std::istringstream in(readFile(path));
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);)
        out.push_back(line);
    return out;
}

// Every tensor of two safetensors files, compared exactly.
void compareFilesExactly(const std::string &a, const std::string &b)
{
    SafetensorsFile x = readSafetensors(a), y = readSafetensors(b);
    QCOMPARE(x.tensors.size(), y.tensors.size());
    for (size_t i = 0; i < x.tensors.size(); ++i) {
        QCOMPARE(x.tensors[i].first, y.tensors[i].first);
        QVERIFY2(torch::equal(x.tensors[i].second, y.tensors[i].second), x.tensors[i].first.c_str());
    }
}

// Two checkpoints hold the same training state: every tensor (model, EMA, Adam) and the
// counters, whatever their step.
void compareTrainingStates(const std::string &a, const std::string &b)
{
    compareFilesExactly(a, b);
    const auto x = readSafetensors(a).metadata, y = readSafetensors(b).metadata;
    for (const char *key : {"adam_steps", "ema_updates", "smoothed_loss"})
        QVERIFY2(x.at(key) == y.at(key), key);
}

} // namespace

class TestTraining : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { torch::manual_seed(0); }

    // Our Adam against LibTorch's own torch::optim::Adam on the same gradients.
    void adamMatchesLibTorch()
    {
        torch::Tensor start = torch::randn({5, 3});
        torch::Tensor ours = start.clone().requires_grad_(true), theirs = start.clone().requires_grad_(true);
        AdamOptimizer adam({ours}, {0.9, 0.999, 1e-8, 0.01});
        torch::optim::Adam reference({theirs},
                                     torch::optim::AdamOptions(3e-3).betas({0.9, 0.999}).eps(1e-8).weight_decay(0.01));
        for (int k = 0; k < 6; ++k) {
            torch::Tensor grad = torch::randn({5, 3});
            ours.mutable_grad() = grad.clone();
            theirs.mutable_grad() = grad.clone();
            adam.step(3e-3);
            reference.step();
        }
        QCOMPARE(adam.stepCount(), int64_t(6));
        QVERIFY2((ours - theirs).abs().max().item<double>() < 1e-7, "Adam differs from torch::optim::Adam");
    }

    // GradScaler's rules: x scale before backward, / scale after; an overflow halves the scale
    // (not below 1) and restarts the count; 2000 good steps in a row double it.
    void lossScalerFollowsGradScaler()
    {
        LossScaler off(false);
        QCOMPARE(off.scale(), 1.0);
        const torch::Tensor loss = torch::tensor(0.5);
        QCOMPARE(off.scaleLoss(loss).item<double>(), 0.5);

        LossScaler scaler(true);
        QCOMPARE(scaler.scale(), 65536.0);
        QCOMPARE(scaler.scaleLoss(loss).item<double>(), 32768.0);
        torch::Tensor p = torch::ones({3}).requires_grad_(true);
        (p.sum() * scaler.scale()).backward();
        scaler.unscale({p});
        QCOMPARE((p.grad() - 1.0).abs().max().item<double>(), 0.0);

        for (int i = 0; i < 1999; ++i)
            scaler.update(true);
        QCOMPARE(scaler.scale(), 65536.0);
        QCOMPARE(scaler.goodSteps(), int64_t(1999));
        scaler.update(true);
        QCOMPARE(scaler.scale(), 131072.0);
        QCOMPARE(scaler.goodSteps(), int64_t(0));
        scaler.update(true);
        scaler.update(false);
        QCOMPARE(scaler.scale(), 65536.0);
        QCOMPARE(scaler.goodSteps(), int64_t(0));
        for (int i = 0; i < 40; ++i)
            scaler.update(false);
        QCOMPARE(scaler.scale(), 1.0);
        QVERIFY(scaler.exhausted());

        scaler.load(1024.0, 7);
        QCOMPARE(scaler.scale(), 1024.0);
        QCOMPARE(scaler.goodSteps(), int64_t(7));
        QVERIFY_THROWS_EXCEPTION(Error, scaler.load(std::nan(""), 0));
        QVERIFY_THROWS_EXCEPTION(Error, scaler.load(0.5, 0));
    }

    // Without a GPU the CUDA helpers answer "none" and the graph cache evaluates eagerly.
    void cudaHelpersWithoutAGpu()
    {
        if (cudaAvailable())
            QSKIP("a CUDA GPU is present: tests/gpu/test_gpu checks the real thing");
        const CudaMemory memory = cudaMemory(torch::kCPU);
        QCOMPARE(memory.allocatedMiB, 0.0);
        QCOMPARE(memory.peakAllocatedMiB, 0.0);
        QVERIFY(!cudaDeviceDescription().empty());
        CudaGraphCache cache;
        int calls = 0;
        const torch::Tensor x = torch::ones({2, 3}), t = torch::ones({2});
        for (int i = 1; i <= CudaGraphCache::kCaptureAfter + 1; ++i) {
            const torch::Tensor y = cache.run(
                [&](const torch::Tensor &a, const torch::Tensor &b) {
                    ++calls;
                    return a * b.view({-1, 1}) * 2.0;
                },
                x, t, {7});
            QCOMPARE(calls, i);
            QCOMPARE(y.sum().item<double>(), 12.0);
        }
        QCOMPARE(cache.captures(), int64_t(0));
        QCOMPARE(cache.replays(), int64_t(0));
        QCOMPARE(cache.graphs(), int64_t(0));
    }

    void warmupFollowsTheReference()
    {
        QCOMPARE(warmupLearningRate(2e-4, 5000, 0), 0.0);
        QCOMPARE(warmupLearningRate(2e-4, 5000, 2500), 1e-4);
        QCOMPARE(warmupLearningRate(2e-4, 5000, 9000), 2e-4);
        QCOMPARE(warmupLearningRate(2e-4, 0, 0), 2e-4);
    }

    // decay_k = min(rate, (1 + k) / (10 + k)): with a constant parameter p and shadow s0, the
    // shadow after k updates is p + (s0 - p) prod_j decay_j.
    void emaUsesTheReferenceSchedule()
    {
        torch::Tensor p = torch::zeros({1});
        ExponentialMovingAverage ema({p}, 0.5);
        torch::NoGradGuard noGrad;
        p.fill_(1.0); // the shadow started at 0
        double expected = 0.0, keep = 1.0;
        for (int k = 1; k <= 12; ++k) {
            ema.update({p});
            keep *= std::min(0.5, (1.0 + k) / (10.0 + k));
            expected = 1.0 - keep;
            QVERIFY(std::abs(ema.shadow()[0].item<double>() - expected) < 1e-6);
        }
        QCOMPARE(ema.updates(), int64_t(12));
    }

    // A run stopped at step 3 and resumed to 6 ends bit for bit where a 6-step run ends:
    // weights, EMA, optimizer moments (image data: permutation, flips, noise and dropout); in
    // float32 and, on CPUs that run it, under bfloat16 autocast.
    void resumeIsExact_data()
    {
        QTest::addColumn<int>("precisionIndex");
        QTest::newRow("float32") << int(EvaluationPrecision::Float32);
        QTest::newRow("bfloat16") << int(EvaluationPrecision::BFloat16);
    }
    void resumeIsExact()
    {
        QFETCH(int, precisionIndex);
        const auto precision = EvaluationPrecision(precisionIndex);
        if (const std::string why = precisionUnsupportedReason(precision, torch::kCPU); !why.empty())
            QSKIP(why.c_str());
        const ModelConfig config = tinyImageConfig();
        const auto optionsFor = [precision](const std::string &folder, int64_t steps) {
            TrainerOptions options = optionsIn(folder, steps);
            options.precision = precision;
            return options;
        };
        const std::string whole = test::makeTempDir(), parts = test::makeTempDir();
        // Both runs start from the same initial weights.
        {
            torch::manual_seed(1);
            ScoreTrainingTask task(config);
            SyntheticImages data;
            TrainerOptions options = optionsFor(whole, 7); // 7 steps of 4 over 24 examples: two epochs
            QCOMPARE(train(task, data, options).outcome, TrainingOutcome::Finished);
        }
        {
            torch::manual_seed(1);
            ScoreTrainingTask task(config);
            SyntheticImages data;
            QCOMPARE(train(task, data, optionsFor(parts, 3)).step, int64_t(3));
        }
        {
            ScoreTrainingTask task(config); // fresh weights: everything comes from the checkpoint
            SyntheticImages data;
            TrainerOptions options = optionsFor(parts, 7);
            options.resume = true;
            options.seed = 999; // the checkpoint's seed wins
            TrainingResult result = train(task, data, options);
            QCOMPARE(result.step, int64_t(7));
        }
        compareFilesExactly(listCheckpoints(whole).back(), listCheckpoints(parts).back());
        compareFilesExactly(whole + "/model.safetensors", parts + "/model.safetensors");
        // The metrics continue without gaps or repeats.
        const auto records = lines(parts + "/metrics.jsonl");
        QCOMPARE(int(records.size()), 7);
        for (int i = 0; i < 7; ++i)
            QCOMPARE(parseJson(records[i]).at("step").get<int64_t>(), int64_t(i + 1));
    }

    // Training under bfloat16 autocast on the CPU: on a CPU that runs it, the losses stay near the
    // float32 run's and the weights differ from its (the convolutions did run in bfloat16);
    // elsewhere the run is refused, saying why.
    void bfloat16TrainingOnTheCpu()
    {
        const ModelConfig config = tinyImageConfig();
        const auto trainIn = [&](const std::string &folder, EvaluationPrecision precision) {
            torch::manual_seed(1);
            ScoreTrainingTask task(config);
            SyntheticImages data;
            TrainerOptions options = optionsIn(folder, 5);
            options.precision = precision;
            return train(task, data, options);
        };
        const std::string why = precisionUnsupportedReason(EvaluationPrecision::BFloat16, torch::kCPU);
        const std::string fp32 = test::makeTempDir(), bf16 = test::makeTempDir();
        if (!why.empty()) {
            try {
                trainIn(bf16, EvaluationPrecision::BFloat16);
                QFAIL("expected an error");
            } catch (const Error &e) {
                QCOMPARE(QString(e.what()), QString::fromStdString("training in bfloat16: " + why));
            }
            return;
        }
        QCOMPARE(trainIn(fp32, EvaluationPrecision::Float32).outcome, TrainingOutcome::Finished);
        QCOMPARE(trainIn(bf16, EvaluationPrecision::BFloat16).outcome, TrainingOutcome::Finished);
        // The weights differ (the convolutions ran in bfloat16) and are stored as float32's.
        const SafetensorsFile a = readSafetensors(fp32 + "/model.safetensors");
        const SafetensorsFile b = readSafetensors(bf16 + "/model.safetensors");
        QCOMPARE(a.tensors.size(), b.tensors.size());
        bool differ = false;
        for (size_t i = 0; i < a.tensors.size(); ++i) {
            QCOMPARE(b.tensors[i].second.scalar_type(), a.tensors[i].second.scalar_type());
            differ = differ || !torch::equal(a.tensors[i].second, b.tensors[i].second);
        }
        QVERIFY(differ);
        // Each step's loss (the same batch, noise and times) is near float32's: bfloat16 keeps 8
        // bits of mantissa, so about 0.4 % per rounding; the first step's, before any update,
        // differs only by the forward pass's rounding.
        const auto fp32Records = lines(fp32 + "/metrics.jsonl"), bf16Records = lines(bf16 + "/metrics.jsonl");
        QCOMPARE(bf16Records.size(), fp32Records.size());
        for (size_t i = 0; i < fp32Records.size(); ++i) {
            const double x = parseJson(fp32Records[i]).at("loss").get<double>();
            const double y = parseJson(bf16Records[i]).at("loss").get<double>();
            const double relative = std::abs(x - y) / std::abs(x);
            QVERIFY2(relative < (i == 0 ? 0.02 : 0.05),
                     qPrintable(QString("step %1: %2 against %3").arg(i + 1).arg(y).arg(x)));
            if (i == 0)
                QVERIFY2(relative > 0.0, "the first step's loss is float32's to the bit");
        }
        QCOMPARE(readCheckpointInfo(listCheckpoints(bf16).back()).precision, EvaluationPrecision::BFloat16);
    }

    // Issue 16: a new run that fails or diverges before its first checkpoint leaves nothing it
    // wrote (metrics.jsonl, previews, the folders it made), and says so; what the folder held
    // before stays.
    void failedRunBeforeItsFirstCheckpointLeavesNothing()
    {
        const std::string parent = test::makeTempDir();
        auto runIn = [&](const std::string &folder, std::unique_ptr<TrainingData> data) {
            TrainingRun run;
            run.task = std::make_unique<ScoreTrainingTask>(tinyImageConfig());
            run.data = std::move(data);
            run.options = optionsIn(folder, 20);
            run.options.maxBadSteps = 3;
            run.folder = std::make_unique<OutputFolder>(folder);
            run.folder->subfolder("checkpoints");
            const std::string samples = run.folder->subfolder("samples");
            TrainerCallbacks callbacks;
            // A front end's preview file, written at step 1.
            callbacks.onStep = [samples](int64_t step, int64_t, double) {
                if (step == 1)
                    writeFileAtomically(samples + "/step-1.txt", "a preview");
            };
            return std::make_pair(std::move(run), callbacks);
        };

        // Diverged: step 0 trains (a metrics record, a preview), steps 1 to 3 are NaN.
        const std::string diverged = parent + "/diverged";
        makeFolder(diverged);
        writeFileAtomically(diverged + "/notes.txt", "the user's");
        {
            auto data = std::make_unique<SyntheticImages>();
            data->nanSteps = {1, 2, 3};
            auto [run, callbacks] = runIn(diverged, std::move(data));
            const TrainingResult result = run.run(callbacks);
            QCOMPARE(result.outcome, TrainingOutcome::Diverged);
            QCOMPARE(QString::fromStdString(result.message),
                     QString("3 steps in a row had a non-finite loss or gradient; the run stopped at step 4, before "
                             "its first checkpoint; the 2 file(s) it wrote were removed"));
        }
        QCOMPARE(
            QDir(QString::fromStdString(diverged)).entryList(QDir::AllEntries | QDir::Hidden | QDir::NoDotAndDotDot),
            QStringList{"notes.txt"});

        // Failed: the data cannot be read at step 2; the folder was made by the run.
        const std::string failed = parent + "/failed";
        {
            auto [run, callbacks] = runIn(failed, std::make_unique<FailingImages>(2));
            try {
                run.run(callbacks);
                QFAIL("expected an error");
            } catch (const Error &e) {
                QCOMPARE(QString(e.what()), QString("synthetic images: step 2 cannot be read; the run wrote no "
                                                    "checkpoint, and the 2 file(s) it wrote were removed"));
            }
        }
        QVERIFY(!std::filesystem::exists(failed));
    }

    // Issue 16: the run's folder is locked before a resumed run's checkpoint is read.
    void runFolderIsLockedBeforeItIsRead()
    {
        const std::string folder = test::makeTempDir();
        OutputFolder held(folder);
        TrainingRunRequest request;
        request.data = "toy:moons";
        request.options.outDir = folder;
        request.options.resume = true;
        try {
            prepareTrainingRun(request);
            QFAIL("expected an error");
        } catch (const Error &e) {
            QCOMPARE(QString(e.what()), QString("the folder '%1' is in use by another run (process %2); wait for it "
                                                "to finish or choose another folder")
                                            .arg(QString::fromStdString(folder))
                                            .arg(::getpid()));
        }
    }

    void resumeRefusesAnotherConfigOrMissingRun()
    {
        const std::string folder = test::makeTempDir();
        ModelConfig config = toyConfig();
        ToyTrainingData data(ToyDistribution::TwoMoons);
        {
            ScoreTrainingTask task(config);
            train(task, data, optionsIn(folder, 2));
        }
        config.model.nf = 64;
        ScoreTrainingTask other(config);
        TrainerOptions options = optionsIn(folder, 4);
        options.resume = true;
        QVERIFY_THROWS_EXCEPTION(Error, train(other, data, options));
        // A new run into a folder that holds one is refused rather than mixed in.
        ScoreTrainingTask fresh(toyConfig());
        QVERIFY_THROWS_EXCEPTION(Error, train(fresh, data, optionsIn(folder, 4)));
        options.outDir = test::makeTempDir();
        QVERIFY_THROWS_EXCEPTION(Error, train(fresh, data, options));
    }

    // A checkpoint whose state holds a NaN, or a negative Adam second moment, is refused on
    // resume, naming the tensor; the run does not start.
    void resumeRefusesANonFiniteTrainingState()
    {
        const std::string folder = test::makeTempDir();
        {
            ScoreTrainingTask task(toyConfig());
            ToyTrainingData data(ToyDistribution::TwoMoons);
            QCOMPARE(train(task, data, optionsIn(folder, 2)).outcome, TrainingOutcome::Finished);
        }
        const std::string path = listCheckpoints(folder).back();
        const SafetensorsFile good = readSafetensors(path);
        const auto spoil = [&](const std::string &name, double value) {
            SafetensorsFile bad = good;
            bool found = false;
            for (auto &[key, tensor] : bad.tensors)
                if (key == name) {
                    tensor = tensor.clone();
                    tensor.view(-1)[0] = value;
                    found = true;
                }
            QVERIFY2(found, name.c_str());
            writeSafetensors(path, bad.tensors, bad.metadata);
        };
        const QString file = QString::fromStdString(path);
        spoil("ema.Dense_in.weight", std::nan(""));
        QCOMPARE(
            errorOf([&] { readTrainingCheckpoint(path); }),
            file +
                ": the training state holds a value that is not finite (NaN or infinity) in \"ema.Dense_in.weight\"");
        spoil("adam.0.exp_avg_sq", -1.0);
        QCOMPARE(errorOf([&] { readTrainingCheckpoint(path); }),
                 file + ": the Adam second moment \"adam.0.exp_avg_sq\" holds a negative value (a running mean of "
                        "squares is never negative)");
        TrainerOptions options = optionsIn(folder, 4);
        options.resume = true;
        ScoreTrainingTask task(toyConfig());
        ToyTrainingData data(ToyDistribution::TwoMoons);
        QVERIFY_THROWS_EXCEPTION(Error, train(task, data, options));
        spoil("adam.0.exp_avg_sq", 0.0);
        QCOMPARE(errorOf([&] { readTrainingCheckpoint(path); }), QString("no error"));
        // A training state a newer SDE Studio wrote is refused by its version.
        SafetensorsFile newer = readSafetensors(path);
        QCOMPARE(newer.metadata.at("format_version"), std::string("1"));
        newer.metadata["format_version"] = "2";
        writeSafetensors(path, newer.tensors, newer.metadata);
        QCOMPARE(errorOf([&] { readTrainingCheckpoint(path); }),
                 file + ": its metadata says format_version \"2\", and this SDE Studio reads version 1 (a newer "
                        "SDE Studio may have written it)");
    }

    // The one setup of a run that the CLI and the studio share: a fresh run gets the config's
    // model, seeded, and trains from step 0; a resume reads the run's own model and batch, and is
    // refused when given another config, naming what differs.
    void preparedRunsStartFreshOrResumeTheirOwnModel()
    {
        const std::string folder = test::makeTempDir() + "/run";
        TrainingRunRequest request;
        request.config = toyConfig();
        request.data = "toy:moons";
        request.options = optionsIn(folder, 1000);
        request.steps = 2;
        TrainingRun fresh = prepareTrainingRun(request);
        QCOMPARE(fresh.task->kind(), std::string("score"));
        QCOMPARE(fresh.config().toJson().dump(), toyConfig().toJson().dump());
        QVERIFY(!fresh.resumed);
        QCOMPARE(fresh.options.steps, int64_t(2));
        QCOMPARE(fresh.batchSize(), int64_t(64));
        QCOMPARE(fresh.options.precision, EvaluationPrecision::Float32);
        QCOMPARE(fresh.options.exportName, std::string("model.safetensors"));
        QCOMPARE(fresh.data->exampleShape(), (std::vector<int64_t>{2, 1, 1}));
        QVERIFY(std::filesystem::is_directory(folder));
        // A second run into the folder is refused while this one holds it (OutputFolder).
        try {
            prepareTrainingRun(request);
            QFAIL("a second run into a folder in use was accepted");
        } catch (const Error &e) {
            QCOMPARE(QString(e.what()), QString("the folder '%1' is in use by another run (process %2); wait for it to "
                                                "finish or choose another folder")
                                            .arg(QString::fromStdString(folder))
                                            .arg(::getpid()));
        }
        // The seed decides the initial weights.
        TrainingRunRequest elsewhere = request;
        elsewhere.options.outDir = folder + "-same";
        TrainingRun same = prepareTrainingRun(elsewhere);
        const auto a = fresh.task->module().parameters(), b = same.task->module().parameters();
        QCOMPARE(a.size(), b.size());
        for (size_t i = 0; i < a.size(); ++i)
            QVERIFY(torch::equal(a[i], b[i]));
        QCOMPARE(fresh.run().step, int64_t(2));
        QCOMPARE(parseJson(lines(folder + "/metrics.jsonl").front()).at("step").get<int64_t>(), int64_t(1));
        fresh.folder.reset(); // the run is over: its folder is free

        TrainingRunRequest resume;
        resume.data = "toy:moons";
        resume.options = optionsIn(folder, 1000);
        resume.options.resume = true;
        TrainingRun resumed = prepareTrainingRun(resume);
        QVERIFY(resumed.resumed.has_value());
        QCOMPARE(resumed.resumed->step, int64_t(2));
        QCOMPARE(resumed.config().toJson().dump(), toyConfig().toJson().dump());
        QCOMPARE(resumed.batchSize(), int64_t(64));
        QCOMPARE(resumed.options.steps, toyConfig().training.nIters);
        resumed.folder.reset(); // the folder is locked before its checkpoint is read: free it

        resume.config = toyConfig();
        resume.config->model.nf = 64;
        resume.config->optim.lr = 2e-3;
        try {
            prepareTrainingRun(resume);
            QFAIL("a resume with another config was accepted");
        } catch (const Error &e) {
            const QString message = e.what();
            QVERIFY2(message.contains("another model definition") &&
                         message.contains("model.nf is 32 in the run, 64 here") &&
                         message.contains("optim.lr is 0.001 in the run, 0.002 here"),
                     e.what());
        }
        resume.options.outDir = test::makeTempDir();
        try {
            prepareTrainingRun(resume);
            QFAIL("a resume of nothing was accepted");
        } catch (const Error &e) {
            QVERIFY2(QString(e.what()).contains("nothing to resume"), e.what());
        }
    }

    // Fine-tuning: a new run from a model file starts from the file's EMA weights (not the
    // seed's), with the config's training settings; a network of another layout, another data
    // shape, a resume or a classifier is refused, naming the problem.
    void fineTuningStartsFromAModelsWeights()
    {
        const std::string first = test::makeTempDir() + "/first";
        TrainingRunRequest request;
        request.config = toyConfig();
        request.data = "toy:moons";
        request.options = optionsIn(first, 1000);
        request.steps = 3;
        {
            TrainingRun run = prepareTrainingRun(request);
            QCOMPARE(run.run().step, int64_t(3));
        }
        const std::string modelPath = first + "/model.safetensors";
        LoadedModel trained = loadModelFile(modelPath);

        TrainingRunRequest tune;
        tune.config = toyConfig();
        tune.config->optim.lr = 5e-4;
        tune.data = "toy:moons";
        tune.options = optionsIn(test::makeTempDir() + "/tuned", 1000);
        tune.options.seed = 7;
        tune.steps = 2;
        tune.initialWeights = modelPath;
        {
            TrainingRun tuned = prepareTrainingRun(tune);
            QVERIFY(!tuned.resumed);
            QCOMPARE(tuned.config().optim.lr, 5e-4);
            const auto want = stateDict(*trained.model->network());
            std::map<std::string, torch::Tensor> have;
            for (const auto &[name, tensor] : stateDict(tuned.task->module()))
                have.emplace(name, tensor);
            QCOMPARE(have.size(), want.size());
            for (const auto &[name, tensor] : want)
                QVERIFY2(torch::equal(have.at(name), tensor), name.c_str());
            // The seed's own weights differ from the file's: the file's were used.
            TrainingRunRequest seeded = tune;
            seeded.initialWeights.reset();
            seeded.options.outDir += "-seeded";
            TrainingRun plain = prepareTrainingRun(seeded);
            const auto ownWeights = plain.task->module().parameters(), tunedWeights = tuned.task->module().parameters();
            bool anyDiffers = false;
            for (size_t i = 0; i < ownWeights.size(); ++i)
                anyDiffers = anyDiffers || !torch::equal(ownWeights[i], tunedWeights[i]);
            QVERIFY(anyDiffers);
            QCOMPARE(tuned.run().step, int64_t(2));
        }
        // Without a config, the file's own.
        TrainingRunRequest own = tune;
        own.config.reset();
        own.options.outDir = test::makeTempDir() + "/own";
        {
            TrainingRun run = prepareTrainingRun(own);
            QCOMPARE(run.config().toJson().dump(), trained.model->config().toJson().dump());
        }

        const auto refused = [&](TrainingRunRequest bad, const QString &expected) {
            bad.options.outDir = test::makeTempDir() + "/bad";
            try {
                prepareTrainingRun(bad);
                QFAIL(qPrintable("accepted, expected: " + expected));
            } catch (const Error &e) {
                QVERIFY2(QString(e.what()).contains(expected), e.what());
            }
        };
        TrainingRunRequest wider = tune;
        wider.config->model.nf = 64;
        refused(wider, QString::fromStdString(modelPath + " (initial weights for this config)"));
        TrainingRunRequest classifier = tune;
        classifier.classifier = true;
        refused(classifier, "not a classifier");
        TrainingRunRequest missing = tune;
        missing.initialWeights = first + "/none.safetensors";
        refused(missing, QString::fromStdString(first + "/none.safetensors"));
        TrainingRunRequest resumed = tune;
        resumed.options.resume = true;
        refused(resumed, "a resumed run continues from its checkpoint");
    }

    // A run trained in bfloat16 on the CPU resumes in bfloat16 where the CPU runs it (the
    // precision stored in its checkpoint), through the preparation the CLI and the Train tab share.
    void aBfloat16RunResumesInItsPrecision()
    {
        const std::string why = precisionUnsupportedReason(EvaluationPrecision::BFloat16, torch::kCPU);
        if (!why.empty())
            QSKIP(why.c_str());
        const std::string folder = test::makeTempDir() + "/run";
        TrainingRunRequest request;
        request.config = toyConfig();
        request.data = "toy:moons";
        request.options = optionsIn(folder, 1000);
        request.precision = EvaluationPrecision::BFloat16;
        request.steps = 2;
        {
            TrainingRun fresh = prepareTrainingRun(request);
            QCOMPARE(fresh.options.precision, EvaluationPrecision::BFloat16);
            QCOMPARE(fresh.run().step, int64_t(2));
        }
        TrainingRunRequest resume;
        resume.data = "toy:moons";
        resume.options = optionsIn(folder, 1000);
        resume.options.resume = true;
        resume.steps = 4;
        TrainingRun resumed = prepareTrainingRun(resume);
        QCOMPARE(resumed.resumed->precision, EvaluationPrecision::BFloat16);
        QCOMPARE(resumed.options.precision, EvaluationPrecision::BFloat16);
        QCOMPARE(resumed.run().step, int64_t(4));
    }

    void keepsTheNewestCheckpoints()
    {
        const std::string folder = test::makeTempDir();
        ScoreTrainingTask task(toyConfig());
        ToyTrainingData data(ToyDistribution::EightGaussians);
        TrainerOptions options = optionsIn(folder, 5);
        options.checkpointEvery = 1;
        options.keepCheckpoints = 2;
        train(task, data, options);
        const auto kept = listCheckpoints(folder);
        QCOMPARE(int(kept.size()), 2);
        QCOMPARE(readCheckpointInfo(kept[0]).step, int64_t(4));
        QCOMPARE(readCheckpointInfo(kept[1]).step, int64_t(5));
        // No temporary files are left behind.
        int files = 0;
        for (const auto &entry : std::filesystem::directory_iterator(folder + "/checkpoints"))
            files += entry.is_regular_file() ? 1 : 0;
        QCOMPARE(files, 2);
        // The exported model opens as a model, with the EMA weights and the step.
        LoadedModel loaded = loadModelFile(folder + "/model.safetensors");
        QCOMPARE(loaded.info.step, int64_t(5));
        QVERIFY(loaded.model->config().isPointModel());
        // The newest checkpoint opened as a model (the studio's "Open in Generate") scores as the
        // exported EMA model; with its raw weights it scores differently.
        torch::NoGradGuard noGrad;
        const torch::Tensor x = torch::randn({8, 2, 1, 1}), t = torch::rand({8}) * 0.9 + 0.05;
        const torch::Tensor exported = loaded.model->score(x, t);
        SDE_COMPARE_TENSORS(loadCheckpointModel(kept[1])->score(x, t), exported, 1e-6, "checkpoint EMA model");
        QVERIFY(!torch::allclose(loadCheckpointModel(kept[1], false)->score(x, t), exported));

        // A finished run whose model is missing (a checkpoint copied into a new folder) gets it
        // back from its checkpoint on resume, byte for byte; the message says so.
        const std::string original = readFile(folder + "/model.safetensors");
        std::filesystem::remove(folder + "/model.safetensors");
        ScoreTrainingTask again(toyConfig());
        options.resume = true;
        const TrainingResult finished = train(again, data, options);
        QVERIFY2(finished.message.find("already trained for 5 steps; its model was written from the checkpoint") !=
                     std::string::npos,
                 finished.message.c_str());
        QCOMPARE(readFile(folder + "/model.safetensors") == original, true);
        QCOMPARE(train(again, data, options).message, std::string("already trained for 5 steps"));
    }

    // The NCSN++ of the continuous VE presets embeds time in random Fourier features whose W is
    // fixed (not trained, so not in the EMA). Its checkpoint opens as a model: W from the model
    // state, every trainable parameter from the EMA saved; a checkpoint whose EMA lacks a
    // trainable parameter, has one of another shape or names one the network does not train
    // is refused by name.
    void fourierCheckpointOpensAsAModel()
    {
        const ModelConfig config = test::shrunkConfig(loadPreset("ve/cifar10_ncsnpp_continuous"));
        QCOMPARE(config.model.embeddingType, std::string("fourier"));
        const std::string folder = test::makeTempDir();
        ScoreTrainingTask task(config);
        test::RandomImages data(config);
        QCOMPARE(train(task, data, optionsIn(folder, 1)).outcome, TrainingOutcome::Finished);
        const std::string path = listCheckpoints(folder).back();
        const TrainingCheckpoint saved = readTrainingCheckpoint(path);
        auto savedModel = [&](const std::string &name) {
            for (const auto &[key, tensor] : saved.model)
                if (key == name)
                    return tensor;
            return torch::Tensor();
        };

        std::unique_ptr<ScoreModel> opened = loadCheckpointModel(path);
        int fixed = 0, trainable = 0;
        for (const auto &item : opened->network()->named_parameters()) {
            const torch::Tensor expected =
                item.value().requires_grad() ? saved.emaOf(item.key(), path) : savedModel(item.key());
            QVERIFY2(expected.defined() && torch::equal(item.value(), expected), item.key().c_str());
            ++(item.value().requires_grad() ? trainable : fixed);
        }
        QCOMPARE(fixed, 1); // the Fourier embedding's W
        QCOMPARE(trainable, int(saved.ema.size()));
        // The EMA model scores as the exported one, and differs from the raw weights.
        torch::NoGradGuard noGrad;
        const torch::Tensor x = torch::randn({2, 3, 8, 8}), t = torch::tensor({0.3, 0.8});
        const torch::Tensor exported = loadModelFile(folder + "/model.safetensors").model->score(x, t);
        SDE_COMPARE_TENSORS(opened->score(x, t), exported, 0.0, "checkpoint EMA model");
        QVERIFY(!torch::allclose(loadCheckpointModel(path, false)->score(x, t), exported));

        SafetensorsFile file = readSafetensors(path);
        const std::string crafted = folder + "/crafted.safetensors";
        auto refused = [&](const std::vector<std::pair<std::string, torch::Tensor>> &tensors, const QString &named) {
            writeSafetensors(crafted, tensors, file.metadata);
            try {
                loadCheckpointModel(crafted);
            } catch (const Error &e) {
                return QString(e.what()).contains(named) && QString(e.what()).contains("crafted.safetensors");
            }
            return false;
        };
        auto without = file.tensors;
        auto firstEma = std::find_if(without.begin(), without.end(),
                                     [](const auto &entry) { return entry.first.rfind("ema.", 0) == 0; });
        const QString firstName = QString::fromStdString(firstEma->first.substr(4));
        without.erase(firstEma);
        QVERIFY(refused(without, firstName));
        auto reshaped = file.tensors;
        for (auto &entry : reshaped)
            if (entry.first == "ema." + firstName.toStdString())
                entry.second = torch::zeros({1});
        QVERIFY(refused(reshaped, firstName));
        auto extra = file.tensors;
        extra.emplace_back("ema.all_modules.0.W", savedModel("all_modules.0.W"));
        QVERIFY(refused(extra, "all_modules.0.W"));
    }

    // The run's seed goes through the checkpoint's metadata exactly, up to 2^64 - 1; a crafted
    // checkpoint whose seed is not such an integer is refused naming the file and the key.
    void checkpointKeepsTheSeedExact()
    {
        const std::string folder = test::makeTempDir();
        ScoreTrainingTask task(toyConfig());
        ToyTrainingData data(ToyDistribution::TwoMoons);
        TrainerOptions options = optionsIn(folder, 1);
        options.seed = std::numeric_limits<uint64_t>::max();
        train(task, data, options);
        const std::string checkpoint = listCheckpoints(folder).back();
        QCOMPARE(readCheckpointInfo(checkpoint).seed, std::numeric_limits<uint64_t>::max());
        QCOMPARE(loadModelFile(folder + "/model.safetensors").info.metadata.at("training_seed"),
                 std::string("18446744073709551615"));

        SafetensorsFile file = readSafetensors(checkpoint);
        for (const char *bad : {"-1", "1.5", "18446744073709551616", "seven"}) {
            file.metadata["seed"] = bad;
            const std::string crafted = folder + "/crafted.safetensors";
            writeSafetensors(crafted, file.tensors, file.metadata);
            try {
                readCheckpointInfo(crafted);
                QFAIL(qPrintable(QString("seed %1 was accepted").arg(bad)));
            } catch (const Error &e) {
                QVERIFY2(QString(e.what()).contains("crafted.safetensors"), e.what());
                QVERIFY2(QString(e.what()).contains("\"seed\""), e.what());
            }
        }
        file.metadata["seed"] = "5";
        file.metadata["definition"] = "{\"model\": ";
        writeSafetensors(folder + "/crafted.safetensors", file.tensors, file.metadata);
        QVERIFY_THROWS_EXCEPTION(Error, readCheckpointInfo(folder + "/crafted.safetensors"));
    }

    // One NaN batch is skipped and the run goes on; K in a row stop it with the last good
    // checkpoint in place.
    void nonFiniteLossesAreSkippedThenStopTheRun()
    {
        {
            const std::string folder = test::makeTempDir();
            ScoreTrainingTask task(tinyImageConfig());
            SyntheticImages data;
            data.nanSteps = {2};
            std::vector<std::string> warnings;
            TrainerCallbacks callbacks;
            callbacks.onWarning = [&](const std::string &message) { warnings.push_back(message); };
            TrainingResult result = train(task, data, optionsIn(folder, 5), callbacks);
            QCOMPARE(result.outcome, TrainingOutcome::Finished);
            QCOMPARE(int(warnings.size()), 1);
            QVERIFY(warnings[0].find("step 2") != std::string::npos);
        }
        {
            const std::string folder = test::makeTempDir();
            ScoreTrainingTask task(tinyImageConfig());
            SyntheticImages data;
            data.nanSteps = {4, 5, 6, 7, 8, 9};
            TrainerOptions options = optionsIn(folder, 20);
            options.checkpointEvery = 2;
            options.maxBadSteps = 3;
            TrainingResult result = train(task, data, options);
            QCOMPARE(result.outcome, TrainingOutcome::Diverged);
            QCOMPARE(result.step, int64_t(7));
            const auto kept = listCheckpoints(folder);
            QCOMPARE(readCheckpointInfo(kept.back()).step, int64_t(4));
            for (const auto &[name, tensor] : readSafetensors(kept.back()).tensors)
                QVERIFY2(torch::isfinite(tensor).all().item<bool>(), name.c_str());
        }
    }

    // Without a count, a preview of a 2D model is a cloud of kPointCloudSamples points, of an image
    // model a grid of kImagePreviewSamples images; a count given is kept.
    void previewsDrawACloudOfPointsOrAGridOfImages_data()
    {
        QTest::addColumn<bool>("points");
        QTest::addColumn<int>("given");
        QTest::addColumn<int>("expected");
        QTest::newRow("2D model") << true << 0 << int(kPointCloudSamples);
        QTest::newRow("2D model, 40 asked") << true << 40 << 40;
        QTest::newRow("image model") << false << 0 << int(kImagePreviewSamples);
    }
    void previewsDrawACloudOfPointsOrAGridOfImages()
    {
        QFETCH(bool, points);
        QFETCH(int, given);
        QFETCH(int, expected);
        TrainingRunRequest request;
        request.config = points ? toyConfig() : tinyImageConfig();
        request.data = points ? "toy:moons" : test::makeTempDir() + "/images";
        if (!points) {
            std::filesystem::create_directories(request.data);
            for (int i = 0; i < 4; ++i)
                savePng(request.data + "/" + std::to_string(i) + ".png", torch::rand({1, 8, 8}));
        }
        request.options = optionsIn(test::makeTempDir() + "/run", 1000);
        request.options.snapshotEvery = 1;
        request.options.snapshotCount = given;
        request.options.snapshotSteps = 20;
        request.steps = 1;
        TrainingRun run = prepareTrainingRun(request);
        int64_t drawn = -1;
        TrainerCallbacks callbacks;
        callbacks.onSnapshot = [&](int64_t, const torch::Tensor &samples) { drawn = samples.size(0); };
        QCOMPARE(run.run(callbacks).outcome, TrainingOutcome::Finished);
        QCOMPARE(drawn, int64_t(expected));
    }

    // A preview that fails (fewer sampler steps than the PC sampler takes) is reported, and the
    // run goes on as if it had not been tried: right after the failure the network is back in
    // training mode (dropout on) with its trained weights and the global generator where it
    // was; every checkpoint (weights, EMA, Adam) and the exported model equal those of the
    // same run without previews, and so do those of a run whose previews succeed.
    void failedPreviewLeavesTheRunAsItWas()
    {
        const ModelConfig config = tinyImageConfig();
        QVERIFY(config.model.dropout > 0.0);
        auto runIn = [&](const std::string &folder, int64_t snapshotSteps, std::vector<std::string> *failures) {
            torch::manual_seed(1);
            ScoreTrainingTask task(config);
            SyntheticImages data;
            TrainerOptions options = optionsIn(folder, 4);
            options.checkpointEvery = 1;
            options.keepCheckpoints = 10;
            options.snapshotEvery = snapshotSteps > 0 ? 1 : 0;
            options.snapshotCount = 2;
            options.snapshotSteps = std::max<int64_t>(snapshotSteps, 1);
            std::unique_ptr<NetworkState> before;
            int previews = 0;
            TrainerCallbacks callbacks;
            callbacks.onStep = [&](int64_t, int64_t, double) {
                before = std::make_unique<NetworkState>(task.module());
            };
            callbacks.onSnapshot = [&](int64_t, const torch::Tensor &samples) {
                ++previews;
                QVERIFY(torch::isfinite(samples).all().item<bool>());
            };
            callbacks.onWarning = [&](const std::string &message) {
                failures->push_back(message + " | " + differences(*before, task.module()));
            };
            QCOMPARE(train(task, data, options, callbacks).outcome, TrainingOutcome::Finished);
            QCOMPARE(previews, snapshotSteps > 1 ? 4 : 0);
            QVERIFY(task.module().is_training());
        };
        const std::string failing = test::makeTempDir(), working = test::makeTempDir(), none = test::makeTempDir();
        std::vector<std::string> failures, noFailures;
        runIn(failing, 1, &failures);
        QCOMPARE(int(failures.size()), 4);
        for (const std::string &failure : failures) {
            QVERIFY2(failure.find("preview samples of step") != std::string::npos, failure.c_str());
            QVERIFY2(failure.substr(failure.size() - 3) == " | ", failure.c_str());
        }
        runIn(working, 2, &noFailures);
        runIn(none, 0, &noFailures);
        QVERIFY(noFailures.empty());
        const auto withFailures = listCheckpoints(failing), withPreviews = listCheckpoints(working),
                   without = listCheckpoints(none);
        QCOMPARE(int(without.size()), 4);
        QCOMPARE(withFailures.size(), without.size());
        QCOMPARE(withPreviews.size(), without.size());
        for (size_t i = 0; i < without.size(); ++i) {
            compareTrainingStates(withFailures[i], without[i]);
            compareTrainingStates(withPreviews[i], without[i]);
        }
        compareFilesExactly(failing + "/model.safetensors", none + "/model.safetensors");
    }

    // A skipped step (a NaN loss, or a finite loss with a NaN gradient) changes nothing: the
    // network holds the same weights in the same mode right after it, and a run that ends on
    // it holds the training state (weights, EMA, Adam and its step count, the smoothed loss)
    // of the same run one step shorter.
    void skippedStepsLeaveTheStateAsItWas()
    {
        const ModelConfig config = tinyImageConfig();
        for (const bool nanGradient : {false, true}) {
            const std::string skipped = test::makeTempDir(), shorter = test::makeTempDir();
            {
                torch::manual_seed(1);
                NanGradientTask task(config);
                SyntheticImages data;
                if (nanGradient)
                    task.nanGradientSteps = {2};
                else
                    data.nanSteps = {2};
                std::unique_ptr<NetworkState> before;
                std::string changed = "(no step 3)", warning;
                TrainerCallbacks callbacks;
                callbacks.onStep = [&](int64_t step, int64_t, double) {
                    if (step == 3)
                        changed = differences(*before, task.module());
                    before = std::make_unique<NetworkState>(task.module());
                };
                callbacks.onWarning = [&](const std::string &message) { warning = message; };
                QCOMPARE(train(task, data, optionsIn(skipped, 3), callbacks).outcome, TrainingOutcome::Finished);
                // onStep's states differ by the generator, which every step seeds afresh.
                QVERIFY2(changed == "the global generator moved; ", changed.c_str());
                QVERIFY2(warning.find(nanGradient ? "gradient norm is not finite" : "loss is not finite") !=
                             std::string::npos,
                         warning.c_str());
            }
            {
                torch::manual_seed(1);
                ScoreTrainingTask task(config);
                SyntheticImages data;
                train(task, data, optionsIn(shorter, 2));
            }
            QCOMPARE(readCheckpointInfo(listCheckpoints(skipped).back()).step, int64_t(3));
            compareTrainingStates(listCheckpoints(skipped).back(), listCheckpoints(shorter).back());
            compareFilesExactly(skipped + "/model.safetensors", shorter + "/model.safetensors");
        }
    }

    // A checkpoint or an exported model that cannot be written stops the run with an error
    // naming the file; the network keeps its trained weights (not the EMA's), in training mode,
    // the checkpoints before stay as they were with no temporary file beside them, and the run
    // resumes from the last of them to the state of a run that never failed.
    void failedCheckpointWriteLeavesTheRunAsItWas()
    {
        const ModelConfig config = tinyImageConfig();
        auto optionsOf = [&](const std::string &folder) {
            TrainerOptions options = optionsIn(folder, 4);
            options.checkpointEvery = 2;
            return options;
        };
        const std::string twin = test::makeTempDir();
        {
            torch::manual_seed(1);
            ScoreTrainingTask task(config);
            SyntheticImages data;
            train(task, data, optionsOf(twin));
        }
        const auto twinCheckpoints = listCheckpoints(twin);
        QCOMPARE(int(twinCheckpoints.size()), 2);

        // A folder where the file should go, made once the run is under way, makes the write fail.
        for (const std::string blocked : {"checkpoints/" + checkpointFileName(4), std::string("model.safetensors")}) {
            const std::string folder = test::makeTempDir();
            const bool checkpointBlocked = blocked != "model.safetensors";
            torch::manual_seed(1);
            ScoreTrainingTask task(config);
            SyntheticImages data;
            TrainerCallbacks callbacks;
            callbacks.onStep = [&](int64_t step, int64_t, double) {
                if (step == 1)
                    std::filesystem::create_directories(folder + "/" + blocked + "/x");
            };
            try {
                train(task, data, optionsOf(folder), callbacks);
                QFAIL("a run that could not write its checkpoint finished");
            } catch (const Error &e) {
                QVERIFY2(QString(e.what()).contains(QString::fromStdString(blocked)), e.what());
            }
            QVERIFY(task.module().is_training());
            // A blocked checkpoint fails at step 4, a blocked export at the first one (step 2).
            compareWithModelState(task.module(), twinCheckpoints[checkpointBlocked ? 1 : 0]);
            int temporary = 0;
            for (const auto &entry : std::filesystem::recursive_directory_iterator(folder))
                temporary += entry.path().filename().string().find(".tmp") != std::string::npos;
            QCOMPARE(temporary, 0);
            if (!checkpointBlocked)
                continue;
            compareTrainingStates(listCheckpoints(folder).front(), twinCheckpoints[0]);

            std::filesystem::remove_all(folder + "/" + blocked);
            ScoreTrainingTask resumed(config);
            TrainerOptions options = optionsOf(folder);
            options.resume = true;
            QCOMPARE(train(resumed, data, options).step, int64_t(4));
            compareTrainingStates(listCheckpoints(folder).back(), twinCheckpoints[1]);
            compareFilesExactly(folder + "/model.safetensors", twin + "/model.safetensors");
        }
    }

    // A resume from a checkpoint that does not fit (an optimizer state or an EMA that lacks a
    // tensor) is refused naming the file, and leaves the network's weights as they were.
    void failedResumeLeavesTheNetworkAsItWas()
    {
        const ModelConfig config = tinyImageConfig();
        const std::string source = test::makeTempDir();
        {
            ScoreTrainingTask task(config);
            SyntheticImages data;
            train(task, data, optionsIn(source, 1));
        }
        const SafetensorsFile file = readSafetensors(listCheckpoints(source).back());
        for (const std::string dropped : {"adam.0.exp_avg", "ema.all_modules.0.weight"}) {
            const std::string folder = test::makeTempDir();
            std::filesystem::create_directories(folder + "/checkpoints");
            auto tensors = file.tensors;
            const auto before = tensors.size();
            tensors.erase(std::remove_if(tensors.begin(), tensors.end(),
                                         [&](const auto &entry) { return entry.first == dropped; }),
                          tensors.end());
            QCOMPARE(tensors.size() + 1, before);
            writeSafetensors(folder + "/checkpoints/" + checkpointFileName(1), tensors, file.metadata);

            torch::manual_seed(2);
            ScoreTrainingTask task(config);
            SyntheticImages data;
            task.module().train();
            const NetworkState initial(task.module());
            TrainerOptions options = optionsIn(folder, 2);
            options.resume = true;
            try {
                train(task, data, options);
                QFAIL("a resume from a broken checkpoint was accepted");
            } catch (const Error &e) {
                QVERIFY2(QString(e.what()).contains(QString::fromStdString(checkpointFileName(1))), e.what());
            }
            const std::string changed = differences(initial, task.module());
            QVERIFY2(changed.empty(), changed.c_str());
        }
    }

    // Paused from the step callback, the trainer waits; a stop then ends it with no further step.
    void pauseAndStopFromAnotherThread()
    {
        const std::string folder = test::makeTempDir();
        ScoreTrainingTask task(toyConfig());
        ToyTrainingData data(ToyDistribution::Checkerboard);
        TrainingControl control;
        std::promise<void> pausedAtTwo;
        std::atomic<int64_t> lastStep{0};
        TrainerCallbacks callbacks;
        callbacks.onStep = [&](int64_t step, int64_t, double) {
            lastStep = step;
            if (step == 2) {
                control.pause();
                pausedAtTwo.set_value();
            }
        };
        auto run = std::async(std::launch::async,
                              [&] { return train(task, data, optionsIn(folder, 1000), callbacks, &control); });
        pausedAtTwo.get_future().wait();
        QVERIFY(control.paused());
        QVERIFY(run.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready);
        control.stop();
        TrainingResult result = run.get();
        QCOMPARE(result.outcome, TrainingOutcome::Stopped);
        QCOMPARE(result.step, int64_t(2));
        QCOMPARE(lastStep.load(), int64_t(2));
        QCOMPARE(readCheckpointInfo(listCheckpoints(folder).back()).step, int64_t(2));
    }

    void metricsStreamHasEveryField()
    {
        const std::string folder = test::makeTempDir();
        ScoreTrainingTask task(toyConfig());
        ToyTrainingData data(ToyDistribution::SwissRoll);
        TrainerOptions options = optionsIn(folder, 6);
        options.logEvery = 3;
        std::vector<TrainingMetrics> seen;
        TrainerCallbacks callbacks;
        callbacks.onMetrics = [&](const TrainingMetrics &m) { seen.push_back(m); };
        train(task, data, options, callbacks);
        const auto records = lines(folder + "/metrics.jsonl");
        QCOMPARE(int(records.size()), 2);
        QCOMPARE(int(seen.size()), 2);
        for (const char *key : {"step", "loss", "ema_loss", "lr", "grad_norm", "steps_per_s", "memory_mib", "time_s"})
            QVERIFY2(parseJson(records[1]).contains(key), key);
        // A CPU run has no GPU memory and no loss scale to report.
        QVERIFY(!parseJson(records[1]).contains("gpu_memory_mib"));
        QVERIFY(!parseJson(records[1]).contains("loss_scale"));
        QCOMPARE(seen[1].gpuMemoryMiB, -1.0);
        QCOMPARE(seen[1].step, int64_t(6));
        // Warm-up of 10 steps: step index 5 (the sixth update) uses lr * 5 / 10.
        QVERIFY(std::abs(seen[1].learningRate - 0.5e-3) < 1e-12);
        // What the studio reads back (TrainingMetrics::fromJson) is what the callback saw.
        for (size_t i = 0; i < records.size(); ++i) {
            const TrainingMetrics back = TrainingMetrics::fromJson(parseJson(records[i]));
            QCOMPARE(back.step, seen[i].step);
            QCOMPARE(back.loss, seen[i].loss);
            QCOMPARE(back.emaLoss, seen[i].emaLoss);
            QCOMPARE(back.learningRate, seen[i].learningRate);
            QCOMPARE(back.gradNorm, seen[i].gradNorm);
            QCOMPARE(back.elapsedSeconds, seen[i].elapsedSeconds);
            QCOMPARE(back.gpuMemoryMiB, -1.0);
            QCOMPARE(back.accuracy, -1.0);
        }
        // A record without its step or with a loss that is not a number is refused, not zero.
        QVERIFY_THROWS_EXCEPTION(Error, TrainingMetrics::fromJson(parseJson("{\"loss\": 1.0}")));
        QVERIFY_THROWS_EXCEPTION(Error, TrainingMetrics::fromJson(parseJson("{\"step\": 3, \"loss\": null}")));
        // An older writer's record (step and loss only) keeps the defaults of the rest.
        const TrainingMetrics old = TrainingMetrics::fromJson(parseJson("{\"step\": 3, \"loss\": 0.5}"));
        QCOMPARE(old.emaLoss, 0.5);
        QCOMPARE(old.lossScale, -1.0);
        // An optional field written as null (a non-finite value) reads as NaN, a gap in the chart,
        // not a 0 plotted; the record stays. One of another type is refused.
        const TrainingMetrics nullNorm =
            TrainingMetrics::fromJson(parseJson("{\"step\": 4, \"loss\": 0.5, \"grad_norm\": null}"));
        QCOMPARE(nullNorm.step, int64_t(4));
        QVERIFY(std::isnan(nullNorm.gradNorm));
        QCOMPARE(nullNorm.emaLoss, 0.5);
        QVERIFY_THROWS_EXCEPTION(Error,
                                 TrainingMetrics::fromJson(parseJson("{\"step\": 4, \"loss\": 0.5, \"lr\": \"x\"}")));
        QVERIFY(seen[1].memoryMiB > 0.0 && seen[1].stepsPerSecond > 0.0);
    }

    // A score model on two-moons data learns: the loss falls well below its starting value.
    void scoreModelLearnsAToyDistribution()
    {
        const std::string folder = test::makeTempDir();
        ScoreTrainingTask task(toyConfig());
        ToyTrainingData data(ToyDistribution::TwoMoons);
        TrainerOptions options = optionsIn(folder, 400);
        options.logEvery = 50;
        std::vector<double> losses;
        TrainerCallbacks callbacks;
        callbacks.onMetrics = [&](const TrainingMetrics &m) { losses.push_back(m.loss); };
        train(task, data, options, callbacks);
        QVERIFY2(losses.back() < 0.6 * losses.front(),
                 qPrintable(QString("loss %1 -> %2").arg(losses.front()).arg(losses.back())));
    }

    // The classifier tells bright from dark images at low noise after a short run, and its
    // file opens with its config.
    void classifierLearnsAndRoundTrips()
    {
        const std::string folder = test::makeTempDir();
        ClassifierConfig config;
        config.scoreConfig = tinyImageConfig();
        config.nf = 8;
        config.chMult = {1, 2};
        config.numClasses = 2;
        config.classNames = {"dark", "bright"};
        ClassifierTrainingTask task(config);
        SyntheticImages data;
        TrainerOptions options = optionsIn(folder, 120);
        options.batchSize = 12;
        options.exportName = "classifier.safetensors";
        train(task, data, options);
        LoadedClassifier loaded = loadClassifierFile(folder + "/classifier.safetensors");
        QCOMPARE(loaded.config().classNames.at(1), std::string("bright"));
        SyntheticImages check(64);
        std::vector<torch::Tensor> xs;
        std::vector<int64_t> ys;
        for (int64_t i = 0; i < 64; ++i) {
            int64_t label = 0;
            xs.push_back(check.example(i, &label));
            ys.push_back(label);
        }
        torch::NoGradGuard noGrad;
        torch::Tensor x = torch::stack(xs) * 2.0 - 1.0; // centered data
        torch::Tensor logits = loaded.network->forward(x, torch::full({64}, 0.01));
        const double accuracy = logits.argmax(1).eq(torch::tensor(ys)).to(torch::kFloat32).mean().item<double>();
        QVERIFY2(accuracy > 0.9, qPrintable(QString("accuracy %1").arg(accuracy)));
    }

    // Two Gaussians: FD = |mu1 - mu2|^2 + tr(C1 + C2 - 2 (C1 C2)^1/2); for diagonal covariances
    // sum (s1 - s2)^2. A rotation of both leaves it unchanged.
    void frechetDistanceOfGaussians()
    {
        FeatureStatistics a{torch::tensor({0.0, 1.0, 2.0}, torch::kFloat64),
                            torch::diag(torch::tensor({1.0, 4.0, 9.0}, torch::kFloat64))};
        FeatureStatistics b{torch::tensor({1.0, 1.0, 0.0}, torch::kFloat64),
                            torch::diag(torch::tensor({4.0, 4.0, 1.0}, torch::kFloat64))};
        const double expected = (1.0 + 0.0 + 4.0) + (1.0 + 0.0 + 4.0);
        QVERIFY(std::abs(frechetDistance(a, b) - expected) < 1e-9);
        QVERIFY(std::abs(frechetDistance(a, a)) < 1e-9);
        torch::Tensor q = std::get<0>(torch::linalg_qr(torch::randn({3, 3}, torch::kFloat64)));
        auto rotate = [&](const FeatureStatistics &s) {
            return FeatureStatistics{q.matmul(s.mean), q.matmul(s.covariance).matmul(q.transpose(0, 1))};
        };
        QVERIFY(std::abs(frechetDistance(rotate(a), rotate(b)) - expected) < 1e-8);
        // From samples: the statistics converge to the truth.
        torch::Tensor samples = torch::randn({20000, 2}, torch::kFloat64) * torch::tensor({1.0, 2.0}, torch::kFloat64);
        FeatureStatistics measured = featureStatistics(samples);
        QVERIFY(std::abs(measured.covariance[1][1].item<double>() - 4.0) < 0.15);
    }

    // Two sets that differ by a shift v: the sliced W2 is |v| / sqrt(2) in 2D (E (v.u)^2 = |v|^2 / 2).
    void slicedWassersteinOfAShift()
    {
        at::Generator g = at::detail::createCPUGenerator(3);
        torch::Tensor a = torch::randn({4000, 2}, g, torch::kFloat64);
        torch::Tensor b = a + torch::tensor({3.0, 4.0}, torch::kFloat64);
        const double distance = slicedWassersteinDistance(a, b, 2000, g);
        QVERIFY2(std::abs(distance - 5.0 / std::sqrt(2.0)) < 0.1, qPrintable(QString::number(distance)));
        QVERIFY(slicedWassersteinDistance(a, a, 50, g) < 1e-12);
        torch::Tensor c = torch::randn({4000, 2}, g, torch::kFloat64);
        QVERIFY(maximumMeanDiscrepancy(a, c, 1.0) < 2e-3);
        QVERIFY(maximumMeanDiscrepancy(a, b, 1.0) > 0.5);
    }

    // Samples of the toy distributions have their defining properties.
    void toyDistributionsHaveTheirShapes()
    {
        at::Generator g = at::detail::createCPUGenerator(11);
        torch::Tensor board = sampleToyDistribution(ToyDistribution::Checkerboard, 5000, g) / 2.0;
        torch::Tensor parity =
            torch::remainder(torch::floor(board.select(1, 0)) + torch::floor(board.select(1, 1)), 2.0);
        QVERIFY(parity.eq(0.0).all().item<bool>() || parity.eq(1.0).all().item<bool>());
        QVERIFY(board.abs().max().item<double>() <= 2.0);
        torch::Tensor eight = sampleToyDistribution(ToyDistribution::EightGaussians, 20000, g);
        const double radius = eight.norm(2, 1).mean().item<double>();
        QVERIFY2(std::abs(radius - 4.0 / 1.414) < 0.1, qPrintable(QString::number(radius)));
        QVERIFY_THROWS_EXCEPTION(Error, toyDistributionFromName("spiral"));
        // A batch is a function of (seed, step) alone.
        ToyTrainingData data(ToyDistribution::TwoMoons);
        QVERIFY(torch::equal(data.batch(7, 16, 1).examples, data.batch(7, 16, 1).examples));
        QVERIFY(!torch::equal(data.batch(7, 16, 1).examples, data.batch(8, 16, 1).examples));
    }

    // Epochs visit every example once, in an order that depends on the seed.
    void indexedDataWalksPermutations()
    {
        SyntheticImages data(12);
        std::set<std::string> seen;
        for (int64_t step = 0; step < 3; ++step) {
            TrainingBatch batch = data.batch(step, 4, 21);
            QCOMPARE(batch.labels.size(0), int64_t(4));
            for (int64_t i = 0; i < 4; ++i) {
                torch::Tensor x = batch.examples[i];
                // Undo a possible flip by taking the lexicographically smaller of both.
                std::ostringstream key;
                key << std::min(x.sum().item<double>(), x.flip({2}).sum().item<double>()) << ":"
                    << x.square().sum().item<double>();
                seen.insert(key.str());
            }
        }
        QCOMPARE(int(seen.size()), 12);
    }
};

QTEST_GUILESS_MAIN(TestTraining)
#include "test_training.moc"
