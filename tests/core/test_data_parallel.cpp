// Data-parallel training on c10d (Gloo on loopback): ranks run as threads of this process, each
// with its own model, data and process group. Two ranks reach the parameters one rank reaches on
// the same global batch (with and without gradient accumulation), checkpoints resume across
// numbers of ranks, the gradient reducer's buckets sum exactly, ranks that disagree are stopped,
// and the environment of a launched job is read strictly.
#include "config/presets.h"
#include "data/toy_data.h"
#include "io/safetensors.h"
#include "train/agent_store.h"
#include "train/data_parallel.h"
#include "train/trainer.h"
#include "train/training_checkpoint.h"
#include "util/build_info.h"
#include "util/error.h"

#include "error_of.h"
#include "sanitizers.h"
#include "test_support.h"
#include "tiny_models.h"

#include <QProcess>
#include <QScopeGuard>
#include <QtTest/QtTest>

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/cuda.h>

#include <unistd.h>

#include <cstdlib>
#include <exception>
#include <fstream>
#include <functional>
#include <future>
#include <thread>

using namespace sde;
using sde::test::errorOf;
using sde::test::optionsIn;

namespace {

// The trainer tests' models at this test's batch; the DDPM++ without dropout: its masks are
// drawn per share of the batch, so only a dropout-free model is split-invariant.
ModelConfig toyConfig()
{
    ModelConfig config = test::toyConfig();
    config.training.batchSize = 24;
    config.optim.warmup = 3;
    return config;
}

ModelConfig tinyImageConfig()
{
    ModelConfig config = test::tinyImageConfig();
    config.model.dropout = 0.0;
    config.training.batchSize = 6;
    return config;
}

DataParallelSettings settingsOf(int rank, int worldSize, int port)
{
    DataParallelSettings settings;
    settings.masterAddress = "127.0.0.1";
    settings.masterPort = port;
    settings.rank = rank;
    settings.localRank = rank;
    settings.worldSize = worldSize;
    settings.timeout = std::chrono::seconds(60);
    return settings;
}

// Runs work(rank) for `count` ranks on threads of their own; the message of each rank's
// exception ("" when it returned).
std::vector<std::string> runRanks(int count, const std::function<void(int)> &work)
{
    std::vector<std::string> errors(static_cast<size_t>(count));
    std::vector<std::thread> threads;
    for (int rank = 0; rank < count; ++rank)
        threads.emplace_back([&, rank] {
            try {
                work(rank);
            } catch (const std::exception &e) {
                errors[static_cast<size_t>(rank)] = e.what();
            }
        });
    for (auto &thread : threads)
        thread.join();
    return errors;
}

enum class Model { Toy, TinyImage };

std::unique_ptr<ScoreTrainingTask> makeTask(Model model)
{
    torch::manual_seed(11); // the same initial weights for every rank
    return std::make_unique<ScoreTrainingTask>(model == Model::Toy ? toyConfig() : tinyImageConfig());
}

std::unique_ptr<TrainingData> makeData(Model model)
{
    if (model == Model::Toy)
        return std::make_unique<ToyTrainingData>(ToyDistribution::TwoMoons);
    return std::make_unique<test::RandomImages>(tinyImageConfig());
}

// One model and data source per rank, the models alike.
struct Ranks {
    std::vector<std::unique_ptr<ScoreTrainingTask>> tasks;
    std::vector<std::unique_ptr<TrainingData>> data;
    Ranks(Model model, int count)
    {
        for (int rank = 0; rank < count; ++rank) {
            tasks.push_back(makeTask(model));
            data.push_back(makeData(model));
        }
    }
};

// Trains into `folder` until `steps` with `ranks` processes (threads) of `accumulation`
// micro-batches each, meeting at `port` (a free one when 0); resumes when asked. Returns the rank
// errors (all "" on success).
std::vector<std::string> trainWith(Model model, const std::string &folder, int64_t steps, int ranks, int accumulation,
                                   bool resume = false, int port = 0)
{
    Ranks job(model, ranks);
    if (port == 0)
        port = freeLoopbackPort();
    return runRanks(ranks, [&](int rank) {
        TrainerOptions options = optionsIn(folder, steps);
        options.resume = resume;
        options.accumulation = accumulation;
        if (ranks > 1)
            options.dataParallel = settingsOf(rank, ranks, port);
        train(*job.tasks[static_cast<size_t>(rank)], *job.data[static_cast<size_t>(rank)], options);
    });
}

// Every tensor of a checkpoint (model, EMA, Adam moments).
std::map<std::string, torch::Tensor> checkpointTensors(const std::string &folder, int64_t step)
{
    const std::string path = folder + "/checkpoints/" + checkpointFileName(step);
    std::map<std::string, torch::Tensor> tensors;
    for (auto &[name, tensor] : readSafetensors(path).tensors)
        tensors[name] = tensor;
    return tensors;
}

// The largest difference between two checkpoints' tensors, relative to the largest magnitude.
double largestDifference(const std::map<std::string, torch::Tensor> &a, const std::map<std::string, torch::Tensor> &b)
{
    if (a.size() != b.size())
        return std::numeric_limits<double>::infinity();
    double difference = 0.0;
    for (const auto &[name, tensor] : a) {
        const auto other = b.find(name);
        if (other == b.end() || other->second.sizes() != tensor.sizes())
            return std::numeric_limits<double>::infinity();
        const torch::Tensor x = tensor.to(torch::kDouble), y = other->second.to(torch::kDouble);
        // Against at least 0.01: tensors that start at zero (the residual blocks' last
        // convolutions, Adam's moments) are still near 1e-4 after a few steps, and their rounding
        // differences (1.3e-8 absolute on one AMD EPYC) are no sign of a wrong split, which moves
        // them by the size of an update.
        const double scale = std::max(1e-2, x.abs().max().item<double>());
        difference = std::max(difference, (x - y).abs().max().item<double>() / scale);
    }
    return difference;
}

int lineCount(const std::string &path)
{
    std::ifstream in(path);
    int count = 0;
    for (std::string line; std::getline(in, line);)
        count += line.empty() ? 0 : 1;
    return count;
}

const char *kEnvironment[] = {"MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "LOCAL_RANK"};

} // namespace

class TestDataParallel : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        // Before the CPU's backend, which the cuda flavor lacks: that flavor must have the CUDA
        // devices' (NCCL), and every other build must say where it is.
        std::string why;
        const bool nccl = dataParallelAvailable(torch::Device(torch::kCUDA, 0), &why);
        QCOMPARE(nccl, SDE_WITH_CUDA != 0);
        QVERIFY2(nccl || QString::fromStdString(why).contains("cuda flavor"), why.c_str());
        if (!dataParallelAvailable(torch::kCPU, &why))
            QSKIP(why.c_str());
    }

    // A rank's device: the CPU as asked; a CUDA device without an index is its LOCAL_RANK's GPU,
    // and a machine without it is told.
    void aRankTrainsOnItsDevice()
    {
        DataParallelSettings settings = settingsOf(1, 2, 29500);
        QCOMPARE(rankDevice("cpu", settings), torch::Device(torch::kCPU));
        if (torch::cuda::is_available()) {
            settings.localRank = static_cast<int>(torch::cuda::device_count());
            QVERIFY(errorOf([&] { rankDevice("cuda", settings); }).contains("LOCAL_RANK"));
            settings.localRank = 0;
            QCOMPARE(rankDevice("cuda", settings), torch::Device(torch::kCUDA, 0));
        } else {
            QVERIFY(errorOf([&] { rankDevice("cuda", settings); }).contains("no CUDA GPU is available"));
        }
    }

    // Each rank's micro-batches tile its share, the shares tile the batch, and sizes differ by at
    // most one; a batch too small to give every part a row is refused.
    void microBatchesTileTheBatch_data()
    {
        QTest::addColumn<int>("batch");
        QTest::addColumn<int>("ranks");
        QTest::addColumn<int>("accumulation");
        QTest::newRow("1 x 1") << 7 << 1 << 1;
        QTest::newRow("2 ranks") << 64 << 2 << 1;
        QTest::newRow("3 ranks, uneven") << 10 << 3 << 1;
        QTest::newRow("2 ranks x 3") << 64 << 2 << 3;
        QTest::newRow("4 ranks x 2, one row each") << 8 << 4 << 2;
        QTest::newRow("1 rank x 5, uneven") << 12 << 1 << 5;
    }
    void microBatchesTileTheBatch()
    {
        QFETCH(int, batch);
        QFETCH(int, ranks);
        QFETCH(int, accumulation);
        int64_t next = 0, smallest = batch, largest = 0;
        for (int rank = 0; rank < ranks; ++rank) {
            const std::vector<BatchSlice> parts = rankMicroBatches(batch, rank, ranks, accumulation);
            QCOMPARE(int(parts.size()), accumulation);
            for (const BatchSlice &part : parts) {
                QCOMPARE(part.begin, next);
                QVERIFY(part.size() >= 1);
                smallest = std::min(smallest, part.size());
                largest = std::max(largest, part.size());
                next = part.end;
            }
        }
        QCOMPARE(next, int64_t(batch));
        QVERIFY(largest - smallest <= 1);
    }
    void tooSmallABatchIsRefused()
    {
        QVERIFY(
            errorOf([] { rankMicroBatches(5, 0, 2, 3); })
                .contains(
                    "a batch of 5 cannot be split over 2 process(es) x 3 micro-batch(es): give a batch of at least 6"));
        QVERIFY(errorOf([] { rankMicroBatches(8, 2, 2, 1); }).contains("not a valid split"));
    }

    // Two ranks of half the batch each reach the parameters, EMA and Adam moments that one
    // process reaches on the whole batch, up to float summation order; so do micro-batches.
    void ranksMatchOneProcess_data()
    {
        QTest::addColumn<int>("model");
        QTest::addColumn<int>("ranks");
        QTest::addColumn<int>("accumulation");
        QTest::newRow("toy, 2 ranks") << int(Model::Toy) << 2 << 1;
        QTest::newRow("toy, 2 ranks x 3 micro-batches") << int(Model::Toy) << 2 << 3;
        QTest::newRow("toy, 1 rank x 4 micro-batches") << int(Model::Toy) << 1 << 4;
        QTest::newRow("toy, 3 ranks") << int(Model::Toy) << 3 << 1;
        QTest::newRow("DDPM++, 2 ranks") << int(Model::TinyImage) << 2 << 1;
        QTest::newRow("DDPM++, 2 ranks x 2 micro-batches") << int(Model::TinyImage) << 2 << 2;
    }
    void ranksMatchOneProcess()
    {
        QFETCH(int, model);
        QFETCH(int, ranks);
        QFETCH(int, accumulation);
        const int64_t steps = 6;
        const std::string single = test::makeTempDir(), split = test::makeTempDir();
        for (const std::string &error : trainWith(Model(model), single, steps, 1, 1))
            QVERIFY2(error.empty(), error.c_str());
        for (const std::string &error : trainWith(Model(model), split, steps, ranks, accumulation))
            QVERIFY2(error.empty(), error.c_str());
        const auto one = checkpointTensors(single, steps), many = checkpointTensors(split, steps);
        const double difference = largestDifference(one, many);
        QVERIFY2(difference < 1e-5, qPrintable(QString("relative difference %1").arg(difference)));
        // Not a test that cannot fail: the parameters moved from their initial values.
        const std::string early = test::makeTempDir();
        for (const std::string &error : trainWith(Model(model), early, 1, 1, 1))
            QVERIFY2(error.empty(), error.c_str());
        QVERIFY(largestDifference(one, checkpointTensors(early, 1)) > 1e-3);
        // Rank 0 alone wrote the metrics: one record a step.
        QCOMPARE(lineCount(split + "/metrics.jsonl"), int(steps));
    }

    // A checkpoint written by two ranks resumes in one process, and the other way round, to the
    // parameters an uninterrupted single-process run reaches.
    void checkpointsResumeAcrossRankCounts()
    {
        const std::string whole = test::makeTempDir();
        for (const std::string &error : trainWith(Model::Toy, whole, 8, 1, 1))
            QVERIFY2(error.empty(), error.c_str());
        const auto reference = checkpointTensors(whole, 8);
        for (const auto &[first, second] : {std::pair{2, 1}, std::pair{1, 2}}) {
            const std::string folder = test::makeTempDir();
            for (const std::string &error : trainWith(Model::Toy, folder, 4, first, 1))
                QVERIFY2(error.empty(), error.c_str());
            for (const std::string &error : trainWith(Model::Toy, folder, 8, second, 1, /*resume=*/true))
                QVERIFY2(error.empty(), error.c_str());
            const double difference = largestDifference(reference, checkpointTensors(folder, 8));
            QVERIFY2(
                difference < 1e-5,
                qPrintable(QString("%1 then %2 ranks: relative difference %3").arg(first).arg(second).arg(difference)));
        }
    }

    // Ranks whose parameters differ (one rank's weights changed by a little) are stopped at the
    // start, every rank with the message.
    void ranksThatDisagreeAreStopped()
    {
        Ranks job(Model::Toy, 2);
        auto &tasks = job.tasks;
        auto &data = job.data;
        {
            torch::NoGradGuard noGrad;
            tasks[1]->module().parameters().front().add_(1e-3);
        }
        const std::string folder = test::makeTempDir();
        const int port = freeLoopbackPort();
        const std::vector<std::string> errors = runRanks(2, [&](int rank) {
            TrainerOptions options = optionsIn(folder, 3);
            options.dataParallel = settingsOf(rank, 2, port);
            train(*tasks[static_cast<size_t>(rank)], *data[static_cast<size_t>(rank)], options);
        });
        for (const std::string &error : errors)
            QVERIFY2(QString::fromStdString(error).contains("the ranks' parameters differ at step 0"), error.c_str());
    }

    // Settings that decide when collectives happen must agree, or every rank stops naming them;
    // parameters that differ by rounding alone are replaced by rank 0's.
    void ranksAgreeOnSettingsAndRounding()
    {
        Ranks job(Model::Toy, 2);
        auto &tasks = job.tasks;
        auto &data = job.data;
        const std::string folder = test::makeTempDir();
        int port = freeLoopbackPort();
        std::vector<std::string> errors = runRanks(2, [&](int rank) {
            TrainerOptions options = optionsIn(folder, rank == 0 ? 3 : 4);
            options.seed = rank == 0 ? 5 : 6;
            options.dataParallel = settingsOf(rank, 2, port);
            train(*tasks[static_cast<size_t>(rank)], *data[static_cast<size_t>(rank)], options);
        });
        for (const std::string &error : errors)
            QVERIFY2(QString::fromStdString(error).contains("started with different settings (--steps, --seed)"),
                     error.c_str());

        // A rounding-sized difference (1e-7 of a weight) is no reason to stop: rank 1 goes on
        // with rank 0's values, and both end where one process ends.
        {
            torch::NoGradGuard noGrad;
            tasks[1]->module().parameters().front().mul_(1.0 + 1e-7);
        }
        const std::string shared = test::makeTempDir();
        port = freeLoopbackPort();
        errors = runRanks(2, [&](int rank) {
            TrainerOptions options = optionsIn(shared, 4);
            options.dataParallel = settingsOf(rank, 2, port);
            train(*tasks[static_cast<size_t>(rank)], *data[static_cast<size_t>(rank)], options);
        });
        for (const std::string &error : errors)
            QVERIFY2(error.empty(), error.c_str());
        for (size_t i = 0; i < tasks[0]->module().parameters().size(); ++i)
            QVERIFY(torch::equal(tasks[0]->module().parameters()[i], tasks[1]->module().parameters()[i]));
    }

    // A stop asked of one rank stops every rank after the same step, with a checkpoint there.
    void aStopReachesEveryRank()
    {
        Ranks job(Model::Toy, 2);
        auto &tasks = job.tasks;
        auto &data = job.data;
        const std::string folder = test::makeTempDir();
        const int port = freeLoopbackPort();
        std::vector<TrainingResult> results(2);
        TrainingControl control;
        const std::vector<std::string> errors = runRanks(2, [&](int rank) {
            TrainerOptions options = optionsIn(folder, 1000000);
            options.dataParallel = settingsOf(rank, 2, port);
            TrainerCallbacks callbacks;
            if (rank == 1)
                callbacks.onStep = [&](int64_t step, int64_t, double) {
                    if (step == 7)
                        control.stop();
                };
            results[static_cast<size_t>(rank)] =
                train(*tasks[static_cast<size_t>(rank)], *data[static_cast<size_t>(rank)], options, callbacks,
                      rank == 1 ? &control : nullptr);
        });
        for (const std::string &error : errors)
            QVERIFY2(error.empty(), error.c_str());
        for (const TrainingResult &result : results) {
            QCOMPARE(int(result.outcome), int(TrainingOutcome::Stopped));
            QCOMPARE(result.step, int64_t(8)); // the stop is seen in step 8's sums
        }
        QCOMPARE(readCheckpointInfo(listCheckpoints(folder).back()).step, int64_t(8));
    }

    // The store torchrun's agent serves (train/agent_store.h), here PyTorch 2.x's own TCPStore
    // served from the wheel's Python (both of its backends): the values go both ways, every
    // query the process group and the heartbeat make answers as a TCPStore's would, a wait that
    // outlasts its timeout throws and leaves the connection usable, and keys under the attempt's
    // prefix land where torch.distributed puts them. Under torchrun itself: test_cli.
    void agentStoreSpeaksTheLaunchersProtocol_data()
    {
        QTest::addColumn<QString>("backend");
        QTest::newRow("libuv") << "True";
        QTest::newRow("classic") << "False";
    }
    void agentStoreSpeaksTheLaunchersProtocol()
    {
#if TORCH_VERSION_MAJOR >= 2
        QSKIP("LibTorch 2.x's own TCPStore speaks the launcher's protocol");
#else
        QFETCH(QString, backend);
        const std::string bin = test::torchVenvBin();
        if (bin.empty() && std::getenv("SDE_TORCH_VENV") != nullptr)
            QFAIL("SDE_TORCH_VENV is set, but its bin folder has no torchrun");
        if (bin.empty())
            QSKIP("no Python with PyTorch 2.x: packaging/install-torch.sh makes .venv-torch (or set SDE_TORCH_VENV)");
        const int port = freeLoopbackPort();
        // The server's own client answers ours: it reads what this test set and sets its reply.
        const QString script = QString("import datetime, sys\n"
                                       "import torch.distributed as dist\n"
                                       "s = dist.TCPStore('127.0.0.1', %1, is_master=True, wait_for_workers=False,\n"
                                       "                  timeout=datetime.timedelta(seconds=60), use_libuv=%2)\n"
                                       "print('ready', flush=True)\n"
                                       "s.set('from-python', s.get('from-cpp') + b'!')\n"
                                       "print(s.get('/worker/attempt_3/k').decode(), flush=True)\n"
                                       "s.wait(['done'])\n")
                                   .arg(port)
                                   .arg(backend);
        QProcess server;
        server.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        server.start(QString::fromStdString(bin + "/python3"), {"-c", script});
        QVERIFY(server.waitForStarted());
        QTRY_VERIFY_WITH_TIMEOUT(server.canReadLine() || server.state() != QProcess::Running, 60000);
        QCOMPARE(server.readLine().trimmed(), QByteArray("ready"));

        try {
            checkAgentStore(server, port);
        } catch (const std::exception &e) {
            QFAIL(e.what());
        }
#endif
    }

    // The agent of a launcher of PyTorch 2.1 or older serves a store of the protocol LibTorch
    // 1.13's own TCPStore speaks (their query types agree from SET to GETNUMKEYS, all that the
    // ranks' set, get and wait send): such a store stands for the agent here. The agent store's
    // client sees the store close its connection at once, the store still serves its clients, and
    // two ranks that meet through it reach one rank's parameters.
    void olderLaunchersStoresAreSpokenTo()
    {
#if TORCH_VERSION_MAJOR >= 2
        QSKIP("LibTorch 2.x's own TCPStore speaks the launchers' protocols");
#elif SDE_UNDER_ASAN
        // The store here is in this process: its impossible allocation would end it.
        QSKIP("under AddressSanitizer, whose operator new ends the process where the older store expects "
              "std::bad_alloc");
#else
        const int port = freeLoopbackPort();
        c10d::TCPStoreOptions options;
        options.port = static_cast<uint16_t>(port);
        options.isServer = true;
        options.waitWorkers = false;
        options.timeout = std::chrono::seconds(60);
        auto agent = c10::make_intrusive<c10d::TCPStore>("127.0.0.1", options);
        agent->set("before", std::vector<uint8_t>{'1'});
        const int64_t keysBefore = agent->getNumKeys();

        const auto started = std::chrono::steady_clock::now();
        try {
            AgentStoreClient client("127.0.0.1", static_cast<uint16_t>(port), std::chrono::seconds(60));
            QFAIL("the client took a store of the older protocol for one of the newer");
        } catch (const LegacyAgentStoreError &e) {
            QVERIFY2(QString(e.what()).contains(QString("127.0.0.1:%1").arg(port)), e.what());
        }
        // At once, not after the store's timeout.
        QVERIFY(std::chrono::steady_clock::now() - started < std::chrono::seconds(10));
        QCOMPARE(agent->getNumKeys(), keysBefore);
        QCOMPARE(agent->get("before"), std::vector<uint8_t>{'1'});

        const std::string single = test::makeTempDir(), split = test::makeTempDir();
        for (const std::string &error : trainWith(Model::Toy, single, 3, 1, 1))
            QVERIFY2(error.empty(), error.c_str());
        std::vector<std::string> errors;
        {
            // Set before the rank threads start, and unset after they end, whatever happens.
            ::setenv("TORCHELASTIC_USE_AGENT_STORE", "True", 1);
            ::setenv("TORCHELASTIC_RESTART_COUNT", "2", 1);
            const auto unset = qScopeGuard([] {
                ::unsetenv("TORCHELASTIC_USE_AGENT_STORE");
                ::unsetenv("TORCHELASTIC_RESTART_COUNT");
            });
            errors = trainWith(Model::Toy, split, 3, 2, 1, false, port);
        }
        for (const std::string &error : errors)
            QVERIFY2(error.empty(), error.c_str());
        const double difference = largestDifference(checkpointTensors(single, 3), checkpointTensors(split, 3));
        QVERIFY2(difference < 1e-5, qPrintable(QString("relative difference %1").arg(difference)));
        // The ranks met in the agent's store, under the attempt's prefix, as torch.distributed's do.
        QVERIFY(agent->check({"/worker/attempt_2/sdestudio/heartbeat/0", "/worker/attempt_2/sdestudio/heartbeat/1"}));
#endif
    }

    // The reducer's sums, bucket by bucket (tiny buckets: one parameter or two each), equal the
    // sums of the ranks' own gradients; a second micro-batch's gradient is added to the first's.
    void reducerSumsEveryBucket()
    {
        const int port = freeLoopbackPort();
        std::vector<torch::Tensor> expected;
        std::vector<std::vector<torch::Tensor>> reduced(2);
        torch::manual_seed(3);
        std::vector<std::vector<torch::Tensor>> inputs;
        for (int rank = 0; rank < 2; ++rank)
            inputs.push_back({torch::randn({4, 5}), torch::randn({4, 5})});
        const auto makeNet = [] {
            torch::manual_seed(4);
            return torch::nn::Sequential(torch::nn::Linear(5, 7), torch::nn::Tanh(), torch::nn::Linear(7, 3));
        };
        // The expected sums: every rank's two micro-batches, in one process.
        {
            torch::nn::Sequential net = makeNet();
            for (int rank = 0; rank < 2; ++rank)
                for (const torch::Tensor &x : inputs[static_cast<size_t>(rank)])
                    net->forward(x).pow(2).sum().backward();
            for (const auto &p : net->parameters())
                expected.push_back(p.grad().clone());
        }
        std::vector<torch::nn::Sequential> nets{makeNet(), makeNet()};
        const std::vector<std::string> errors = runRanks(2, [&](int rank) {
            DataParallelGroup group(settingsOf(rank, 2, port), torch::kCPU);
            std::vector<torch::Tensor> parameters = nets[static_cast<size_t>(rank)]->parameters();
            GradientReducer reducer(group, parameters, /*bucketBytes=*/100);
            nets[static_cast<size_t>(rank)]->forward(inputs[static_cast<size_t>(rank)][0]).pow(2).sum().backward();
            reducer.arm();
            nets[static_cast<size_t>(rank)]->forward(inputs[static_cast<size_t>(rank)][1]).pow(2).sum().backward();
            reducer.finish("the test");
            for (const auto &p : parameters)
                reduced[static_cast<size_t>(rank)].push_back(p.grad().clone());
        });
        for (const std::string &error : errors)
            QVERIFY2(error.empty(), error.c_str());
        for (int rank = 0; rank < 2; ++rank)
            for (size_t i = 0; i < expected.size(); ++i)
                SDE_COMPARE_TENSORS(reduced[static_cast<size_t>(rank)][i], expected[i], 1e-5, "summed gradient");
    }

    // The environment of a launched job: unset or WORLD_SIZE 1 is a single process; malformed or
    // missing values are refused by name.
    void environmentIsReadStrictly_data()
    {
        QTest::addColumn<QStringList>("variables");
        QTest::addColumn<QString>("error"); // "" when accepted
        QTest::newRow("unset") << QStringList{} << "";
        QTest::newRow("one process") << QStringList{"WORLD_SIZE=1"} << "";
        QTest::newRow("full") << QStringList{"WORLD_SIZE=4", "RANK=3", "LOCAL_RANK=1", "MASTER_ADDR=node0",
                                             "MASTER_PORT=29500"}
                              << "";
        QTest::newRow("no address") << QStringList{"WORLD_SIZE=2", "RANK=0", "MASTER_PORT=29500"}
                                    << "WORLD_SIZE is 2 but MASTER_ADDR is not set";
        QTest::newRow("no port") << QStringList{"WORLD_SIZE=2", "RANK=0", "MASTER_ADDR=node0"}
                                 << "WORLD_SIZE is 2 but MASTER_PORT is not set";
        QTest::newRow("no rank") << QStringList{"WORLD_SIZE=2", "MASTER_ADDR=node0", "MASTER_PORT=29500"}
                                 << "WORLD_SIZE is 2 but RANK is not set";
        QTest::newRow("rank too large") << QStringList{"WORLD_SIZE=2", "RANK=2", "MASTER_ADDR=a", "MASTER_PORT=1"}
                                        << "RANK must be a whole number between 0 and 1, not '2'";
        QTest::newRow("port out of range")
            << QStringList{"WORLD_SIZE=2", "RANK=0", "MASTER_ADDR=a", "MASTER_PORT=70000"}
            << "MASTER_PORT must be a whole number between 1 and 65535, not '70000'";
        QTest::newRow("world size text") << QStringList{"WORLD_SIZE=two"}
                                         << "WORLD_SIZE must be a whole number between 1 and 4096, not 'two'";
        QTest::newRow("world size zero") << QStringList{"WORLD_SIZE=0"}
                                         << "WORLD_SIZE must be a whole number between 1 and 4096, not '0'";
        QTest::newRow("trailing text") << QStringList{"WORLD_SIZE=2x"}
                                       << "WORLD_SIZE must be a whole number between 1 and 4096, not '2x'";
    }
    void environmentIsReadStrictly()
    {
        QFETCH(QStringList, variables);
        QFETCH(QString, error);
        for (const char *name : kEnvironment)
            ::unsetenv(name);
        for (const QString &variable : variables) {
            const QStringList parts = variable.split('=');
            ::setenv(qPrintable(parts[0]), qPrintable(parts[1]), 1);
        }
        std::optional<DataParallelSettings> settings;
        const QString message = errorOf([&] { settings = dataParallelSettingsFromEnvironment(); });
        for (const char *name : kEnvironment)
            ::unsetenv(name);
        if (!error.isEmpty()) {
            QVERIFY2(message.contains(error), qPrintable(message));
            return;
        }
        QCOMPARE(message, QString("no error"));
        QCOMPARE(settings.has_value(), variables.size() > 1);
        if (settings) {
            QCOMPARE(settings->worldSize, 4);
            QCOMPARE(settings->rank, 3);
            QCOMPARE(settings->localRank, 1);
            QCOMPARE(settings->masterAddress, std::string("node0"));
            QCOMPARE(settings->masterPort, 29500);
        }
    }

