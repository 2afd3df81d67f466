#pragma once

#include "data/training_data.h"

#include <string>
#include <vector>

namespace sde {

// The 2D toy distributions of the score-based and flow literature (as FFJORD draws them).
enum class ToyDistribution { TwoMoons, EightGaussians, Checkerboard, SwissRoll };

// "moons", "8gaussians", "checkerboard", "swissroll"; throws sde::Error naming the choices.
ToyDistribution toyDistributionFromName(const std::string &name);
std::string toyDistributionName(ToyDistribution distribution);
std::vector<std::string> toyDistributionNames();

// n points [n, 2] from the distribution.
torch::Tensor sampleToyDistribution(ToyDistribution distribution, int64_t n, at::Generator generator);

// An endless stream of points as [B, 2, 1, 1] examples (the toy_mlp model's layout).
class ToyTrainingData : public TrainingData {
public:
    explicit ToyTrainingData(ToyDistribution distribution) : distribution_(distribution) {}

    std::string description() const override;
    std::vector<int64_t> exampleShape() const override { return {2, 1, 1}; }
    TrainingBatch batch(int64_t step, int64_t batchSize, uint64_t seed) override;

private:
    ToyDistribution distribution_;
};

} // namespace sde
