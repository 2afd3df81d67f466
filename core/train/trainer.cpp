#include "train/trainer.h"

#include "io/model_file.h"
#include "nets/inference.h"
#include "nets/score_network.h"
#include "sampling/sampler_catalogue.h"
#include "sampling/sampling_settings.h"
#include "train/adam.h"
#include "train/ema.h"
#include "train/loss_scaler.h"
#include "train/training_checkpoint.h"
#include "train/training_mode_guard.h"
#include "util/cuda_support.h"
#include "util/error.h"
#include "util/files.h"
#include "util/thread_share.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <sstream>

#include <unistd.h>

namespace sde {

namespace fs = std::filesystem;

namespace {

constexpr double kLossSmoothing = 0.98;
constexpr double kLowLossScale = 128.0;       // float16: a warning when the loss scale falls below it
constexpr int64_t kParameterCheckEvery = 100; // data-parallel: the ranks' parameters are compared this often

double residentMemoryMiB()
{
    std::ifstream statm("/proc/self/statm");
    long pages = 0, resident = 0;
    if (!(statm >> pages >> resident))
        return 0.0;
    return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

std::string formatDouble(double value)
{
    std::ostringstream out;
    out.precision(17);
    out << value;
    return out.str();
}

// Puts the global CPU generator back where it was when the scope ends: work between steps (a
// preview) must not move the random stream that dropout draws from.
class GlobalGeneratorGuard {
public:
    GlobalGeneratorGuard()
    {
        std::lock_guard<std::mutex> lock(generator_.mutex());
        state_ = generator_.get_state();
    }
    ~GlobalGeneratorGuard()
    {
        std::lock_guard<std::mutex> lock(generator_.mutex());
        generator_.set_state(state_);
    }
    GlobalGeneratorGuard(const GlobalGeneratorGuard &) = delete;
    GlobalGeneratorGuard &operator=(const GlobalGeneratorGuard &) = delete;

private:
    at::Generator generator_ = at::detail::getDefaultCPUGenerator();
    torch::Tensor state_;
};

// The run's mutable state: network, optimizer, EMA and counters, and how they go to a checkpoint.
class TrainingRun {
public:
    TrainingRun(TrainingTask &task, const TrainerOptions &options, int64_t batchSize, std::string dataDescription)
        : task_(task), options_(options), batchSize_(batchSize), dataDescription_(std::move(dataDescription))
    {
        for (const auto &[name, parameter] : trainableParameters(task.module())) {
            parameterNames_.push_back(name);
            parameters_.push_back(parameter);
        }
        const OptimConfig &optim = task.config().optim;
        adam_ = std::make_unique<AdamOptimizer>(
            parameters_, AdamOptimizer::Options{optim.beta1, 0.999, optim.eps, optim.weightDecay});
        ema_ = std::make_unique<ExponentialMovingAverage>(parameters_, task.config().model.emaRate);
        scaler_ = LossScaler(options.precision == EvaluationPrecision::Float16, options.initialLossScale);
    }

    std::vector<torch::Tensor> &parameters() { return parameters_; }
    AdamOptimizer &adam() { return *adam_; }
    LossScaler &scaler() { return scaler_; }
    ExponentialMovingAverage &ema() { return *ema_; }

    int64_t step = 0;
    uint64_t seed = 0;
    EvaluationPrecision storedPrecision = EvaluationPrecision::Float32; // of the checkpoint resumed
    double smoothedLoss = std::numeric_limits<double>::quiet_NaN();
    double elapsedSeconds = 0.0;

    // Runs `work` with the EMA weights in the network, then puts the trained weights back.
    template <typename Work>
    void withEmaWeights(Work &&work)
    {
        std::vector<torch::Tensor> trained;
        {
            torch::NoGradGuard noGrad;
            for (const auto &p : parameters_)
                trained.push_back(p.detach().clone());
        }
        ema_->copyTo(parameters_);
        try {
            work();
        } catch (...) {
            restore(trained);
            throw;
        }
        restore(trained);
    }

    // The usable model beside the checkpoints, with the EMA weights (and the step, data and time
    // it was trained with in its metadata).
    void exportModel()
    {
        std::map<std::string, std::string> modelMetadata{
            {"step", std::to_string(step)},
            {"training_data", dataDescription_},
            {"training_seconds", formatDouble(elapsedSeconds)},
            {"training_batch_size", std::to_string(batchSize_)},
            {"training_seed", std::to_string(seed)},
        };
        withEmaWeights([&] { task_.exportModel(modelPath(), options_.halfPrecisionExport, modelMetadata); });
    }

    std::string saveCheckpoint()
    {
        TrainingCheckpoint checkpoint;
        checkpoint.info.kind = task_.kind();
        checkpoint.info.definition = task_.definition();
        checkpoint.info.step = step;
        checkpoint.info.seed = seed;
        checkpoint.info.batchSize = batchSize_;
        checkpoint.info.data = dataDescription_;
        checkpoint.info.precision = options_.precision;
        checkpoint.adamSteps = adam_->stepCount();
        checkpoint.emaUpdates = ema_->updates();
        checkpoint.smoothedLoss = smoothedLoss;
        checkpoint.elapsedSeconds = elapsedSeconds;
        checkpoint.lossScale = scaler_.scale();
        checkpoint.lossScaleGoodSteps = scaler_.goodSteps();
        checkpoint.model = stateDict(task_.module());
        for (size_t i = 0; i < parameters_.size(); ++i)
            checkpoint.ema.emplace_back(parameterNames_[i], ema_->shadow()[i]);
        checkpoint.adam = adam_->state();
        const std::string folder = (fs::path(options_.outDir) / "checkpoints").string();
        const std::string path = (fs::path(folder) / checkpointFileName(step)).string();
        writeTrainingCheckpoint(path, checkpoint);
        exportModel();

        std::vector<std::string> all = listCheckpoints(options_.outDir);
        for (size_t i = 0; i + static_cast<size_t>(options_.keepCheckpoints) < all.size(); ++i) {
            std::error_code error;
            fs::remove(all[i], error);
        }
        return path;
    }

    void loadCheckpoint(const std::string &path)
    {
        TrainingCheckpoint checkpoint = readTrainingCheckpoint(path);
        const CheckpointInfo &info = checkpoint.info;
        if (info.kind != task_.kind())
            throw Error(path + ": this checkpoint trains a " + info.kind + " model, not a " + task_.kind() + " model");
        if (dumpJson(task_.normalizedDefinition(info.definition)) != dumpJson(task_.definition()))
            throw Error(path + ": the run was started with another model definition (config); resume it with the "
                               "config it was started with, or train into a new --out folder");
        if (info.batchSize != batchSize_)
            throw Error(path + ": the run was started with batch size " + std::to_string(info.batchSize) + ", not " +
                        std::to_string(batchSize_));

        // The run's own EMA, optimizer and loss scale first, the task's network last (strict
        // loading checks every key and shape before it copies): a checkpoint that does not fit
        // leaves the network as it was.
        std::vector<std::pair<std::string, torch::Tensor>> trainable;
        for (size_t i = 0; i < parameters_.size(); ++i)
            trainable.emplace_back(parameterNames_[i], parameters_[i]);
        std::vector<torch::Tensor> shadow = checkpoint.emaOfTrainable(trainable, path);
        for (auto &average : shadow)
            average = average.to(parameters_.front().device());
        ema_->load(shadow, checkpoint.emaUpdates);
        for (auto &entry : checkpoint.adam)
            entry.second = entry.second.to(parameters_.front().device());
        adam_->loadState(checkpoint.adam, checkpoint.adamSteps, path);
        step = info.step;
        seed = info.seed;
        smoothedLoss = checkpoint.smoothedLoss;
        elapsedSeconds = checkpoint.elapsedSeconds;
        storedPrecision = info.precision;
        // A float16 run goes on with the loss scale it had reached.
        if (scaler_.enabled() && info.precision == EvaluationPrecision::Float16) {
            try {
                scaler_.load(checkpoint.lossScale, checkpoint.lossScaleGoodSteps);
            } catch (const Error &e) {
                throw Error(path + ": metadata \"loss_scale\" " + formatDouble(checkpoint.lossScale) + ": " + e.what());
            }
        }
        loadStateDictStrict(task_.module(), checkpoint.model, path);
    }

    std::string modelPath() const { return (fs::path(options_.outDir) / options_.exportName).string(); }

private:
    void restore(const std::vector<torch::Tensor> &trained)
    {
        torch::NoGradGuard noGrad;
        for (size_t i = 0; i < parameters_.size(); ++i)
            parameters_[i].copy_(trained[i]);
    }

    TrainingTask &task_;
    const TrainerOptions &options_;
    int64_t batchSize_;
    std::string dataDescription_;
    std::vector<std::string> parameterNames_;
    std::vector<torch::Tensor> parameters_;
    std::unique_ptr<AdamOptimizer> adam_;
    std::unique_ptr<ExponentialMovingAverage> ema_;
    LossScaler scaler_;
};

// Keeps the records of metrics.jsonl up to `step` (a resumed run continues the file as if it
// had never stopped).
void truncateMetrics(const std::string &path, int64_t step)
{
    std::error_code error;
    if (!fs::exists(path, error))
        return;
    std::istringstream lines(readFile(path));
    std::string kept, line;
    while (std::getline(lines, line)) {
        try {
            if (!line.empty() && json::getInt64(parseJson(line), "step") <= step)
                kept += line + "\n";
        } catch (const std::exception &) {
            // A torn last line of a killed run is dropped.
        }
    }
    writeFileAtomically(path, kept);
}

// Checks the options; returns this process's micro-batches of every step (rankMicroBatches).
std::vector<BatchSlice> validateOptions(const TrainerOptions &options, int64_t batchSize)
{
    if (options.outDir.empty())
        throw Error("training needs an output folder (--out)");
    if (options.steps < 1)
        throw Error("--steps must be at least 1");
    if (batchSize < 1 || batchSize > kMostTrainingBatch)
        throw Error("the batch size must be between 1 and " + std::to_string(kMostTrainingBatch) + ", not " +
                    std::to_string(batchSize));
    if (options.checkpointEvery < 1)
        throw Error("--checkpoint-every must be at least 1");
    if (options.keepCheckpoints < 1)
        throw Error("--keep must be at least 1");
    if (options.logEvery < 1)
        throw Error("--log-every must be at least 1");
    // A preview is one sampler run: its count is a batch and its steps a sampler's. (A step count
    // the model's sampler cannot take fails that preview alone, with a warning.)
    if (options.snapshotEvery < 0)
        throw Error("--snapshot-every must be at least 0");
    if (options.snapshotCount < 0 || options.snapshotCount > kLargestBatch)
        throw Error("--snapshot-count must be between 1 and " + std::to_string(kLargestBatch) +
                    " (0: the default), not " + std::to_string(options.snapshotCount));
    if (options.snapshotSteps < 1 || options.snapshotSteps > kMostSteps)
        throw Error("--snapshot-steps must be between 1 and " + std::to_string(kMostSteps) + ", not " +
                    std::to_string(options.snapshotSteps));
    if (options.maxBadSteps < 1)
        throw Error("--max-bad-steps must be at least 1");
    if (options.accumulation < 1 || options.accumulation > kMostTrainingBatch)
        throw Error("--accumulate must be between 1 and " + std::to_string(kMostTrainingBatch) + ", not " +
                    std::to_string(options.accumulation));
    // bfloat16 on CPUs that run it (AVX-512 with oneDNN), float16 on CUDA only.
    if (const std::string reason = precisionUnsupportedReason(options.precision, options.device); !reason.empty())
        throw Error("training in " + precisionId(options.precision) + ": " + reason);
    // Every process and micro-batch needs rows of its own.
    return rankMicroBatches(batchSize, options.dataParallel ? options.dataParallel->rank : 0,
                            options.dataParallel ? options.dataParallel->worldSize : 1, options.accumulation);
}

} // namespace

Json TrainingMetrics::toJson() const
{
    Json out = Json::object();
    out["step"] = step;
    out["loss"] = loss;
    out["ema_loss"] = emaLoss;
    out["lr"] = learningRate;
    out["grad_norm"] = gradNorm;
    out["steps_per_s"] = stepsPerSecond;
    out["memory_mib"] = memoryMiB;
    out["time_s"] = elapsedSeconds;
    if (gpuMemoryMiB >= 0.0)
        out["gpu_memory_mib"] = gpuMemoryMiB;
    if (lossScale >= 0.0)
        out["loss_scale"] = lossScale;
    if (accuracy >= 0.0)
        out["accuracy"] = accuracy;
    return out;
}

TrainingMetrics TrainingMetrics::fromJson(const Json &record)
{
    TrainingMetrics m;
    m.step = json::getInt64(record, "step");
    m.loss = json::getDouble(record, "loss");
    // The other fields keep their defaults when missing; null (how a non-finite value is written)
    // reads as NaN, a gap in the charts; another type is an error naming the key.
    const auto optional = [&](const char *key, double fallback) {
        const Json *value = json::find(record, key);
        if (!value)
            return fallback;
        return value->is_null() ? std::numeric_limits<double>::quiet_NaN() : json::toDouble(*value, key);
    };
    m.emaLoss = optional("ema_loss", m.loss);
    m.learningRate = optional("lr", 0.0);
    m.gradNorm = optional("grad_norm", 0.0);
    m.stepsPerSecond = optional("steps_per_s", 0.0);
    m.memoryMiB = optional("memory_mib", 0.0);
    m.elapsedSeconds = optional("time_s", 0.0);
    m.gpuMemoryMiB = optional("gpu_memory_mib", -1.0);
    m.lossScale = optional("loss_scale", -1.0);
    m.accuracy = optional("accuracy", -1.0);
    return m;
}

void TrainingControl::pause()
{
    std::lock_guard<std::mutex> lock(mutex_);
    paused_ = true;
}

void TrainingControl::resume()
{
    {
        std::lock_guard<std::mutex> lock(mutex_);
        paused_ = false;
    }
    changed_.notify_all();
}

void TrainingControl::stop()
{
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_ = true;
    }
    changed_.notify_all();
}

void TrainingControl::reset()
{
    std::lock_guard<std::mutex> lock(mutex_);
    paused_ = false;
    stop_ = false;
    changed_.notify_all();
}

bool TrainingControl::paused() const
{
    std::lock_guard<std::mutex> lock(mutex_);
    return paused_;
}

bool TrainingControl::stopRequested() const
{
    std::lock_guard<std::mutex> lock(mutex_);
    return stop_;
}

bool TrainingControl::waitWhilePaused()
{
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return !paused_ || stop_; });
    return !stop_;
}

