#include "data/toy_data.h"

#include "util/error.h"

#include <cmath>

namespace sde {

namespace {

struct NamedDistribution {
    const char *name;
    ToyDistribution distribution;
};
constexpr NamedDistribution kDistributions[] = {
    {"moons", ToyDistribution::TwoMoons},
    {"8gaussians", ToyDistribution::EightGaussians},
    {"checkerboard", ToyDistribution::Checkerboard},
    {"swissroll", ToyDistribution::SwissRoll},
};

constexpr double kPi = 3.14159265358979323846;

} // namespace

ToyDistribution toyDistributionFromName(const std::string &name)
{
    for (const auto &entry : kDistributions)
        if (name == entry.name)
            return entry.distribution;
    std::string choices;
    for (const auto &entry : kDistributions)
        choices += std::string(choices.empty() ? "" : ", ") + entry.name;
    throw Error("unknown toy distribution \"" + name + "\" (expected one of " + choices + ")");
}

std::string toyDistributionName(ToyDistribution distribution)
{
    for (const auto &entry : kDistributions)
        if (entry.distribution == distribution)
            return entry.name;
    return "?";
}

std::vector<std::string> toyDistributionNames()
{
    std::vector<std::string> names;
    for (const auto &entry : kDistributions)
        names.emplace_back(entry.name);
    return names;
}

torch::Tensor sampleToyDistribution(ToyDistribution distribution, int64_t n, at::Generator generator)
{
    const auto f32 = torch::TensorOptions().dtype(torch::kFloat32);
    switch (distribution) {
    case ToyDistribution::TwoMoons: {
        // Two interleaved half circles (sklearn's make_moons, noise 0.1), scaled by 2 and shifted.
        torch::Tensor angle = torch::rand({n}, generator, f32) * kPi;
        torch::Tensor upper = torch::rand({n}, generator, f32) < 0.5;
        torch::Tensor x = torch::where(upper, torch::cos(angle), 1.0 - torch::cos(angle));
        torch::Tensor y = torch::where(upper, torch::sin(angle), 0.5 - torch::sin(angle));
        torch::Tensor points = torch::stack({x, y}, 1) + 0.1 * torch::randn({n, 2}, generator, f32);
        return points * 2.0 + torch::tensor({-1.0f, -0.2f});
    }
    case ToyDistribution::EightGaussians: {
        // Eight Gaussians (std 0.5) on a circle of radius 4, all scaled by 1 / 1.414.
        torch::Tensor which = torch::randint(8, {n}, generator, torch::TensorOptions().dtype(torch::kLong));
        torch::Tensor angle = which.to(torch::kFloat32) * (kPi / 4.0);
        torch::Tensor centers = torch::stack({torch::cos(angle), torch::sin(angle)}, 1) * 4.0;
        return (centers + 0.5 * torch::randn({n, 2}, generator, f32)) / 1.414;
    }
    case ToyDistribution::Checkerboard: {
        // Uniform on the dark squares of a 4 x 4 board over [-4, 4]^2.
        torch::Tensor x1 = torch::rand({n}, generator, f32) * 4.0 - 2.0;
        torch::Tensor shift = torch::randint(2, {n}, generator, f32) * 2.0;
        torch::Tensor x2 = torch::rand({n}, generator, f32) - shift + torch::remainder(torch::floor(x1), 2.0);
        return torch::stack({x1, x2}, 1) * 2.0;
    }
    case ToyDistribution::SwissRoll: {
        // sklearn's make_swiss_roll (noise 1) seen from above, divided by 5.
        torch::Tensor t = 1.5 * kPi * (1.0 + 2.0 * torch::rand({n}, generator, f32));
        torch::Tensor points = torch::stack({t * torch::cos(t), t * torch::sin(t)}, 1);
        return (points + torch::randn({n, 2}, generator, f32)) / 5.0;
    }
    }
    throw Error("unknown toy distribution");
}

std::string ToyTrainingData::description() const
{
    return "2D toy distribution \"" + toyDistributionName(distribution_) + "\"";
}

TrainingBatch ToyTrainingData::batch(int64_t step, int64_t batchSize, uint64_t seed)
{
    TrainingBatch out;
    out.step = step;
    out.examples = sampleToyDistribution(distribution_, batchSize,
                                         seededGenerator(seed, 0x544f59ULL /* "TOY" */, static_cast<uint64_t>(step)))
                       .view({batchSize, 2, 1, 1});
    return out;
}

} // namespace sde
