#pragma once

#include <torch/torch.h>

#include <string>

namespace sde {

// Parses a device name given by a user: "cpu", "cuda", "cuda:N" or "auto" (CUDA when present).
// Throws sde::Error when CUDA is asked for but this LibTorch build or machine has none. Handing
// out a CUDA device sets float32 math to exact and deterministic (configureCudaMath()).
torch::Device parseDevice(const std::string &name);

// Sets LibTorch's intra-op thread count once at start: `requested` when positive, else
// OMP_NUM_THREADS when set, else every hardware thread (Debian's LibTorch starts with one).
// Returns the count in effect.
int configureThreads(int requested = 0);

} // namespace sde
