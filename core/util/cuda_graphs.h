#pragma once

// CUDA graphs for repeated evaluations of a fixed-shape function: the score network inside the
// samplers' loops, where at small batch the network's hundreds of small kernel launches cost more
// than their work. Usable from any build: without CUDA (Debian's LibTorch 1.13) every call runs
// the function eagerly.

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace sde {

// One graph per key (the caller's variant, the inputs' shapes, dtypes and device):
// - a key seen for the first time runs `fn` eagerly; the second time, `fn` runs twice eagerly on
//   a side stream (lazy initialisation, allocator warm-up) and once more under capture, into a
//   graph whose static input buffers later calls copy into before replaying it;
// - all graphs of a cache share one memory pool (replays never overlap, and only each graph's
//   output outlives its replay), and at most kMaxGraphs are kept, the least recently used
//   dropped first, so a caller whose shapes keep changing (the adaptive sampler's shrinking
//   batch) cannot fill the GPU;
// - where capture is not possible (a CPU tensor, a build without CUDA, an operation that cannot
//   be captured, such as a copy from host memory) the call runs `fn` eagerly and that key is not
//   tried again; fallbackReason() says why.
// The output is a fresh tensor the caller owns. Calls are serialised by a mutex.
class CudaGraphCache {
public:
    using Fn = std::function<torch::Tensor(const torch::Tensor &x, const torch::Tensor &t)>;
    static constexpr int kMaxGraphs = 8;
    static constexpr int kCaptureAfter = 2; // sightings of a key before it is captured

    CudaGraphCache();
    ~CudaGraphCache();
    CudaGraphCache(const CudaGraphCache &) = delete;
    CudaGraphCache &operator=(const CudaGraphCache &) = delete;

    // fn(x, t) for x [B, ...] and t [B] on one CUDA device. `variant` holds whatever else changes
    // what fn computes (the weights' storage, the precision).
    torch::Tensor run(const Fn &fn, const torch::Tensor &x, const torch::Tensor &t,
                      const std::vector<int64_t> &variant);
    // Drops every graph (the network moved, or its weights were replaced by new storage).
    void clear();

    int64_t captures() const;
    int64_t replays() const;
    int64_t graphs() const; // kept now
    std::string fallbackReason() const;

private:
    struct State;
    std::unique_ptr<State> state_;
};

// The process-wide switch for score evaluations on CUDA through CudaGraphCache (default on), and
// the largest batch captured (64: above it launches cost little next to the work).
void setCudaGraphsEnabled(bool enabled);
bool cudaGraphsEnabled();
int64_t cudaGraphMaxBatch();

} // namespace sde