private:
#if TORCH_VERSION_MAJOR < 2
    void checkAgentStore(QProcess &server, int port)
    {
        // The store throws as c10d's stores do, not sde::Error.
        const auto errorOf = [](const std::function<void()> &run) {
            try {
                run();
            } catch (const std::exception &e) {
                return QString::fromStdString(e.what());
            }
            return QString("no error");
        };
        const auto bytes = [](const std::string &text) { return std::vector<uint8_t>(text.begin(), text.end()); };
        AgentStoreClient store("127.0.0.1", static_cast<uint16_t>(port), std::chrono::seconds(20));
        store.set("from-cpp", bytes("hello"));
        QCOMPARE(store.get("from-python"), bytes("hello!"));
        QCOMPARE(store.add("count", 5), int64_t(5));
        QCOMPARE(store.add("count", -2), int64_t(3));
        QCOMPARE(store.get("count"), bytes("3")); // ADD keeps the number as text, as TCPStore does
        QVERIFY(store.check({"from-cpp", "count"}));
        QVERIFY(!store.check({"from-cpp", "missing"}));
        // compareSet: set when absent and nothing was expected; else only on a match.
        QCOMPARE(store.compareSet("c", {}, bytes("7")), bytes("7"));
        QCOMPARE(store.compareSet("c", bytes("8"), bytes("9")), bytes("7"));
        QCOMPARE(store.compareSet("c", bytes("7"), bytes("9")), bytes("9"));
        const int64_t keys = store.getNumKeys();
        QVERIFY(store.deleteKey("c"));
        QVERIFY(!store.deleteKey("c"));
        QCOMPARE(store.getNumKeys(), keys - 1);

        // A wait that times out, then the same connection waits for a key another client sets.
        QElapsedTimer clock;
        clock.start();
        const QString timedOut = errorOf([&] { store.wait({"late"}, std::chrono::milliseconds(300)); });
        QVERIFY2(timedOut.contains("timed out"), qPrintable(timedOut));
        QVERIFY2(clock.elapsed() >= 300 && clock.elapsed() < 10000, qPrintable(QString::number(clock.elapsed())));
        // (A future, not a thread: a failed wait below leaves nothing to join.)
        auto other = std::async(std::launch::async, [port] {
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
            AgentStoreClient("127.0.0.1", static_cast<uint16_t>(port), std::chrono::seconds(20)).set("late", {42});
        });
        store.wait({"late"});
        other.get();
        QCOMPARE(store.get("late"), std::vector<uint8_t>{42});

        // Under the attempt's prefix, as the ranks use it.
        c10d::PrefixStore attempt(
            "/worker/attempt_3",
            c10::make_intrusive<AgentStoreClient>("127.0.0.1", static_cast<uint16_t>(port), std::chrono::seconds(20)));
        attempt.set("k", bytes("prefixed"));
        QTRY_VERIFY_WITH_TIMEOUT(server.canReadLine(), 20000);
        QCOMPARE(server.readLine().trimmed(), QByteArray("prefixed"));
        store.set("done", {1});
        QVERIFY(server.waitForFinished(20000));
        QCOMPARE(server.exitCode(), 0);

        // A store that is gone: the next query says so.
        const QString lost = errorOf([&] { store.get("from-cpp"); });
        QVERIFY2(lost.contains("127.0.0.1:" + QString::number(port)), qPrintable(lost));
    }
#endif
};

QTEST_GUILESS_MAIN(TestDataParallel)
#include "test_data_parallel.moc"
