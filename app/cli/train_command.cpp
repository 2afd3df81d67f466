// sdestudio-cli train: trains a score model or a noise-conditional classifier.
#include "commands.h"

#include "progress.h"
#include "rank_launcher.h"
#include "sampler_options.h"

#include "config/model_config.h"
#include "config/presets.h"
#include "imaging/image_io.h"
#include "imaging/point_plot.h"
#include "io/model_file.h"
#include "sampling/sampler_catalogue.h"
#include "train/data_parallel.h"
#include "train/training_checkpoint.h"
#include "train/training_run.h"
#include "util/device.h"
#include "util/error.h"
#include "util/failure_message.h"
#include "util/files.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <thread>

#include <spdlog/spdlog.h>
#include <torch/cuda.h>

#include <csignal>
#include <sys/prctl.h>
#include <unistd.h>

namespace sde::cli {

namespace {

std::string stepName(int64_t step)
{
    char name[32];
    std::snprintf(name, sizeof name, "step-%08lld", static_cast<long long>(step));
    return name;
}

// Preview samples: a PNG grid for images; for a toy model the points as CSV and a picture, written
// all or none.
void writeSnapshot(const std::string &folder, int64_t step, const torch::Tensor &samples, bool points)
{
    const std::string base = folder + "/" + stepName(step);
    if (points)
        writeFilesAtomically(
            {{base + ".csv", pointsToCsv(samples)}, {base + ".png", encodePng(renderPointCloud(samples))}});
    else
        savePng(base + ".png", makeGrid(samples));
}

std::string formatLoss(double loss)
{
    char text[48];
    std::snprintf(text, sizeof text, "loss %.4g", loss);
    return text;
}

struct TrainOptions {
    std::optional<std::string> preset, config;
    std::string data, out;
    bool resume = false;
    std::optional<int64_t> steps;
    int64_t batch = 0;
    uint64_t seed = 0;
    std::string device = "cpu";
    std::optional<int64_t> threads;
    int64_t checkpointEvery = 1000, keep = 3, logEvery = 10;
    int64_t snapshotEvery = 0, snapshotCount = 0, snapshotSteps = 100;
    int64_t maxBadSteps = 5;
    std::optional<std::string> precision, init;
    bool mixedPrecision = false, half = false, classifier = false;
    int64_t classifierWidth = 32;
    int64_t accumulate = 1, nproc = 1, timeout = 600;
};

int runTrain(const TrainOptions &o)
{
    if (o.preset && o.config)
        throw Error("give --preset or --config, not both");
    if (o.mixedPrecision && o.precision)
        throw Error("give --precision or --mixed-precision, not both");
    if (!o.preset && !o.config && !o.resume && !o.init)
        throw Error("give the model with --preset NAME, --config FILE or --init MODEL");
    if (o.nproc > 1) {
        // A batch that cannot be split is refused here once, not by every rank.
        const int64_t batch = o.batch > 0 ? o.batch
                              : o.preset  ? loadPreset(*o.preset).training.batchSize
                              : o.config  ? loadConfigFile(*o.config).training.batchSize
                              : o.init    ? loadModelFile(*o.init).model->config().training.batchSize
                                          : 0;
        if (batch > 0)
            rankMicroBatches(batch, 0, static_cast<int>(o.nproc), static_cast<int>(o.accumulate));
        std::string why;
        const torch::Device device = parseDevice(o.device);
        if (!dataParallelAvailable(device, &why))
            throw Error("--nproc " + std::to_string(o.nproc) + ": " + why);
        // NCCL: one GPU a process, process i on cuda:i.
        if (device.is_cuda() && o.device.find(':') != std::string::npos)
            throw Error("--nproc " + std::to_string(o.nproc) + " with --device " + o.device +
                        " would put every process on one GPU: give --device cuda (process i trains on cuda:i)");
        if (device.is_cuda() && o.nproc > static_cast<int64_t>(torch::cuda::device_count()))
            throw Error("--nproc " + std::to_string(o.nproc) + " on CUDA needs a GPU a process; this machine has " +
                        std::to_string(torch::cuda::device_count()));
        return launchLocalRanks(static_cast<int>(o.nproc), o.threads.has_value());
    }
    // A rank of a data-parallel job (started by --nproc, torchrun, srun, ...): rank 0 reports,
    // the others only warn, naming themselves.
    std::optional<DataParallelSettings> dataParallel = dataParallelSettingsFromEnvironment();
    const bool reporter = !dataParallel || dataParallel->rank == 0;
    if (const char *launcher = std::getenv(kLauncherVariable)) {
        // Started by --nproc: end with the launcher, also when it is killed.
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (std::to_string(::getppid()) != launcher)
            throw Error("the --nproc launcher of this rank has ended");
    }
    if (dataParallel) {
        dataParallel->timeout = std::chrono::seconds(o.timeout);
        // The other ranks see what rank 0 sees (the same data, the same steps): they report
        // errors only, naming themselves.
        if (!reporter) {
            spdlog::set_level(spdlog::level::err);
            spdlog::set_pattern("[rank " + std::to_string(dataParallel->rank) + "] %v");
        }
    }
    if (o.threads)
        configureThreads(static_cast<int>(*o.threads));

    TrainingRunRequest request;
    // The model: from --preset/--config, or, when resuming without them, from the checkpoint.
    if (o.preset || o.config)
        request.config = o.preset ? loadPreset(*o.preset) : loadConfigFile(*o.config);
    request.classifier = o.classifier;
    request.classifierWidth = o.classifierWidth;
    request.data = o.data;
    request.steps = o.steps;
    request.initialWeights = o.init;
    if (o.mixedPrecision)
        request.precision = EvaluationPrecision::BFloat16;
    else if (o.precision)
        request.precision = precisionFromId(*o.precision);
    TrainerOptions &given = request.options;
    given.outDir = o.out;
    given.resume = o.resume;
    given.batchSize = o.batch;
    given.seed = o.seed;
    given.device = dataParallel ? rankDevice(o.device, *dataParallel) : parseDevice(o.device);
    given.checkpointEvery = o.checkpointEvery;
    given.keepCheckpoints = static_cast<int>(o.keep);
    given.logEvery = o.logEvery;
    given.snapshotEvery = o.snapshotEvery;
    given.snapshotCount = o.snapshotCount;
    given.snapshotSteps = o.snapshotSteps;
    given.maxBadSteps = static_cast<int>(o.maxBadSteps);
    given.halfPrecisionExport = o.half;
    given.accumulation = static_cast<int>(o.accumulate);
    given.dataParallel = dataParallel;

    TrainingRun run = prepareTrainingRun(request);
    const TrainerOptions &options = run.options;
    const bool points = run.config().isPointModel();
    if (reporter) {
        std::cerr << "training: " << run.modelDescription() << "\n"
                  << "data: " << run.data->description() << "\n"
                  << "device: " << options.device.str() << ", batch " << run.batchSize();
        if (dataParallel)
            std::cerr << " over " << dataParallel->worldSize << " processes";
        if (options.accumulation > 1)
            std::cerr << " in " << options.accumulation << " micro-batches each";
        std::cerr << "\n";
    }

    int64_t firstStep = -1;
    std::unique_ptr<ProgressBar> progress;
    double lastLoss = std::nan("");
    TrainerCallbacks callbacks;
    callbacks.onStep = [&](int64_t step, int64_t total, double loss) {
        if (!reporter)
            return;
        if (!progress) {
            firstStep = step - 1;
            progress = std::make_unique<ProgressBar>("training", firstStep);
        }
        if (std::isfinite(loss))
            lastLoss = loss;
        progress->update(step, total, formatLoss(lastLoss));
    };
    callbacks.onSnapshot = [&](int64_t step, const torch::Tensor &samples) {
        writeSnapshot(options.outDir + "/samples", step, samples, points);
    };
    TrainingControl control;
    TrainingResult result;
    {
        // Ctrl+C stops the run after the current step; the trainer then writes a checkpoint.
        InterruptScope interrupts;
        std::atomic<bool> done{false};
        std::thread watcher([&] {
            while (!done.load()) {
                if (interruptToken.requested()) {
                    control.stop();
                    return;
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
            }
        });
        try {
            result = run.run(callbacks, &control);
        } catch (...) {
            done = true;
            watcher.join();
            throw;
        }
        done = true;
        watcher.join();
    }
    if (!reporter)
        return result.outcome == TrainingOutcome::Stopped ? 130 : result.outcome == TrainingOutcome::Diverged ? 3 : 0;
    // A run that diverged before its first checkpoint wrote no model.
    const std::string summary =
        result.message + (result.checkpoint.empty() ? std::string() : "; model: " + result.modelPath);
    if (progress)
        progress->finish(summary);
    else
        std::cerr << summary << "\n";
    if (!result.checkpoint.empty())
        std::cerr << "checkpoint: " << result.checkpoint << "\n";
    switch (result.outcome) {
    case TrainingOutcome::Finished:
        return 0;
    case TrainingOutcome::Stopped:
        return 130;
    case TrainingOutcome::Diverged:
        return 3;
    }
    return 1;
}

} // namespace

CommandRun addTrainCommand(CLI::App &program)
{
    auto o = std::make_shared<TrainOptions>();
    CLI::App *command = addCommand(
        program, "train", "(--preset NAME | --config FILE | --init MODEL) --data DATA --out FOLDER [options]",
        "train a score model or a noise-conditional classifier",
        "Trains a score model (or, with --classifier, a noise-conditional classifier) with the\n"
        "reference's objective, Adam with warm-up and clipping, and the EMA. Checkpoints are written\n"
        "atomically to FOLDER/checkpoints (the newest --keep kept), the EMA model to\n"
        "FOLDER/model.safetensors, metrics to FOLDER/metrics.jsonl. --resume continues exactly.\n"
        "DATA: a folder of images, patches:FOLDER, an IDX file, fashion-mnist, or toy:NAME\n"
        "(moons, 8gaussians, checkerboard, swissroll).");
    const OptionRange positive = OptionRange::atLeast(1);
    // Step counts: the config's own bound (training.n_iters), so that no count wraps.
    const OptionRange stepCount = OptionRange::between(1, static_cast<double>(kMostTrainingSteps));
    command->add_option("--preset", o->preset, "a preset config (see models/presets)")->type_name("NAME");
    command->add_option("--config", o->config, "a config JSON file")->type_name("FILE");
    command->add_option("--data", o->data, "the training data (see above)")->type_name("DATA")->required();
    command->add_option("--out", o->out, "the run's folder; created if missing")->type_name("FOLDER")->required();
    command->add_flag("--resume", o->resume, "continue the run in FOLDER from its newest checkpoint");
    command
        ->add_option("--init", o->init,
                     "fine-tuning: start a new run from the EMA weights of MODEL (a model file or a bundled model's "
                     "name) instead of the seed's; the optimizer and EMA start afresh. The config (default: "
                     "MODEL's own) must have MODEL's network layout")
        ->type_name("MODEL");
    addNumberOption(*command, "--steps", o->steps, "N",
                    "train until N steps in all (default: the config's training.n_iters)", stepCount);
    addNumberOption(*command, "--batch", o->batch, "B",
                    "batch size (default: the config's training.batch_size; a resumed run: its own)",
                    OptionRange::between(0, static_cast<double>(kMostTrainingBatch)));
    addNumberOption(*command, "--seed", o->seed, "S", "seed of the data order and noise (default 0)");
    command->add_option("--device", o->device, "cpu, cuda, cuda:N or auto (default cpu)")->type_name("DEV");
    addNumberOption(*command, "--threads", o->threads, "N", "CPU threads (default: all cores)",
                    OptionRange::between(1, kMostThreads));
    addNumberOption(*command, "--checkpoint-every", o->checkpointEvery, "N",
                    "write a checkpoint every N steps (default 1000)", stepCount);
    // Held as int: bounded well inside it (a wrapped count deleted checkpoints).
    const OptionRange smallCount = OptionRange::between(1, 1'000'000);
    addNumberOption(*command, "--keep", o->keep, "K", "keep the newest K checkpoints (default 3)", smallCount);
    addNumberOption(*command, "--log-every", o->logEvery, "N", "a metrics record every N steps (default 10)",
                    stepCount);
    addNumberOption(*command, "--snapshot-every", o->snapshotEvery, "N",
                    "preview samples every N steps into FOLDER/samples (default: off)",
                    OptionRange::between(0, static_cast<double>(kMostTrainingSteps)));
    addNumberOption(*command, "--snapshot-count", o->snapshotCount, "N",
                    "samples in a preview (default 16 images, or 2000 points for a 2D model)",
                    OptionRange::between(1, static_cast<double>(kLargestBatch)));
    addNumberOption(*command, "--snapshot-steps", o->snapshotSteps, "N", "sampler steps of a preview (default 100)",
                    OptionRange::between(1, static_cast<double>(kMostSteps)));
    addNumberOption(*command, "--max-bad-steps", o->maxBadSteps, "K",
                    "stop after K non-finite losses in a row (default 5)", smallCount);
    command
        ->add_option("--precision", o->precision,
                     "the forward pass's number format under autocast: float32 (default; a resumed run: its "
                     "own), bfloat16 (CUDA, or a CPU with AVX-512) or float16 (CUDA, with dynamic loss scaling); "
                     "weights, gradients and Adam stay float32")
        ->type_name("P")
        ->check(oneOf(precisionIds()));
    command->add_flag("--mixed-precision", o->mixedPrecision, "the same as --precision bfloat16");
    command->add_flag("--half", o->half, "store the exported model in float16");
    CLI::Option *classifier = command->add_flag("--classifier", o->classifier,
                                                "train the noise-conditional classifier of the config's SDE and data");
    addNumberOption(*command, "--accumulate", o->accumulate, "M",
                    "split each process's share of the batch into M micro-batches whose gradients are summed "
                    "(gradient accumulation: the same step in less memory; default 1)",
                    OptionRange::between(1, static_cast<double>(kMostTrainingBatch)));
    addNumberOption(*command, "--nproc", o->nproc, "N",
                    "data-parallel training in N processes on this machine (on the CPU: Gloo on loopback; with "
                    "--device cuda: NCCL, process i on cuda:i); --batch is the "
                    "global batch (default 1). Under torchrun, srun or a job of your own, leave it out: the ranks "
                    "read MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK and LOCAL_RANK",
                    OptionRange::between(1, 4096));
    addNumberOption(*command, "--timeout", o->timeout, "S",
                    "data-parallel: seconds a process waits for the others before the job stops (default 600)",
                    OptionRange::between(1, 86400));
    // A width without --classifier would be dropped without a word.
    addNumberOption(*command, "--classifier-nf", o->classifierWidth, "N", "classifier width (default 32)", positive)
        ->needs(classifier);
    return [o] {
        try {
            return runTrain(*o);
        } catch (const std::exception &e) {
            // Each rank of a job prints its own error: the other ranks' name themselves.
            const char *rank = std::getenv("RANK");
            const std::string message = failureMessage(e);
            if (rank == nullptr || std::string(rank) == "0" || std::getenv("WORLD_SIZE") == nullptr ||
                message.find("(rank ") != std::string::npos)
                throw;
            throw Error("rank " + quoted(rank) + ": " + message);
        }
    };
}

} // namespace sde::cli
