#pragma once

#include <torch/torch.h>

namespace sde {

// Puts a module back in the training mode it had (train() or eval(), set recursively as
// Module::train does) when the scope ends, on every path, exceptions included: code that
// evaluates a network in the middle of a run (the trainer's previews) cannot leave dropout
// switched off for the rest of it.
class TrainingModeGuard {
public:
    explicit TrainingModeGuard(torch::nn::Module &module) : module_(module), training_(module.is_training()) {}
    ~TrainingModeGuard() { module_.train(training_); }
    TrainingModeGuard(const TrainingModeGuard &) = delete;
    TrainingModeGuard &operator=(const TrainingModeGuard &) = delete;

private:
    torch::nn::Module &module_;
    bool training_;
};

} // namespace sde
