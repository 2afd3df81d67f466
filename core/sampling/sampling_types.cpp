#include "sampling/sampling_types.h"

#include "util/error.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cstdio>

namespace sde {

std::string stepAndTime(int64_t step, int64_t totalSteps, double t)
{
    char time[32];
    std::snprintf(time, sizeof time, "%.4g", t); // the grids' times are float32: 0.445, not 0.44499999
    return "step " + std::to_string(step) + (totalSteps > 0 ? " of " + std::to_string(totalSteps) : std::string()) +
           " (t = " + time + ")";
}

void requireFiniteState(const torch::Tensor &x, int64_t step, int64_t totalSteps, double t)
{
    if (torch::isfinite(x).all().item<bool>())
        return;
    throw Error("sampling stopped at " + stepAndTime(step, totalSteps, t) +
                ": the state is not finite (NaN or infinity); the model's score is not finite there");
}

NoiseStreams::NoiseStreams(uint64_t seed, int64_t batch)
{
    for (int64_t i = 0; i < batch; ++i)
        generators_.push_back(at::make_generator<at::CPUGeneratorImpl>(seed + static_cast<uint64_t>(i)));
}

torch::Tensor NoiseStreams::randn(at::IntArrayRef shape, const torch::TensorOptions &options)
{
    std::vector<int64_t> one(shape.begin(), shape.end());
    one[0] = 1;
    std::vector<torch::Tensor> parts;
    parts.reserve(generators_.size());
    // Drawn on the CPU so a seed gives the same numbers on every device.
    for (auto &generator : generators_)
        parts.push_back(torch::randn(one, generator, torch::TensorOptions().dtype(torch::kFloat32)));
    return torch::cat(parts).to(options.device(), options.dtype().toScalarType());
}

torch::Tensor NoiseStreams::randn(const torch::Tensor &like)
{
    return randn(like.sizes(), like.options());
}

} // namespace sde
