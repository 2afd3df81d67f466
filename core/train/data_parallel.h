#pragma once

#include "data/training_data.h"

#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace sde {

// Multi-process data-parallel training on PyTorch's distributed engine (c10d), as
// torch.nn.parallel.DistributedDataParallel does it: every rank holds the model, computes the
// gradients of its share of the global batch, and the gradients are summed with all-reduce (Gloo
// on the CPU, NCCL on CUDA devices: one GPU a rank), so that the same optimizer step runs on every
// rank.

// Where a rank finds the others: the environment torchrun, Slurm recipes and Kubernetes jobs set
// (MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE, LOCAL_RANK).
struct DataParallelSettings {
    std::string masterAddress = "127.0.0.1"; // the host of rank 0, which holds the job's TCPStore
    int masterPort = 29500;
    int rank = 0;      // 0 .. worldSize - 1; rank 0 writes checkpoints and metrics
    int worldSize = 1; // the number of processes
    int localRank = 0; // the rank on this machine
    // How long a collective (or the rendezvous) waits for the other ranks before the job stops.
    std::chrono::seconds timeout{600};
};

// The settings of this process: nullopt when WORLD_SIZE is unset or 1 (a single-process run).
// Throws sde::Error naming the variable when one is not a whole number in its range, or when
// WORLD_SIZE > 1 and MASTER_ADDR, MASTER_PORT or RANK is missing.
std::optional<DataParallelSettings> dataParallelSettingsFromEnvironment();

// Whether this build can run a data-parallel group on `device`: Gloo for the CPU, in the build
// with Debian's LibTorch and libgloo-dev; NCCL for CUDA devices, in the cuda flavor's build
// (LibTorch 2.x with CUDA). When not, `why` says so.
bool dataParallelAvailable(const torch::Device &device, std::string *why = nullptr);

// The device a rank trains on when `name` was asked for (parseDevice's names: cpu, cuda, cuda:N,
// auto): a CUDA device without an index ("cuda", or "auto" where a GPU is) is the GPU numbered by
// the rank's LOCAL_RANK, one GPU a rank as torchrun's jobs have it, or cuda:0 in a process that
// sees one GPU (given its own by CUDA_VISIBLE_DEVICES); any other name is what parseDevice makes
// of it. Throws sde::Error naming LOCAL_RANK when this machine has no such GPU.
torch::Device rankDevice(const std::string &name, const DataParallelSettings &settings);

// A TCP port on 127.0.0.1 that nothing listens on now: MASTER_PORT of a job on one machine.
// Throws sde::Error when no socket can be bound.
int freeLoopbackPort();

// The micro-batches `rank` of `worldSize` trains on in one step: its share of the global batch of
// `batchSize` rows (rank r holds rows [r B / W, (r + 1) B / W)), split into `accumulation` parts
// the same way. Throws sde::Error when a part would be empty (batchSize < worldSize * accumulation).
std::vector<BatchSlice> rankMicroBatches(int64_t batchSize, int rank, int worldSize, int accumulation);

class DataParallelBackend;

// One rank's membership of the job's process group. Joining is the rendezvous: rank 0 hosts a
// c10d TCPStore at MASTER_ADDR:MASTER_PORT, every rank connects to it and the process group is
// built over it; the constructor returns when all WORLD_SIZE ranks have joined.
// A failed collective (a rank that died, or did not answer within the timeout) is rethrown as
// sde::Error naming the rank(s) that stopped answering, found through a heartbeat every rank
// keeps in the store.
class DataParallelGroup {
public:
    // `device`: where every tensor given to the collectives is, the CPU or this rank's GPU
    // (cuda:N, see rankDevice). Throws sde::Error when the rendezvous fails within the timeout,
    // naming the address, or when this build has no backend for `device`.
    DataParallelGroup(const DataParallelSettings &settings, const torch::Device &device);
    ~DataParallelGroup();
    DataParallelGroup(const DataParallelGroup &) = delete;
    DataParallelGroup &operator=(const DataParallelGroup &) = delete;

    int rank() const { return settings_.rank; }
    int size() const { return settings_.worldSize; }
    const DataParallelSettings &settings() const { return settings_; }

