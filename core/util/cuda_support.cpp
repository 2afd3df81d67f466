#include "util/cuda_support.h"

#include "util/build_info.h"
#include "util/error.h"

#include <ATen/Context.h>
#include <torch/cuda.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <sstream>

#if SDE_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace sde {

namespace {

std::atomic<bool> graphsEnabled{true};
constexpr int64_t kGraphMaxBatch = 64;
constexpr double kMiB = 1024.0 * 1024.0;

std::string shapeKey(const torch::Tensor &x)
{
    std::ostringstream out;
    out << x.device() << '|' << x.scalar_type() << '|' << x.sizes();
    return out.str();
}

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

void setCudaGraphsEnabled(bool enabled)
{
    graphsEnabled.store(enabled);
}
bool cudaGraphsEnabled()
{
    return graphsEnabled.load();
}
int64_t cudaGraphMaxBatch()
{
    return kGraphMaxBatch;
}

struct CudaGraphCache::State {
#if SDE_WITH_CUDA
    struct Entry {
        bool failed = false;
        std::unique_ptr<at::cuda::CUDAGraph> graph;
        torch::Tensor x, t, out; // the graph's static input and output buffers
    };
    std::map<std::string, Entry> entries;
#endif
    std::mutex mutex;
    int64_t captures = 0;
    int64_t replays = 0;
    std::string fallbackReason;
};

CudaGraphCache::CudaGraphCache() : state_(std::make_unique<State>())
{}
CudaGraphCache::~CudaGraphCache() = default;

void CudaGraphCache::clear()
{
    std::lock_guard<std::mutex> lock(state_->mutex);
#if SDE_WITH_CUDA
    state_->entries.clear();
#endif
}

int64_t CudaGraphCache::captures() const
{
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->captures;
}

int64_t CudaGraphCache::replays() const
{
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->replays;
}

std::string CudaGraphCache::fallbackReason() const
{
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->fallbackReason;
}

torch::Tensor CudaGraphCache::run(const Fn &fn, const torch::Tensor &x, const torch::Tensor &t, const std::string &key)
{
#if SDE_WITH_CUDA
    if (!x.is_cuda() || !t.is_cuda())
        return fn(x, t);
    std::lock_guard<std::mutex> lock(state_->mutex);
    State::Entry &entry = state_->entries[key + '|' + shapeKey(x) + '|' + shapeKey(t)];
    if (entry.failed)
        return fn(x, t);
    torch::NoGradGuard noGrad;
    c10::InferenceMode normal(false); // static buffers the later calls can copy into
    const c10::cuda::CUDAGuard deviceGuard(x.device());
    if (!entry.graph) {
        try {
            // Capture happens on a side stream, after the caller's queued work is done; the
            // static inputs are ordinary tensors (not inference tensors) so that later calls can
            // copy into them.
            entry.x = x.clone();
            entry.t = t.clone();
            torch::cuda::synchronize(x.device().index());
            c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool(false, x.device().index());
            {
                const c10::cuda::CUDAStreamGuard streamGuard(side);
                for (int warmup = 0; warmup < 2; ++warmup)
                    fn(entry.x, entry.t);
                side.synchronize();
                entry.graph = std::make_unique<at::cuda::CUDAGraph>();
                // Thread-local capture: other threads' CUDA calls (a data loader) stay legal.
                entry.graph->capture_begin({0, 0}, cudaStreamCaptureModeThreadLocal);
                try {
                    entry.out = fn(entry.x, entry.t);
                } catch (...) {
                    try {
                        entry.graph->capture_end();
                    } catch (...) {
                    }
                    throw;
                }
                entry.graph->capture_end();
            }
            torch::cuda::synchronize(x.device().index());
            ++state_->captures;
        } catch (const std::exception &e) {
            entry.graph.reset();
            entry.x = entry.t = entry.out = torch::Tensor();
            entry.failed = true;
            state_->fallbackReason = e.what();
            return fn(x, t);
        }
    }
    entry.x.copy_(x);
    entry.t.copy_(t);
    entry.graph->replay();
    ++state_->replays;
    return entry.out.clone();
#else
    (void)key;
    return fn(x, t);
#endif
}

} // namespace sde
