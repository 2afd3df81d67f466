#pragma once

#include "config/model_config.h"
#include "data/training_data.h"
#include "train/trainer.h"

#include <string>
#include <vector>

namespace sde::test {

// A config at test size with the same kind of model: the architecture (model.name), the SDE
// and its parameters, the time embedding (Fourier or positional), continuous or discrete
// training, conditioning, the resblock type, the progressive paths, FIR, skip rescaling,
// scale_by_sigma, dropout, the EMA rate, the loss options and the data layout (channels,
// centering) stay; the size shrinks:
//   images 8 x 8 (a point model keeps its 1 x 1), two resolutions (ch_mult {1, 2}), one
//   resblock per resolution, attention at the 4 x 4 resolution when the config has any,
//   nf 8 (32 for DDPM, whose GroupNorms have 32 groups), 50 noise scales (the VP SDE's DDPM
//   schedule needs more than beta_max; NCSN++ with positional embedding under continuous VP or
//   sub-VP keeps its 1000, see ModelConfig::validate), batch 4, no warm-up (so the first step
//   moves the weights). The result is validated; sde::Error for a config that is not valid.
ModelConfig shrunkConfig(const ModelConfig &config);

// A toy point model (the MLP on 2D points, VP SDE) for trainer tests: batch 64, warm-up 10.
ModelConfig toyConfig();

// A tiny DDPM++ on 8 x 8 gray images, with dropout 0.1 (so a resume must repeat the dropout
// masks), attention at 4 x 4, batch 4, warm-up 2.
ModelConfig tinyImageConfig();

// The trainer tests' options: `steps` steps into `folder`, a metrics record every step, seed 5, no
// checkpoint but the last.
TrainerOptions optionsIn(const std::string &folder, int64_t steps);

// Uniform noise images in [0, 1] of a config's shape [C, H, W], unlabelled; the batch of a step
// is a function of (seed, step) alone, as the trainer requires.
class RandomImages : public TrainingData {
public:
    explicit RandomImages(const ModelConfig &config)
        : shape_{config.data.numChannels, config.data.imageSize, config.data.imageSize}
    {}
    std::string description() const override { return "random images"; }
    std::vector<int64_t> exampleShape() const override { return shape_; }
    TrainingBatch batch(int64_t step, int64_t batchSize, uint64_t seed) override;

private:
    std::vector<int64_t> shape_;
};

} // namespace sde::test
