#include "util/cuda_graphs.h"

#include "util/build_info.h"

#include <torch/cuda.h>

#include <atomic>
#include <map>
#include <mutex>
#include <tuple>

#if SDE_WITH_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace sde {

namespace {

std::atomic<bool> graphsEnabled{true};
constexpr int64_t kGraphMaxBatch = 64;

} // namespace

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
    // variant, x's shape, t's shape, x's dtype, t's dtype, device index
    using Key = std::tuple<std::vector<int64_t>, std::vector<int64_t>, std::vector<int64_t>, int, int, int>;
#if SDE_WITH_CUDA
    struct Entry {
        int sightings = 0;
        bool failed = false;
        int64_t lastUse = 0;
        std::unique_ptr<at::cuda::CUDAGraph> graph;
        torch::Tensor x, t, out; // the graph's static input and output buffers
    };
    std::map<Key, Entry> entries;
    bool havePool = false;
    at::cuda::MempoolId_t pool{0, 0};
#endif
    mutable std::mutex mutex;
    int64_t uses = 0;
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

int64_t CudaGraphCache::graphs() const
{
    std::lock_guard<std::mutex> lock(state_->mutex);
    int64_t count = 0;
#if SDE_WITH_CUDA
    for (const auto &item : state_->entries)
        count += item.second.graph ? 1 : 0;
#endif
    return count;
}

std::string CudaGraphCache::fallbackReason() const
{
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->fallbackReason;
}

torch::Tensor CudaGraphCache::run(const Fn &fn, const torch::Tensor &x, const torch::Tensor &t,
                                  const std::vector<int64_t> &variant)
{
#if SDE_WITH_CUDA
    if (!x.is_cuda() || !t.is_cuda())
        return fn(x, t);
    std::lock_guard<std::mutex> lock(state_->mutex);
    const State::Key key{variant,
                         x.sizes().vec(),
                         t.sizes().vec(),
                         static_cast<int>(x.scalar_type()),
                         static_cast<int>(t.scalar_type()),
                         static_cast<int>(x.device().index())};
    State::Entry &entry = state_->entries[key];
    entry.lastUse = ++state_->uses;
    if (entry.failed || (!entry.graph && ++entry.sightings < kCaptureAfter))
        return fn(x, t);
    torch::NoGradGuard noGrad;
    c10::InferenceMode normal(false); // static buffers the later calls can copy into
    const c10::cuda::CUDAGuard deviceGuard(x.device());
    if (!entry.graph) {
        // Keep at most kMaxGraphs: drop the least recently used other graph first.
        int64_t kept = 0;
        auto oldest = state_->entries.end();
        for (auto it = state_->entries.begin(); it != state_->entries.end(); ++it)
            if (it->second.graph) {
                ++kept;
                if (oldest == state_->entries.end() || it->second.lastUse < oldest->second.lastUse)
                    oldest = it;
            }
        if (kept >= kMaxGraphs && oldest != state_->entries.end())
            state_->entries.erase(oldest);
        try {
            // Capture happens on a side stream, after the caller's queued work is done; the
            // static inputs are ordinary tensors (not inference tensors) outside the graph's pool.
            entry.x = x.clone();
            entry.t = t.clone();
            torch::cuda::synchronize(x.device().index());
            if (!state_->havePool) {
                state_->pool = at::cuda::graph_pool_handle();
                state_->havePool = true;
            }
            c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool(false, x.device().index());
            {
                const c10::cuda::CUDAStreamGuard streamGuard(side);
                for (int warmup = 0; warmup < 2; ++warmup)
                    fn(entry.x, entry.t);
                side.synchronize();
                entry.graph = std::make_unique<at::cuda::CUDAGraph>();
                // Thread-local capture: other threads' CUDA calls (a data loader) stay legal.
                entry.graph->capture_begin(state_->pool, cudaStreamCaptureModeThreadLocal);
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
    (void)variant;
    return fn(x, t);
#endif
}

} // namespace sde
