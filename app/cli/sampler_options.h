#pragma once

#include "option_table.h"
#include "progress.h"

#include "io/model_file.h"
#include "sampling/sampling_settings.h"

#include <map>
#include <string>

namespace sde::cli {

// The sampler options of sample, inpaint and colorize, as data: every sampler, and its settings
// with their types, ranges and defaults (the sampler catalogue will supply this list).
const std::vector<OptionSpec> &samplerOptionSpecs();
// Adds samplerOptionSpecs() to `command`.
void addSamplerOptions(CLI::App &command, OptionValues &values);
// The sampling settings for `batch` images: without --sampler the fast default
// (SamplingSettings::fastDefault), with `--sampler config` the config's own, with another name
// that sampler with the config's settings where it has them; then the options given. Errors name
// the option. Without --seed the seed is random (and printed with the settings).
SamplingSettings samplingSettings(const OptionValues &values, const ModelConfig &config, int64_t batch);

// Set by Ctrl+C while an InterruptScope is alive; long runs pass it as their cancel token.
extern CancelToken interruptToken;
class InterruptScope {
public:
    InterruptScope();
    ~InterruptScope();

private:
    void (*previous_)(int);
};

// Finishes the progress line of a cancelled run and says nothing was written; returns the exit
// code (130, as for SIGINT).
int cancelled(ProgressBar &progress, int64_t steps);

// An image file at the model's size, as [C, H, W] in [0, 1] with the model's channels (or
// `channels`); the error names both sizes.
torch::Tensor loadModelImage(const std::string &path, const ScoreModel &model, int64_t channels = 0);

// Writes each image of a batch as <folder>/<operation>-<seed>.png (image i has seed S + i) and,
// for several, <folder>/grid.png. Each PNG carries `parameters` (one readable line) and
// `sdestudio` (JSON: operation, model file and config, sampling settings of that one image with
// batch 1, NFE, and `inputs`). Prints the paths.
void writeResults(const std::string &folder, const std::string &operation, const torch::Tensor &images,
                  const SamplingSettings &settings, const LoadedModel &loaded, int64_t nfe, const Json &inputs);

} // namespace sde::cli
