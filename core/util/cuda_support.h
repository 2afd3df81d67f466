#pragma once

// The CUDA side of the engine, usable from any build: in a build against a LibTorch without CUDA
// (Debian's 1.13, the default flavor) every query answers "none" and nothing here throws unless
// CUDA is asked for explicitly. The CUDA flavor (packaging/install-torch.sh, the `cuda` preset)
// compiles in the real implementations (util/build_info.h: SDE_WITH_CUDA).

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace sde {

// Whether this build's LibTorch has CUDA compiled in.
bool cudaBuild();
// Whether a CUDA GPU can be used now (a CUDA build and a GPU with a working driver).
bool cudaAvailable();
// "NVIDIA H200, compute capability 9.0, 139.8 GiB" for device `index`, or why none is there.
std::string cudaDeviceDescription(int index = 0);

// Memory that LibTorch's caching allocator holds on a CUDA device, in MiB (0 for a CPU device or
// a build without CUDA).
struct CudaMemory {
    double allocatedMiB = 0.0;     // tensors alive now
    double peakAllocatedMiB = 0.0; // the most alive at once since the last resetCudaPeakMemory
    double reservedMiB = 0.0;      // held by the allocator (allocated + cached)
};
CudaMemory cudaMemory(const torch::Device &device);
void resetCudaPeakMemory(const torch::Device &device);
// Float32 means IEEE float32 on the GPU, and a seed gives the same numbers every run: TF32 off
// for cuDNN convolutions and cuBLAS products (LibTorch allows it in cuDNN by default, about 1e-3
// relative error), deterministic cuDNN algorithms, no autotuning. parseDevice() calls it when it
// hands out a CUDA device; the half precisions (autocast) are unaffected.
void configureCudaMath();
// Waits for the device's queued work (no-op on the CPU).
void synchronizeDevice(const torch::Device &device);

// CUDA graphs for repeated evaluations of a fixed-shape function (the score network in the
// samplers' loops): the first call with a new key runs `fn` twice eagerly on a side stream (lazy
// initialisation, allocator warm-up), then captures one call into a graph with static input
// buffers; later calls copy their inputs into those buffers and replay it, which removes the
// launch cost of the network's hundreds of small kernels at small batch.
// Where capture is not possible (a CPU tensor, a build without CUDA, an operation that cannot be
// captured) the call runs `fn` eagerly, and that key is not tried again; `fallbackReason()` says
// why. The output is a fresh tensor the caller owns. Not thread-safe: one cache per model.
class CudaGraphCache {
public:
    using Fn = std::function<torch::Tensor(const torch::Tensor &x, const torch::Tensor &t)>;

    CudaGraphCache();
    ~CudaGraphCache();
    CudaGraphCache(const CudaGraphCache &) = delete;
    CudaGraphCache &operator=(const CudaGraphCache &) = delete;

    // fn(x, t) for x [B, ...] and t [B] on one CUDA device; `key` names everything else that
    // changes what fn computes (the weights' storage, the precision).
    torch::Tensor run(const Fn &fn, const torch::Tensor &x, const torch::Tensor &t, const std::string &key);
    // Drops every graph (the network moved, or its weights were replaced by new storage).
    void clear();

    int64_t captures() const;
    int64_t replays() const;
    std::string fallbackReason() const;

private:
    struct State;
    std::unique_ptr<State> state_;
};

// The process-wide switch for score evaluations on CUDA through CudaGraphCache (default on);
// largest batch captured (default 64: above it launches cost little next to the work).
void setCudaGraphsEnabled(bool enabled);
bool cudaGraphsEnabled();
int64_t cudaGraphMaxBatch();

} // namespace sde
