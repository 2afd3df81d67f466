#pragma once

#include "sampling/sampling_types.h"
#include "util/thread_share.h"

#include <torch/torch.h>

#include <memory>

namespace sde {

// A sampling run's share of the cores on the CPU (util/thread_share.h), looked at again at every
// step through the step callback it wraps. Off the CPU it holds nothing and onStep() is the
// callback given; without a callback the share is set once, at the start (a step callback costs
// the samplers a copy per step). Every sampling entry point makes one (runSamplerWithScore, the
// PC inpainter and colorizer); made on a thread that already holds a share (the studio's worker)
// it is part of that run.
class CoreShare {
public:
    CoreShare(const torch::Device &device, const SamplerCallback &onStep);
    CoreShare(const CoreShare &) = delete;
    CoreShare &operator=(const CoreShare &) = delete;
    const SamplerCallback &onStep() const { return onStep_; }

private:
    std::unique_ptr<ThreadShare> share_;
    SamplerCallback onStep_;
};

} // namespace sde