TrainingResult train(TrainingTask &task, TrainingData &data, const TrainerOptions &options,
                     const TrainerCallbacks &callbacks, TrainingControl *control)
{
    const ModelConfig &config = task.config();
    const int64_t batchSize = options.batchSize > 0 ? options.batchSize : config.training.batchSize;
    // This process's rows of every step's batch.
    const std::vector<BatchSlice> shares = validateOptions(options, batchSize);
    const std::vector<int64_t> expected{config.data.numChannels, config.data.imageSize, config.data.imageSize};
    if (data.exampleShape() != expected)
        throw Error("the data (" + data.description() + ") has examples of another shape than the model's");

    auto warn = [&](const std::string &message) {
        spdlog::warn("{}", message);
        if (callbacks.onWarning)
            callbacks.onWarning(message);
    };

    // Rank 0 writes the run's files; the other ranks of a data-parallel job only read a resumed
    // run's checkpoint.
    const bool writer = !options.dataParallel || options.dataParallel->rank == 0;
    std::error_code error;
    if (writer) {
        fs::create_directories(fs::path(options.outDir) / "checkpoints", error);
        if (error)
            throw Error("cannot create '" + options.outDir + "/checkpoints': " + error.message());
    }

    task.to(options.device);
    task.module().train();
    TrainingRun run(task, options, batchSize, data.description());
    run.seed = options.seed;
    const std::string metricsPath = (fs::path(options.outDir) / "metrics.jsonl").string();
    TrainingResult result;
    const std::vector<std::string> existing = listCheckpoints(options.outDir);
    if (options.resume) {
        if (existing.empty())
            throw Error("nothing to resume: '" + options.outDir + "/checkpoints' holds no checkpoint");
        run.loadCheckpoint(existing.back());
        result.checkpoint = existing.back();
        if (run.storedPrecision != options.precision)
            warn("the run was trained in " + precisionId(run.storedPrecision) + " and goes on in " +
                 precisionId(options.precision) + ": it will not equal an uninterrupted run");
        if (writer)
            truncateMetrics(metricsPath, run.step);
        spdlog::info("resuming {} at step {}", existing.back(), run.step);
    } else {
        if (!existing.empty())
            throw Error("'" + options.outDir + "' already holds a run (" + std::to_string(existing.size()) +
                        " checkpoints); resume it (--resume) or train into another folder");
        if (writer)
            fs::remove(metricsPath, error);
    }
    if (run.step >= options.steps) {
        result.step = run.step;
        result.modelPath = run.modelPath();
        result.message = "already trained for " + std::to_string(run.step) + " steps";
        // A folder holding the checkpoint but not its model (moved away, or a checkpoint copied
        // into a new folder) gets the model of that checkpoint.
        if (writer && !fs::exists(run.modelPath(), error)) {
            run.exportModel();
            result.message += "; its model was written from the checkpoint";
        }
        return result;
    }

    // Opened at the first record: a run that fails at its first step leaves no metrics file.
    std::ofstream metrics;

    // The data-parallel job: joined once every rank has its model and state, which must agree.
    std::unique_ptr<DataParallelGroup> group;
    std::unique_ptr<GradientReducer> reducer;
    if (options.dataParallel) {
        group = std::make_unique<DataParallelGroup>(*options.dataParallel, options.device);
        // Collectives must match rank for rank: every setting that decides when one happens, and
        // what the batches hold, is the same on every rank or the job does not start.
        const auto hash = [](const std::string &text) { // FNV-1a: the same on every machine
            uint32_t h = 2166136261u;
            for (unsigned char c : text)
                h = (h ^ c) * 16777619u;
            return static_cast<int64_t>(h);
        };
        group->agreeOn({{"--batch", batchSize},
                        {"--steps", options.steps},
                        {"--accumulate", options.accumulation},
                        {"--checkpoint-every", options.checkpointEvery},
                        {"--max-bad-steps", options.maxBadSteps},
                        {"--seed", static_cast<int64_t>(run.seed & 0xffffffffu)},
                        {"--seed", static_cast<int64_t>(run.seed >> 32)},
                        {"--precision", static_cast<int64_t>(options.precision)},
                        {"--data", hash(data.description())},
                        {"the model", hash(dumpJson(task.definition()))},
                        {"the step resumed from", run.step}});
        group->synchronizeParameters(run.parameters(), run.step);
        reducer = std::make_unique<GradientReducer>(*group, run.parameters());
    }
    const int rank = group ? group->rank() : 0;
    // A step of one process and one micro-batch runs as it always did; a split one runs backward
    // on every share, so that every rank takes part in every collective.
    const bool split = group != nullptr || shares.size() > 1;
    // A checkpoint of the ranks' common state (synchronized first), written by rank 0.
    const auto checkpointHere = [&] {
        if (group)
            group->synchronizeParameters(run.parameters(), run.step);
        if (writer) {
            result.checkpoint = run.saveCheckpoint();
            if (callbacks.onCheckpoint)
                callbacks.onCheckpoint(run.step, result.checkpoint);
        }
    };

    const OptimConfig &optim = config.optim;
    const double clip = optim.gradClip >= 0.0 ? optim.gradClip : std::numeric_limits<double>::infinity();
    // On CUDA the worker thread also pins each batch, so that its copy to the GPU is asynchronous.
    const bool cuda = options.device.is_cuda();
    BatchPrefetcher prefetcher(data, batchSize, run.seed, run.step, 3, cuda);
    resetCudaPeakMemory(options.device);
    int badInARow = 0;
    bool warnedLowScale = false;
    double lossSum = 0.0, accuracySum = 0.0, lastGradNorm = 0.0, lastLr = 0.0;
    int64_t lossCount = 0, stepsSinceRecord = 0;
    double secondsSinceRecord = 0.0;
    int64_t lastCheckpointStep = -1;
    bool diverged = false, stopped = false;

    // The run's share of the cores, looked at again every step (a sampling run may start or end
    // beside it in the studio, another process may take a core).
    std::optional<ThreadShare> share;
    if (options.device.is_cpu())
        share.emplace();
    while (run.step < options.steps) {
        if (share)
            share->apply();
        // A data-parallel job stops where all ranks agree: a rank asked to stop says so in the
        // step's sums, and every rank stops after that step.
        bool stopHere = false;
        if (control && !control->waitWhilePaused()) {
            if (!group) {
                stopped = true;
                break;
            }
            stopHere = true;
        }
        const auto started = std::chrono::steady_clock::now();
        TrainingBatch batch;
        try {
            batch = prefetcher.next();
        } catch (...) {
            // The files skipped on the way to a data set that cannot be read say why.
            for (const auto &message : data.takeWarnings())
                warn(message);
            throw;
        }
        for (const auto &message : data.takeWarnings())
            warn(message);
        if (cuda) {
            batch.examples = batch.examples.to(options.device, /*non_blocking=*/true);
            if (batch.labels.defined())
                batch.labels = batch.labels.to(options.device, /*non_blocking=*/true);
        }

        const int64_t step = run.step;
        const std::string during = "step " + std::to_string(step);
        run.adam().zeroGrad();
        double lossValue = 0.0, accuracy = -1.0;
        for (size_t part = 0; part < shares.size(); ++part) {
            // Every share draws the whole batch's times and noise from the step's generator and
            // takes its rows of them.
            at::Generator generator =
                seededGenerator(run.seed, 0x4c4f5353ULL /* "LOSS" */, static_cast<uint64_t>(step));
            // Dropout draws from the global generator: seeded per step (and share), so that a
            // resumed run repeats it.
            const uint64_t dropout = mixSeed(run.seed, 0x44524f50ULL /* "DROP" */, static_cast<uint64_t>(step));
            const uint64_t shareIndex = static_cast<uint64_t>(rank) * shares.size() + part;
            torch::manual_seed((shareIndex == 0 ? dropout : mixSeed(dropout, shareIndex)) >> 1);
            const BatchSlice rows = shares[part];
            double shareAccuracy = -1.0;
            torch::Tensor loss;
            {
                // Autocast for the forward pass and the loss (CUDA: float16 and bfloat16; the CPU:
                // bfloat16); the backward pass follows the types autocast chose.
                AutocastScope autocast(options.device, options.precision);
                loss = task.loss(batch, generator, &shareAccuracy, rows);
            }
            if (!split) {
                lossValue = loss.item<double>();
                accuracy = shareAccuracy;
                if (std::isfinite(lossValue))
                    run.scaler().scaleLoss(loss).backward();
                break;
            }
            // The share's part of the batch mean: summed over shares (and ranks), the batch's.
            const double weight = static_cast<double>(rows.size()) / static_cast<double>(batchSize);
            lossValue += loss.item<double>() * weight;
            if (shareAccuracy >= 0.0)
                accuracy = std::max(accuracy, 0.0) + shareAccuracy * weight;
            if (reducer && part + 1 == shares.size())
                reducer->arm();
            run.scaler().scaleLoss(loss * weight).backward();
        }
        if (group) {
            reducer->finish(during);
            // The batch's loss and accuracy, and whether any rank was asked to stop.
            std::vector<torch::Tensor> sums{
                torch::tensor({lossValue, accuracy, stopHere ? 1.0 : 0.0}, torch::dtype(torch::kDouble))};
            group->allReduceSum(sums, during);
            lossValue = sums[0][0].item<double>();
            accuracy = accuracy >= 0.0 ? sums[0][1].item<double>() : -1.0;
            stopHere = sums[0][2].item<double>() > 0.0;
        }
        bool good = std::isfinite(lossValue);
        bool overflow = false; // float16 gradients that overflowed at this loss scale
        double gradNorm = std::numeric_limits<double>::quiet_NaN();
        if (good) {
            run.scaler().unscale(run.parameters());
            gradNorm = torch::nn::utils::clip_grad_norm_(run.parameters(), clip);
            good = std::isfinite(gradNorm);
            overflow = !good && run.scaler().enabled() && !run.scaler().exhausted();
            run.scaler().update(good);
        }
        if (good) {
            lastLr = warmupLearningRate(optim.lr, optim.warmup, step);
            run.adam().step(lastLr);
            run.ema().update(run.parameters());
            badInARow = 0;
            lossSum += lossValue;
            ++lossCount;
            if (accuracy >= 0.0)
                accuracySum += accuracy;
            lastGradNorm = gradNorm;
            run.smoothedLoss = std::isnan(run.smoothedLoss)
                                   ? lossValue
                                   : kLossSmoothing * run.smoothedLoss + (1.0 - kLossSmoothing) * lossValue;
        } else if (overflow) {
            // GradScaler's skipped step: the scale was halved, the run goes on. Overflows are
            // routine at the start; a scale that keeps falling means gradients that are not finite.
            run.adam().zeroGrad();
            spdlog::debug("step {}: float16 gradients overflowed; loss scale now {}", step, run.scaler().scale());
            if (run.scaler().scale() < kLowLossScale && !warnedLowScale) {
                warnedLowScale = true;
                warn("step " + std::to_string(step) + ": float16 gradients keep overflowing; the loss scale fell to " +
                     formatDouble(run.scaler().scale()) + " (steps are skipped while it falls)");
            }
        } else {
            run.adam().zeroGrad();
            ++badInARow;
            warn("step " + std::to_string(step) + ": the " + (std::isfinite(lossValue) ? "gradient norm" : "loss") +
                 " is not finite; the step is skipped (" + std::to_string(badInARow) + " in a row, the run stops at " +
                 std::to_string(options.maxBadSteps) + ")");
        }
        run.step = step + 1;
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        run.elapsedSeconds += seconds;
        secondsSinceRecord += seconds;
        ++stepsSinceRecord;
        if (badInARow >= options.maxBadSteps) {
            diverged = true;
            break;
        }
        if (callbacks.onStep)
            callbacks.onStep(run.step, options.steps, lossValue);
        if (group && run.step % kParameterCheckEvery == 0)
            group->synchronizeParameters(run.parameters(), run.step);

        if (writer && run.step % options.logEvery == 0 && lossCount > 0) {
            TrainingMetrics record;
            record.step = run.step;
            record.loss = lossSum / static_cast<double>(lossCount);
            record.emaLoss = run.smoothedLoss;
            record.learningRate = lastLr;
            record.gradNorm = lastGradNorm;
            record.stepsPerSecond =
                secondsSinceRecord > 0.0 ? static_cast<double>(stepsSinceRecord) / secondsSinceRecord : 0.0;
            record.memoryMiB = residentMemoryMiB();
            if (cuda) {
                record.gpuMemoryMiB = cudaMemory(options.device).peakAllocatedMiB;
                resetCudaPeakMemory(options.device);
            }
            if (run.scaler().enabled())
                record.lossScale = run.scaler().scale();
            record.elapsedSeconds = run.elapsedSeconds;
            if (accuracy >= 0.0)
                record.accuracy = accuracySum / static_cast<double>(lossCount);
            if (!metrics.is_open()) {
                metrics.open(metricsPath, std::ios::app);
                if (!metrics)
                    throw Error("cannot write '" + metricsPath + "'");
            }
            metrics << dumpJson(record.toJson()) << "\n";
            metrics.flush();
            if (callbacks.onMetrics)
                callbacks.onMetrics(record);
            lossSum = accuracySum = 0.0;
            lossCount = stepsSinceRecord = 0;
            secondsSinceRecord = 0.0;
        }
        if (writer && options.snapshotEvery > 0 && run.step % options.snapshotEvery == 0 && callbacks.onSnapshot) {
            const int64_t previewCount = options.snapshotCount > 0      ? options.snapshotCount
                                         : task.config().isPointModel() ? kPointCloudSamples
                                                                        : kImagePreviewSamples;
            // A preview that fails (sampling, or handing the samples over) is reported and the run
            // goes on as if it had not been tried: the guards put back the network's training
            // mode (dropout) and the global generator, withEmaWeights the trained weights, on
            // every path; the optimizer and the EMA are not touched.
            try {
                torch::Tensor samples;
                {
                    TrainingModeGuard mode(task.module());
                    GlobalGeneratorGuard generator;
                    run.withEmaWeights([&] { samples = task.snapshot(previewCount, run.seed, options.snapshotSteps); });
                }
                if (samples.defined())
                    callbacks.onSnapshot(run.step, samples);
            } catch (const std::exception &e) {
                warn("the preview samples of step " + std::to_string(run.step) + " failed: " + e.what());
            }
        }
        // Checkpoints are written from good states only: during a streak of skipped steps the
        // newest one stays the last good one.
        if (run.step % options.checkpointEvery == 0 && badInARow == 0) {
            checkpointHere();
            lastCheckpointStep = run.step;
        }
        if (stopHere) {
            stopped = true;
            break;
        }
    }

    result.step = run.step;
    result.modelPath = run.modelPath();
    if (diverged) {
        result.outcome = TrainingOutcome::Diverged;
        result.message = std::to_string(options.maxBadSteps) +
                         " steps in a row had a non-finite loss or gradient; "
                         "the run stopped at step " +
                         std::to_string(run.step) +
                         (result.checkpoint.empty() ? std::string(", before its first checkpoint")
                                                    : std::string(" and the last good checkpoint is kept"));
        return result;
    }
    if (lastCheckpointStep != run.step)
        checkpointHere();
    result.outcome = stopped ? TrainingOutcome::Stopped : TrainingOutcome::Finished;
    result.message = (stopped ? "stopped at step " : "finished at step ") + std::to_string(run.step);
    return result;
}

} // namespace sde
