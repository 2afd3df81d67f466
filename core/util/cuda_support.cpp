#include "util/cuda_support.h"

#include "util/build_info.h"
#include "util/error.h"

#include <ATen/Context.h>
#include <torch/cuda.h>

#include <cstdio>

#if SDE_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace sde {

namespace {

constexpr double kMiB = 1024.0 * 1024.0;

} // namespace

bool cudaBuild()
{
    return SDE_WITH_CUDA != 0;
}

bool cudaAvailable()
{
    return cudaBuild() && torch::cuda::is_available();
}

std::string cudaDeviceDescription(int index)
{
#if SDE_WITH_CUDA
    if (!torch::cuda::is_available())
        return "no CUDA GPU is visible to this build (driver missing or no device)";
    if (index < 0 || index >= static_cast<int>(torch::cuda::device_count()))
        return "no CUDA device " + std::to_string(index);
    const cudaDeviceProp *properties = at::cuda::getDeviceProperties(static_cast<c10::DeviceIndex>(index));
    char text[256];
    std::snprintf(text, sizeof text, "%s, compute capability %d.%d, %.1f GiB", properties->name, properties->major,
                  properties->minor, static_cast<double>(properties->totalGlobalMem) / (kMiB * 1024.0));
    return text;
#else
    (void)index;
    return "this build's LibTorch has no CUDA (build the cuda flavor: packaging/install-torch.sh)";
#endif
}

CudaMemory cudaMemory(const torch::Device &device)
{
    CudaMemory memory;
#if SDE_WITH_CUDA
    if (!device.is_cuda() || !torch::cuda::is_available())
        return memory;
    const c10::DeviceIndex index = device.has_index() ? device.index() : c10::cuda::current_device();
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(index);
    constexpr size_t all = static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE);
    memory.allocatedMiB = static_cast<double>(stats.allocated_bytes[all].current) / kMiB;
    memory.peakAllocatedMiB = static_cast<double>(stats.allocated_bytes[all].peak) / kMiB;
    memory.reservedMiB = static_cast<double>(stats.reserved_bytes[all].current) / kMiB;
#else
    (void)device;
#endif
    return memory;
}

void resetCudaPeakMemory(const torch::Device &device)
{
#if SDE_WITH_CUDA
    if (!device.is_cuda() || !torch::cuda::is_available())
        return;
    c10::cuda::CUDACachingAllocator::resetPeakStats(device.has_index() ? device.index() : c10::cuda::current_device());
#else
    (void)device;
#endif
}

void configureCudaMath()
{
    at::globalContext().setAllowTF32CuDNN(false);
    at::globalContext().setAllowTF32CuBLAS(false);
    at::globalContext().setDeterministicCuDNN(true);
    at::globalContext().setBenchmarkCuDNN(false);
}

void synchronizeDevice(const torch::Device &device)
{
    if (device.is_cuda())
        torch::cuda::synchronize(device.has_index() ? device.index() : -1);
}

} // namespace sde
