#pragma once

#include "nets/inference.h"
#include "train/training_task.h"
#include "util/json_fields.h"

#include <torch/torch.h>

#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace sde {

class ScoreModel;

// The training checkpoint: everything a run needs to go on exactly where it stopped, in one
// safetensors file, <out>/checkpoints/checkpoint-<step, 8 digits>.safetensors. The trainer
// (train/trainer.h) writes one every checkpointEvery steps; the CLI and the studio read them to
// resume a run, to open its model, or to show what run a folder holds.
//
// Tensors, by prefix (the prefix is stripped when read):
//   model.<name>  the network's state dict, parameters and buffers, in stateDict()'s order
//   ema.<name>    the EMA shadow of each trainable parameter (train/ema.h), the parameter's shape
//   adam.<name>   Adam's state, AdamOptimizer::state()'s names and shapes (train/adam.h)
// Metadata (strings): format "sdestudio-training-state", format_version "1", kind, definition
// (the model's config as JSON), step, seed, batch_size, adam_steps, ema_updates, smoothed_loss,
// elapsed_seconds, precision, loss_scale, loss_scale_good_steps, data, written_by. Integers are
// decimal digits, exact over int64 (the seed over uint64); doubles have 17 significant digits.

// What a checkpoint's metadata says of its run.
struct CheckpointInfo {
    std::string kind; // "score" or "classifier"
    Json definition;  // the model's config (ModelConfig or ClassifierConfig JSON)
    int64_t step = 0;
    uint64_t seed = 0;
    int64_t batchSize = 0;
    std::string data;                                             // the training data's description
    EvaluationPrecision precision = EvaluationPrecision::Float32; // states from before it was stored: float32
};

// A whole checkpoint: the run, the counters that make a resumed run equal an uninterrupted one,
// and the tensors (on the CPU when read).
struct TrainingCheckpoint {
    CheckpointInfo info;
    int64_t adamSteps = 0;                                          // Adam's step count (its bias correction)
    int64_t emaUpdates = 0;                                         // updates the EMA has had (its warm-up schedule)
    double smoothedLoss = std::numeric_limits<double>::quiet_NaN(); // NaN before the first good step
    double elapsedSeconds = 0.0;                                    // training time, resumed parts included
    // float16 runs: the dynamic loss scale and its count of good steps (train/loss_scaler.h).
    // Read only from a float16 checkpoint; others keep these defaults.
    double lossScale = 65536.0;
    int64_t lossScaleGoodSteps = 0;
    std::vector<std::pair<std::string, torch::Tensor>> model;
    std::vector<std::pair<std::string, torch::Tensor>> ema;
    std::vector<std::pair<std::string, torch::Tensor>> adam;

    // The EMA of the parameter named `name`; throws sde::Error naming `path` when it has none.
    const torch::Tensor &emaOf(const std::string &name, const std::string &path) const;
    // The EMA of a network's trainable parameters (train/ema.h's trainableParameters: name and
    // tensor), one average per parameter in their order, each of its parameter's shape. Throws
    // sde::Error naming `path` and the parameter for one the EMA lacks or holds in another shape,
    // and for an average of a parameter that is not among them (a fixed parameter or buffer
    // comes from the model state, never from the EMA).
    std::vector<torch::Tensor> emaOfTrainable(const std::vector<std::pair<std::string, torch::Tensor>> &trainable,
                                              const std::string &path) const;
};

// "checkpoint-00000042.safetensors": the zero padding makes names sort in step order.
std::string checkpointFileName(int64_t step);
// The checkpoints in `outDir`/checkpoints, oldest first (none when the folder does not exist).
std::vector<std::string> listCheckpoints(const std::string &outDir);

// Writes a checkpoint atomically (train/trainer.h's runs never see a half-written one).
// Throws sde::Error naming the path when it cannot be written.
void writeTrainingCheckpoint(const std::string &path, const TrainingCheckpoint &checkpoint);
// Reads a whole checkpoint. Throws sde::Error naming the file for a file that is not a training
// state, a metadata key that is missing or not a number of its type (named), a definition that
// is not JSON, or a tensor outside the three prefixes.
TrainingCheckpoint readTrainingCheckpoint(const std::string &path);
// Only the run it belongs to; the same errors.
CheckpointInfo readCheckpointInfo(const std::string &path);

// The task that wrote a checkpoint, built from its stored definition (to resume a run whose
// config is not at hand). Throws sde::Error for a definition that is not a valid config.
std::unique_ptr<TrainingTask> taskForCheckpoint(const CheckpointInfo &info);
// A score model checkpoint as a model to sample from, in evaluation mode, on the CPU: the model
// state (parameters and buffers), then with ema = true the EMA over the trainable parameters,
// so the fixed ones (the Fourier embedding's W) and the buffers keep the model state's values;
// with ema = false the raw weights. Throws sde::Error naming the file for a classifier's
// checkpoint, a broken file, a model state that does not fit the network, or an EMA that does
// not fit its trainable parameters (TrainingCheckpoint::emaOfTrainable).
std::unique_ptr<ScoreModel> loadCheckpointModel(const std::string &path, bool ema = true);

} // namespace sde
