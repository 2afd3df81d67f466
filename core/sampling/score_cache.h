#pragma once

#include "sde/sde.h"

#include <cstdint>
#include <functional>
#include <memory>

namespace sde {

class ScoreModel;

// Wraps a model's score function: counts the evaluations (the sampler's NFE) and remembers the
// last one, so the Tweedie estimate of x_0 at a state the sampler already scored costs nothing.
class ScoreCache {
public:
    // `score` replaces the model's own score function when given (guided sampling).
    explicit ScoreCache(const ScoreModel &model, ScoreFn score = nullptr);

    ScoreFn scoreFn();
    int64_t evaluations() const { return state_->evaluations; }

    // A lazy x0 = (x + std(t)^2 s(x, t)) / a(t): reuses the last evaluation when it was at this
    // very (x, t), else evaluates once (not counted in evaluations()).
    std::function<torch::Tensor()> tweedie(const torch::Tensor &x, const torch::Tensor &t) const;

private:
    struct State {
        int64_t evaluations = 0;
        torch::Tensor x, t, score;
    };
    const ScoreModel &model_;
    ScoreFn score_;
    std::shared_ptr<State> state_;
};

} // namespace sde
