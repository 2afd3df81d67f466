#pragma once

// What differs between the two LibTorch flavors the project builds against: Debian's LibTorch
// 1.13 (CPU) and the official LibTorch 2.x with CUDA (PyPI's torch wheel). Code elsewhere calls
// these and never tests TORCH_VERSION itself.

#include <ATen/autocast_mode.h>
#include <torch/torch.h>
#include <torch/version.h>

#define SDE_TORCH_AT_LEAST(major, minor)                                                                               \
    (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace sde::compat {

// Whether this is the LibTorch the reference fixtures (tests/data/reference) were recorded with,
// PyTorch 1.13 on the CPU: there long adaptive integrations repeat the reference step for step.
constexpr bool kReferenceLibTorch = !SDE_TORCH_AT_LEAST(2, 0);

// Turns autocast of CUDA operations to `dtype` on (2.4 and later take the device type).
inline void enableCudaAutocast(torch::Dtype dtype)
{
#if SDE_TORCH_AT_LEAST(2, 4)
    at::autocast::set_autocast_dtype(at::kCUDA, dtype);
    at::autocast::set_autocast_enabled(at::kCUDA, true);
#else
    at::autocast::set_autocast_gpu_dtype(dtype);
    at::autocast::set_enabled(true);
#endif
}

inline void disableCudaAutocast()
{
#if SDE_TORCH_AT_LEAST(2, 4)
    at::autocast::set_autocast_enabled(at::kCUDA, false);
#else
    at::autocast::set_enabled(false);
#endif
    at::autocast::clear_cache();
}

// Turns autocast of CPU operations to `dtype` (bfloat16) on: convolutions and matrix products run
// in it, reductions and normalizations stay float32 (LibTorch's CPU autocast lists).
inline void enableCpuAutocast(torch::Dtype dtype)
{
#if SDE_TORCH_AT_LEAST(2, 4)
    at::autocast::set_autocast_dtype(at::kCPU, dtype);
    at::autocast::set_autocast_enabled(at::kCPU, true);
#else
    at::autocast::set_autocast_cpu_dtype(dtype);
    at::autocast::set_cpu_enabled(true);
#endif
}

inline void disableCpuAutocast()
{
#if SDE_TORCH_AT_LEAST(2, 4)
    at::autocast::set_autocast_enabled(at::kCPU, false);
#else
    at::autocast::set_cpu_enabled(false);
#endif
    at::autocast::clear_cache();
}

} // namespace sde::compat
