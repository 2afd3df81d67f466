#pragma once

#include <torch/torch.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

namespace sde {

// Draws standard-normal noise shaped like its argument. Samplers pass one backed by seeded
// generators; parity tests pass one that returns the noise the reference recorded.
using NoiseFn = std::function<torch::Tensor(const torch::Tensor &like)>;

// Asks a running sampler to stop; it is checked once per step, so a run stops within one step.
class CancelToken {
public:
    void cancel() { requested_.store(true); }
    void reset() { requested_.store(false); }
    bool requested() const { return requested_.load(); }

private:
    std::atomic<bool> requested_{false};
};

// What a sampler reports after each step.
struct SamplerStep {
    int64_t step = 0;       // 1-based index of the step just finished
    int64_t totalSteps = 0; // planned steps (0 when adaptive and unknown)
    double t = 0.0;         // the time of the state x
    torch::Tensor x;        // x_t, in the model's data range
    int64_t nfe = 0;        // score evaluations so far
    // The denoised estimate of x_0 by Tweedie's formula, x0 = (x + std^2 s(x, t)) / a(t).
    // Computed on first call (free when the sampler already evaluated s at (x, t), else one
    // extra evaluation that is not counted in nfe); call it only for the steps you keep.
    std::function<torch::Tensor()> denoised;
};

using SamplerCallback = std::function<void(const SamplerStep &)>;

struct SampleResult {
    torch::Tensor samples; // in [0, 1] (the inverse scaler applied), [B, C, H, W]
    torch::Tensor x;       // the final state in the model's range
    int64_t nfe = 0;
    int64_t steps = 0;
    bool completed = true; // false when cancelled
};

// Throws sde::Error when the state x of a sampler holds NaN or infinity, naming the step (1-based;
// "of totalSteps" when that is known, i.e. not 0) and the time t. Samplers call it once per
// step, so a run whose score turns non-finite stops there instead of writing black images.
void requireFiniteState(const torch::Tensor &x, int64_t step, int64_t totalSteps, double t);
// "step 16 of 30 (t = 0.4833)", or without " of N" when totalSteps is 0: where a run stopped.
std::string stepAndTime(int64_t step, int64_t totalSteps, double t);

// Independent standard-normal streams, one per sample: sample i of a batch draws from a
// generator seeded with seed + i, so its noise (and so its output) is the same whatever batch it
// runs in.
class NoiseStreams {
public:
    NoiseStreams(uint64_t seed, int64_t batch);
    // Noise shaped like `like` ([B, ...]), each sample from its own stream, on like's device.
    torch::Tensor randn(const torch::Tensor &like);
    torch::Tensor randn(at::IntArrayRef shape, const torch::TensorOptions &options);

private:
    std::vector<at::Generator> generators_;
};

} // namespace sde
