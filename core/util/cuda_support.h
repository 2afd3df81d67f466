#pragma once

// The CUDA side of the engine, usable from any build: in a build against a LibTorch without CUDA
// (Debian's 1.13, the default flavor) every query answers "none" and nothing here throws unless
// CUDA is asked for explicitly. The CUDA flavor (packaging/install-torch.sh, the `cuda` preset)
// compiles in the real implementations (util/build_info.h: SDE_WITH_CUDA).

#include <torch/torch.h>

#include <cstdint>
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

} // namespace sde
