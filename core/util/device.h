#pragma once

#include <torch/torch.h>

#include <string>

namespace sde {

// Parses a device name given by a user: "cpu", "cuda", "cuda:N" or "auto" (CUDA when present).
// Throws sde::Error when CUDA is asked for but this LibTorch build or machine has none. Handing
// out a CUDA device sets float32 math to exact and deterministic (configureCudaMath()).
torch::Device parseDevice(const std::string &name);

// The most intra-op threads SDE Studio asks LibTorch for: far more than any machine it runs on
// has, and few enough that starting them cannot hang the process (100000 did).
constexpr int kMostThreads = 256;

// Sets LibTorch's intra-op thread count once at start: `requested` when positive, else
// OMP_NUM_THREADS when set, else every hardware thread (Debian's LibTorch starts with one);
// at most kMostThreads. Returns the count in effect.
int configureThreads(int requested = 0);

} // namespace sde
