// sdestudio-cli train: trains a score model or a noise-conditional classifier.
#include "commands.h"

#include "arguments.h"
#include "progress.h"
#include "sampler_options.h"

#include "config/presets.h"
#include "data/image_data.h"
#include "imaging/image_io.h"
#include "imaging/point_plot.h"
#include "train/trainer.h"
#include "train/training_checkpoint.h"
#include "util/device.h"
#include "util/error.h"
#include "util/files.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <thread>

namespace sde::cli {

namespace {

const std::vector<std::string> kFashionMnistClasses = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                       "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

std::string stepName(int64_t step)
{
    char name[32];
    std::snprintf(name, sizeof name, "step-%08lld", static_cast<long long>(step));
    return name;
}

// Preview samples: a PNG grid for images; for a toy model the points as CSV and a picture.
void writeSnapshot(const std::string &folder, int64_t step, const torch::Tensor &samples, bool points)
{
    const std::string base = folder + "/" + stepName(step);
    if (points) {
        writeFileAtomically(base + ".csv", pointsToCsv(samples));
        savePng(base + ".png", renderPointCloud(samples));
    } else {
        savePng(base + ".png", makeGrid(samples));
    }
}

std::string formatLoss(double loss)
{
    char text[48];
    std::snprintf(text, sizeof text, "loss %.4g", loss);
    return text;
}

} // namespace

int runTrain(const std::vector<std::string> &argv)
{
    Arguments args("train", "(--preset NAME | --config FILE) --data DATA --out FOLDER [options]",
                   "Trains a score model (or, with --classifier, a noise-conditional classifier) with the\n"
                   "reference's objective, Adam with warm-up and clipping, and the EMA. Checkpoints are written\n"
                   "atomically to FOLDER/checkpoints (the newest --keep kept), the EMA model to\n"
                   "FOLDER/model.safetensors, metrics to FOLDER/metrics.jsonl. --resume continues exactly.\n"
                   "DATA: a folder of images, patches:FOLDER, an IDX file, fashion-mnist, or toy:NAME\n"
                   "(moons, 8gaussians, checkerboard, swissroll).");
    args.option("--preset", "NAME", "a preset config (see models/presets)")
        .option("--config", "FILE", "a config JSON file")
        .option("--data", "DATA", "the training data (see above)")
        .option("--out", "FOLDER", "the run's folder; created if missing")
        .flag("--resume", "continue the run in FOLDER from its newest checkpoint")
        .option("--steps", "N", "train until N steps in all (default: the config's training.n_iters)")
        .option("--batch", "B", "batch size (default: the config's training.batch_size)")
        .option("--seed", "S", "seed of the data order and noise (default 0)")
        .option("--device", "DEV", "cpu, cuda, cuda:N or auto (default cpu)")
        .option("--threads", "N", "CPU threads (default: all cores)")
        .option("--checkpoint-every", "N", "write a checkpoint every N steps (default 1000)")
        .option("--keep", "K", "keep the newest K checkpoints (default 3)")
        .option("--log-every", "N", "a metrics record every N steps (default 10)")
        .option("--snapshot-every", "N", "preview samples every N steps into FOLDER/samples (default: off)")
        .option("--snapshot-count", "N", "samples in a preview (default 16)")
        .option("--snapshot-steps", "N", "sampler steps of a preview (default 100)")
        .option("--max-bad-steps", "K", "stop after K non-finite losses in a row (default 5)")
        .option("--precision", "P",
                "the forward pass's number format: float32 (default; a resumed run: its own), bfloat16 or "
                "float16 (CUDA only; float16 with dynamic loss scaling); weights, gradients and Adam stay float32")
        .flag("--mixed-precision", "the same as --precision bfloat16")
        .flag("--half", "store the exported model in float16")
        .flag("--classifier", "train the noise-conditional classifier of the config's SDE and data")
        .option("--classifier-nf", "N", "classifier width (default 32)");
    if (!args.parse(argv))
        return 0;

    TrainerOptions options;
    options.outDir = args.required("--out");
    options.resume = args.has("--resume");
    options.batchSize = args.integer("--batch", 0);
    const int64_t seed = args.integer("--seed", 0);
    if (seed < 0)
        throw Error("--seed must not be negative");
    options.seed = static_cast<uint64_t>(seed);
    options.device = parseDevice(args.value("--device", "cpu"));
    if (args.has("--threads"))
        configureThreads(static_cast<int>(args.integer("--threads", 0)));
    options.checkpointEvery = args.integer("--checkpoint-every", 1000);
    options.keepCheckpoints = static_cast<int>(args.integer("--keep", 3));
    options.logEvery = args.integer("--log-every", 10);
    options.snapshotEvery = args.integer("--snapshot-every", 0);
    options.snapshotCount = args.integer("--snapshot-count", 16);
    options.snapshotSteps = args.integer("--snapshot-steps", 100);
    options.maxBadSteps = static_cast<int>(args.integer("--max-bad-steps", 5));
    if (args.has("--mixed-precision") && args.has("--precision"))
        throw Error("give --precision or --mixed-precision, not both");
    if (args.has("--mixed-precision")) {
        options.precision = EvaluationPrecision::BFloat16;
    } else if (args.has("--precision")) {
        options.precision = precisionFromId(args.required("--precision"));
    } else if (options.resume) {
        // A resumed run keeps the precision it was trained in unless told otherwise.
        const auto checkpoints = listCheckpoints(options.outDir);
        if (!checkpoints.empty())
            options.precision = readCheckpointInfo(checkpoints.back()).precision;
        if (options.precision != EvaluationPrecision::Float32 && !options.device.is_cuda())
            throw Error("the run in '" + options.outDir + "' was trained in " + precisionId(options.precision) +
                        ", which needs a CUDA device: resume it with --device cuda, or on " + options.device.str() +
                        " with --precision float32");
    }
    options.halfPrecisionExport = args.has("--half");
    const std::string dataSpec = args.required("--data");

    // The model: from --preset/--config, or, when resuming without them, from the checkpoint.
    const bool classifier = args.has("--classifier");
    if (args.has("--preset") && args.has("--config"))
        throw Error("give --preset or --config, not both");
    std::unique_ptr<TrainingTask> task;
    ModelConfig scoreConfig;
    // The initial weights come from the seed too: the same command trains the same model.
    torch::manual_seed(options.seed);
    if (args.has("--preset") || args.has("--config")) {
        scoreConfig =
            args.has("--preset") ? loadPreset(args.required("--preset")) : loadConfigFile(args.required("--config"));
        scoreConfig.validate();
        if (classifier) {
            ClassifierConfig config;
            config.scoreConfig = scoreConfig;
            config.nf = args.integer("--classifier-nf", 32);
            if (dataSpec.rfind("fashion-mnist", 0) == 0)
                config.classNames = kFashionMnistClasses;
            task = std::make_unique<ClassifierTrainingTask>(config);
        } else {
            task = std::make_unique<ScoreTrainingTask>(scoreConfig);
        }
    } else if (options.resume) {
        const auto checkpoints = listCheckpoints(options.outDir);
        if (checkpoints.empty())
            throw Error("nothing to resume: '" + options.outDir + "/checkpoints' holds no checkpoint");
        const CheckpointInfo info = readCheckpointInfo(checkpoints.back());
        task = taskForCheckpoint(info);
        scoreConfig = task->config();
        if (options.batchSize == 0)
            options.batchSize = info.batchSize;
    } else {
        throw Error("give the model with --preset NAME or --config FILE");
    }
    options.steps = args.integer("--steps", scoreConfig.training.nIters);
    if (task->kind() == "classifier")
        options.exportName = "classifier.safetensors";
    std::unique_ptr<TrainingData> data = openTrainingData(dataSpec, scoreConfig);
    const bool points = scoreConfig.isPointModel();

    makeFolder(options.outDir);
    if (options.snapshotEvery > 0)
        makeFolder(options.outDir + "/samples");
    std::cerr << "training: " << (classifier ? "noise-conditional classifier" : scoreConfig.architectureName()) << ", "
              << scoreConfig.sdeDescription() << "\n"
              << "data: " << data->description() << "\n"
              << "device: " << options.device.str() << ", batch "
              << (options.batchSize > 0 ? options.batchSize : scoreConfig.training.batchSize) << "\n";

    int64_t firstStep = -1;
    std::unique_ptr<ProgressBar> progress;
    double lastLoss = std::nan("");
    TrainerCallbacks callbacks;
    callbacks.onStep = [&](int64_t step, int64_t total, double loss) {
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
            result = train(*task, *data, options, callbacks, &control);
        } catch (...) {
            done = true;
            watcher.join();
            throw;
        }
        done = true;
        watcher.join();
    }
    const std::string summary = result.message + "; model: " + result.modelPath;
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

} // namespace sde::cli
