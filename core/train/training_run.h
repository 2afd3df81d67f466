#pragma once

#include "config/model_config.h"
#include "data/training_data.h"
#include "train/trainer.h"
#include "train/training_checkpoint.h"
#include "train/training_task.h"
#include "util/files.h"

#include <memory>
#include <optional>
#include <string>

namespace sde {

// What a training run is asked for. The CLI's train command fills it from its options and the
// studio's Train tab from its form; prepareTrainingRun turns it into a run.
struct TrainingRunRequest {
    // The model to train. Unset: resume the run in options.outDir with the model definition
    // stored in its newest checkpoint.
    std::optional<ModelConfig> config;
    // Train the noise-conditional classifier of `config`'s SDE and data instead of a score model.
    bool classifier = false;
    int64_t classifierWidth = 32; // the classifier's nf
    // The training data as openTrainingData reads it: FOLDER, patches:FOLDER, an IDX file,
    // fashion-mnist[:test] or toy:NAME.
    std::string data;
    // outDir, resume, seed, device, batchSize (0: the config's; a resumed run: its own),
    // checkpoints, logging, snapshots. steps and precision come from the two fields below; a
    // classifier is exported as classifier.safetensors.
    TrainerOptions options;
    // Train until this many steps in all. Unset: the config's training.n_iters.
    std::optional<int64_t> steps;
    // The forward pass's number format. Unset: float32, or the one a resumed run was trained in.
    std::optional<EvaluationPrecision> precision;
    // Fine-tuning: a new score model run starts from the (EMA) weights of this model file or
    // bundled model instead of the seed's; the optimizer, EMA and step count start afresh. Its
    // network must have the config's layout (keys and shapes) and data shape; unset `config`
    // takes the file's own. Not for a resumed run (its checkpoint holds its weights) or a
    // classifier.
    std::optional<std::string> initialWeights;
};

// A run ready for train(): its task (the network built on the CPU from options.seed, so the same
// request gives the same initial weights), its data and its resolved options.
struct TrainingRun {
    std::unique_ptr<TrainingTask> task;
    std::unique_ptr<TrainingData> data;
    TrainerOptions options;
    std::optional<CheckpointInfo> resumed; // the newest checkpoint, which a resumed run continues
    std::unique_ptr<OutputFolder> folder;  // options.outDir, locked for the run (none on data-parallel ranks but 0)

    // The score config: its SDE, data layout and optimizer settings (a classifier's too).
    const ModelConfig &config() const { return task->config(); }
    // Examples per step.
    int64_t batchSize() const;
    // "NCSN++, VE SDE (sigma 0.01 to 50)" or "noise-conditional classifier, VP SDE (...)".
    std::string modelDescription() const;
    // Trains it (sde::train): blocks until the run finishes, stops or diverges. A new run that
    // fails (throws) or diverges before its first checkpoint removes the files it wrote in its
    // folder (metrics.jsonl, previews; what was there before stays) and says how many in its
    // error or message; closing the folder then removes the folders it made.
    TrainingResult run(const TrainerCallbacks &callbacks = {}, TrainingControl *control = nullptr);
};

// The one setup of a training run for every front end: creates and locks the run's folder first
// (OutputFolder, before a resumed run's checkpoint is read), resolves the precision (a resumed run
// keeps its own), seeds and builds the task, checks that a resumed run's checkpoint was written
// by the same kind of model with the same definition, takes a resumed run's batch size, opens
// the data and makes the folder's checkpoints/ (and samples/ for snapshots).
// Throws sde::Error with a message naming the problem: nothing to resume, a config that differs
// from the run's (naming the differing keys), a half precision on a device without CUDA, a
// config or data set that cannot be read, initial weights that cannot be read or do not fit the
// config (naming the file and the first differing tensors).
TrainingRun prepareTrainingRun(const TrainingRunRequest &request);

} // namespace sde