    // Sums each tensor over the ranks, in place; blocks until done. A tensor on another device
    // than the group's is reduced through a copy on it. `during` names the work in a failure's
    // message ("step 12").
    void allReduceSum(std::vector<torch::Tensor> &tensors, const std::string &during);
    // The largest value of each element over the ranks, in place.
    void allReduceMax(std::vector<torch::Tensor> &tensors, const std::string &during);

    // Starts summing `tensor` over the ranks; wait() the returned handle.
    class Pending;
    std::unique_ptr<Pending> startAllReduceSum(torch::Tensor tensor);

    // Gives every rank rank 0's parameters (one broadcast): a rank whose own differ by more than
    // rounding (1e-4 of their largest magnitude: another config or checkpoint) stops the job with
    // sde::Error "the ranks' parameters differ at step N" on every rank alike; smaller differences
    // (ranks with different thread counts round their sums differently) are replaced.
    void synchronizeParameters(const std::vector<torch::Tensor> &parameters, int64_t step);
    // Checks that every rank was started with the same values of `settings` (name, value): throws
    // sde::Error naming those that differ, on every rank alike.
    void agreeOn(const std::vector<std::pair<std::string, int64_t>> &settings);

    // Turns the failure of a collective into sde::Error naming the rank(s) that stopped answering.
    [[noreturn]] void throwCommunicationFailure(const std::exception &failure, const std::string &during);

private:
    void beat();
    // The sum, or with `largest` the largest value, of each element over the ranks, in place.
    void allReduce(std::vector<torch::Tensor> &tensors, bool largest, const std::string &during);

    DataParallelSettings settings_;
    torch::Device device_; // where the collectives' tensors are: the CPU (Gloo) or the rank's GPU (NCCL)
    std::shared_ptr<DataParallelBackend> backend_;
    std::atomic<bool> stopHeartbeat_{false};
    std::atomic<int64_t> beats_{0};
    bool failed_ = false; // a collective failed: NCCL's communicator is aborted, not shut down
    std::thread heartbeat_;
};

class DataParallelGroup::Pending {
public:
    virtual ~Pending() = default;
    // Blocks until the sum is in the tensor; a failure is rethrown as throwCommunicationFailure
    // does, naming `during`.
    virtual void wait(const std::string &during) = 0;
};

// Sums the gradients over the ranks while backward runs, as DistributedDataParallel's reducer
// does: parameters are grouped into buckets of about `bucketBytes` in reverse order (the order
// backward computes them), and a bucket is all-reduced as soon as its gradients are all known
// (an autograd hook on each parameter), in the same bucket order on every rank.
// Gradient accumulation: only the backward after arm() is reduced; the micro-batches before it
// accumulate into .grad as usual, and a bucket sends the accumulated sum.
class GradientReducer {
public:
    GradientReducer(DataParallelGroup &group, std::vector<torch::Tensor> parameters, int64_t bucketBytes = 25 << 20);
    ~GradientReducer(); // removes the hooks
    GradientReducer(const GradientReducer &) = delete;
    GradientReducer &operator=(const GradientReducer &) = delete;

    // Arms the hooks for the next backward pass (the step's last micro-batch).
    void arm();
    // After that backward: sends the buckets not yet sent, waits for every sum and writes it to
    // the parameters' .grad. `during` names the step in a failure's message.
    void finish(const std::string &during);

private:
    struct Bucket {
        std::vector<size_t> parameters; // indices into parameters_
        std::vector<int64_t> offsets;   // of each parameter in `flat`
        torch::Tensor flat;
        size_t ready = 0;
        std::unique_ptr<DataParallelGroup::Pending> pending;
    };
    void onGradient(size_t parameter, const torch::Tensor &gradient);
    void launchReadyBuckets();

    DataParallelGroup &group_;
    std::vector<torch::Tensor> parameters_;
    std::vector<Bucket> buckets_;
    std::vector<size_t> bucketOf_;  // of each parameter
    std::vector<char> hasGradient_; // of each parameter, this backward
    std::vector<unsigned> hooks_;   // of each parameter
    size_t nextBucket_ = 0;         // the next bucket to send (buckets go out in order)
    bool armed_ = false;
};

} // namespace sde
