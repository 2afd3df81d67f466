#pragma once

#include "data/training_data.h"
#include "nets/inference.h"
#include "train/data_parallel.h"
#include "train/training_task.h"

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace sde {

struct TrainerOptions {
    std::string outDir;    // checkpoints/, metrics.jsonl, the exported model and samples
    int64_t steps = 0;     // train until this many steps in all (a resumed run counts on)
    int64_t batchSize = 0; // 0: the config's training.batch_size; the global batch of all processes
    // Micro-batches per step and process (gradient accumulation): their gradients are summed
    // before the step, so the step equals one over the whole batch in less memory.
    int accumulation = 1;
    // Data-parallel training: this process's place in the job (train/data_parallel.h). Every rank
    // trains on its share of each global batch and the gradients are summed over the ranks; rank
    // 0 alone writes checkpoints, metrics, previews and the model. Unset: one process.
    std::optional<DataParallelSettings> dataParallel;
    uint64_t seed = 0; // data order, noise and dropout of every step derive from it
    torch::Device device = torch::kCPU;
    bool resume = false; // continue from the newest checkpoint in outDir
    int64_t checkpointEvery = 1000;
    int keepCheckpoints = 3;   // the newest K checkpoints are kept
    int64_t logEvery = 10;     // a metrics record every N steps
    int64_t snapshotEvery = 0; // preview samples every N steps (0: never)
    // Samples in a preview; 0: kImagePreviewSamples, or kPointCloudSamples for a point model.
    int64_t snapshotCount = 0;
    int64_t snapshotSteps = 100; // sampler steps of a preview
    int maxBadSteps = 5;         // non-finite losses in a row before the run is stopped
    // The number format of the forward pass and the loss; parameters, gradients, Adam and the
    // EMA stay float32 whatever is chosen. CUDA only for the half formats:
    //   Float32   the reference's numbers (the default)
    //   BFloat16  autocast to bfloat16 (float32's range: no loss scaling)
    //   Float16   autocast to float16 with dynamic loss scaling (train/loss_scaler.h)
    // A resumed run equals an uninterrupted one when both use the same precision and hardware.
    EvaluationPrecision precision = EvaluationPrecision::Float32;
    double initialLossScale = 65536.0; // float16: the loss scale of the first step (GradScaler's init_scale)
    bool halfPrecisionExport = false;  // store the exported model in float16
    std::string exportName = "model.safetensors";
};

// One record of the metrics stream (a line of metrics.jsonl, a point of the studio's curves).
struct TrainingMetrics {
    int64_t step = 0;
    double loss = 0.0;    // mean loss of the steps since the last record
    double emaLoss = 0.0; // exponential average of the loss (0.98 per step)
    double learningRate = 0.0;
    double gradNorm = 0.0;       // before clipping
    double stepsPerSecond = 0.0; // over the steps since the last record, pauses excluded
    double memoryMiB = 0.0;      // resident memory of the process
    double gpuMemoryMiB = -1.0;  // peak CUDA memory of the steps since the last record (-1: CPU run)
    double lossScale = -1.0;     // float16's loss scale (-1: not float16)
    double elapsedSeconds = 0.0; // training time of the whole run, resumed parts included
    double accuracy = -1.0;      // batch accuracy of a classifier (-1: none)

    // One line of a run's metrics.jsonl. fromJson reads what toJson writes; the fields besides
    // step and loss keep their defaults when missing (an older writer) or not a number (null, as
    // dumpJson writes a non-finite value). Throws Error when step or loss is missing or not a
    // number.
    Json toJson() const;
    static TrainingMetrics fromJson(const Json &record);
};

// Pause, resume and stop from any thread; the trainer checks it between steps.
class TrainingControl {
public:
    void pause();
    void resume();
    void stop();
    // Neither paused nor stopped: ready for another run.
    void reset();
    bool paused() const;
    bool stopRequested() const;
    // Blocks while paused; returns false once a stop was requested.
    bool waitWhilePaused();

private:
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    bool paused_ = false;
    bool stop_ = false;
};

struct TrainerCallbacks {
    std::function<void(int64_t step, int64_t total, double loss)> onStep;
    std::function<void(const TrainingMetrics &)> onMetrics;
    std::function<void(int64_t step, const torch::Tensor &samples)> onSnapshot;
    std::function<void(int64_t step, const std::string &path)> onCheckpoint;
    std::function<void(const std::string &message)> onWarning;
};

enum class TrainingOutcome { Finished, Stopped, Diverged };

struct TrainingResult {
    TrainingOutcome outcome = TrainingOutcome::Finished;
    int64_t step = 0;       // steps done in all
    std::string checkpoint; // the newest good checkpoint
    std::string modelPath;  // the exported EMA model
    std::string message;
};

// The training loop of the reference (run_lib.train), sturdier:
// - Adam with linear warm-up, gradient-norm clipping (optim.grad_clip >= 0), and the EMA with
//   the reference's schedule; the step k update uses lr * min(k / warmup, 1), k from 0.
// - Step k's batch, noise and dropout come from (seed, k) alone; with the model, EMA, optimizer
//   and counters in the checkpoint, a resumed run equals an uninterrupted one bit for bit.
// - Data-parallel (options.dataParallel) and with gradient accumulation, a step's batch and its
//   noise and times are the same whatever the split: each process and micro-batch takes its rows
//   (rankMicroBatches), so the run's result does not depend on the number of processes, up to
//   float summation order (and dropout, whose masks are drawn per share). The ranks' settings
//   must agree at the start (DataParallelGroup::agreeOn); their parameters are synchronized to
//   rank 0's at the start, every 100 steps and at each checkpoint, and a difference beyond
//   rounding stops the job; a rank that dies stops the others with an sde::Error naming it. A
//   checkpoint resumes with any number of processes.
// - Checkpoints (train/training_checkpoint.h) every checkpointEvery steps and at the end,
//   written atomically, the newest keepCheckpoints kept; the EMA model is exported beside them.
// - A non-finite loss or gradient skips the step with a warning; maxBadSteps in a row stop the
//   run as Diverged with the last good checkpoint left in place.
// Blocks until done; call it from a worker thread and steer it through `control`.
TrainingResult train(TrainingTask &task, TrainingData &data, const TrainerOptions &options,
                     const TrainerCallbacks &callbacks = {}, TrainingControl *control = nullptr);

} // namespace sde
