#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace sde {

// Dynamic loss scaling for float16 training, as torch.cuda.amp.GradScaler does it: the loss is
// multiplied by scale() before the backward pass, so that small gradients do not underflow in
// float16, and the gradients are divided by it afterwards. A step whose gradients overflow (inf
// or NaN) is skipped and the scale halved; after growthInterval good steps in a row it doubles.
// Disabled (float32 and bfloat16 training), it leaves the loss and the gradients alone.
class LossScaler {
public:
    static constexpr double kInitialScale = 65536.0; // 2^16, GradScaler's init_scale
    static constexpr int64_t kGrowthInterval = 2000; // GradScaler's growth_interval
    static constexpr double kMinimumScale = 1.0;     // below it an overflow is a divergence

    explicit LossScaler(bool enabled = false, double initialScale = kInitialScale);

    bool enabled() const { return enabled_; }
    double scale() const { return enabled_ ? scale_ : 1.0; }
    int64_t goodSteps() const { return goodSteps_; }

    // loss * scale() (the loss itself when disabled).
    torch::Tensor scaleLoss(const torch::Tensor &loss) const;
    // Divides the gradients of `parameters` by scale() in place.
    void unscale(const std::vector<torch::Tensor> &parameters) const;
    // After a step: finite gradients count towards growth, an overflow halves the scale.
    void update(bool finiteGradients);
    // Whether the scale has fallen so low that an overflow means the gradients really are not
    // finite (the trainer then counts the step as a bad one).
    bool exhausted() const { return enabled_ && scale_ <= kMinimumScale; }
    // The state a checkpoint stores (exact resume).
    void load(double scale, int64_t goodSteps);

private:
    bool enabled_;
    double scale_ = kInitialScale;
    int64_t goodSteps_ = 0;
};

} // namespace sde
