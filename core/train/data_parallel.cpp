#include "train/data_parallel.h"

#include "train/agent_store.h"

#include "util/build_info.h"
#include "util/device.h"
#include "util/error.h"

#include <torch/cuda.h>
#include <torch/version.h>

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if TORCH_VERSION_MAJOR >= 2
#include <torch/csrc/distributed/c10d/Backend.hpp>
#else
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#endif
#if SDE_WITH_GLOO
// The header declares ProcessGroupGloo only where LibTorch was built with it.
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if SDE_WITH_NCCL
// Declared where USE_C10D_NCCL is defined: torch_cuda's interface defines it.
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <arpa/inet.h>
#include <mutex>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace sde {

namespace {

constexpr int kMostRanks = 4096;
constexpr auto kHeartbeatInterval = std::chrono::milliseconds(500);
constexpr auto kHeartbeatStoreTimeout = std::chrono::seconds(5);
// Ranks whose parameters differ by at most this much (relative to the largest magnitude) differ by
// rounding alone: ranks with different thread counts sum in different orders.
constexpr double kLargestRoundingDifference = 1e-4;

// LibTorch 2 runs collectives on a c10d::Backend; 1.13's ProcessGroupGloo is a ProcessGroup.
#if TORCH_VERSION_MAJOR >= 2
using Collectives = c10d::Backend;
#else
using Collectives = c10d::ProcessGroup;
#endif

std::string heartbeatKey(int rank)
{
    return "sdestudio/heartbeat/" + std::to_string(rank);
}

// The first line of a c10d message (LibTorch appends a C++ backtrace to some).
std::string firstLine(const std::string &text)
{
    const size_t end = text.find('\n');
    return end == std::string::npos ? text : text.substr(0, end);
}

// A whole number from the environment in [least, most]; nullopt when the variable is unset.
std::optional<int64_t> environmentNumber(const char *name, int64_t least, int64_t most)
{
    const char *text = std::getenv(name);
    if (text == nullptr)
        return std::nullopt;
    errno = 0;
    char *end = nullptr;
    const long long value = std::strtoll(text, &end, 10);
    if (*text == '\0' || *end != '\0' || errno == ERANGE || value < least || value > most)
        throw Error(std::string("the environment variable ") + name + " must be a whole number between " +
                    std::to_string(least) + " and " + std::to_string(most) + ", not '" + quoted(text) + "'");
    return value;
}

bool isLoopback(const std::string &address)
{
    return address == "localhost" || address == "::1" || address.rfind("127.", 0) == 0;
}

} // namespace

// The c10d objects of one rank: the job's store, a second client of it for the heartbeat, and
// the process group.
class DataParallelBackend {
public:
    c10::intrusive_ptr<c10d::Store> store;
    c10::intrusive_ptr<c10d::Store> heartbeatStore;
    std::mutex heartbeatMutex; // the heartbeat thread and a failure's diagnosis share heartbeatStore
    c10::intrusive_ptr<Collectives> collectives;
    bool agentStore = false; // the store is torchrun's agent's, not rank 0's
};

namespace {

class PendingWork : public DataParallelGroup::Pending {
public:
    PendingWork(DataParallelGroup &group, c10::intrusive_ptr<c10d::Work> work, std::vector<torch::Tensor> tensors)
        : group_(group), work_(std::move(work)), tensors_(std::move(tensors))
    {}
    void wait(const std::string &during) override
    {
        try {
            work_->wait();
        } catch (const std::exception &e) {
            group_.throwCommunicationFailure(e, during);
        }
    }

private:
    DataParallelGroup &group_;
    c10::intrusive_ptr<c10d::Work> work_;
    std::vector<torch::Tensor> tensors_; // kept alive while the collective runs
};

} // namespace

std::optional<DataParallelSettings> dataParallelSettingsFromEnvironment()
{
    const std::optional<int64_t> worldSize = environmentNumber("WORLD_SIZE", 1, kMostRanks);
    if (!worldSize || *worldSize == 1)
        return std::nullopt;
    DataParallelSettings settings;
    settings.worldSize = static_cast<int>(*worldSize);
    const char *address = std::getenv("MASTER_ADDR");
    if (address == nullptr || *address == '\0')
        throw Error("WORLD_SIZE is " + std::to_string(*worldSize) +
                    " but MASTER_ADDR is not set: give the address of rank 0's machine");
    settings.masterAddress = address;
    const std::optional<int64_t> port = environmentNumber("MASTER_PORT", 1, 65535);
    if (!port)
        throw Error("WORLD_SIZE is " + std::to_string(*worldSize) +
                    " but MASTER_PORT is not set: give a free TCP port on rank 0's machine");
    settings.masterPort = static_cast<int>(*port);
    const std::optional<int64_t> rank = environmentNumber("RANK", 0, *worldSize - 1);
    if (!rank)
        throw Error("WORLD_SIZE is " + std::to_string(*worldSize) + " but RANK is not set: give each process its rank");
    settings.rank = static_cast<int>(*rank);
    settings.localRank = static_cast<int>(environmentNumber("LOCAL_RANK", 0, *worldSize - 1).value_or(0));
    return settings;
}

bool dataParallelAvailable(const torch::Device &device, std::string *why)
{
    std::string reason;
    if (device.is_cuda()) {
#if SDE_WITH_NCCL
        return true;
#else
        reason = SDE_WITH_CUDA ? "this build's LibTorch has no NCCL: data-parallel training on CUDA devices needs it"
                               : "data-parallel training on CUDA devices (NCCL) needs the cuda flavor's build "
                                 "(LibTorch 2.x with CUDA); this build trains data-parallel on the CPU";
#endif
    } else {
#if SDE_WITH_GLOO
        return true;
#else
        reason = "this build has no Gloo: data-parallel training on the CPU needs the build with Debian's "
                 "LibTorch and libgloo-dev (the README's default build)";
#endif
    }
    if (why)
        *why = reason;
    return false;
}

torch::Device rankDevice(const std::string &name, const DataParallelSettings &settings)
{
    const torch::Device device = parseDevice(name);
    if (!device.is_cuda() || name.find(':') != std::string::npos)
        return device;
    const auto count = static_cast<int>(torch::cuda::device_count());
    // A process that sees one GPU was given its own (CUDA_VISIBLE_DEVICES, as Slurm's
    // --gpus-per-task sets it), whatever its LOCAL_RANK.
    if (count == 1)
        return parseDevice("cuda:0");
    if (settings.localRank >= count)
        throw Error("rank " + std::to_string(settings.rank) + " trains on the GPU of its LOCAL_RANK, " +
                    std::to_string(settings.localRank) + ", but this machine has " + std::to_string(count) +
                    " CUDA device(s): start at most one process a GPU on each machine");
    return parseDevice("cuda:" + std::to_string(settings.localRank));
}

int freeLoopbackPort()
{
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        throw Error(std::string("cannot open a socket to find a free port: ") + std::strerror(errno));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof address;
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr *>(&address), sizeof address) == 0 &&
                    ::getsockname(fd, reinterpret_cast<sockaddr *>(&address), &length) == 0;
    const int error = errno;
    ::close(fd);
    if (!ok)
        throw Error(std::string("cannot find a free port on 127.0.0.1: ") + std::strerror(error));
    return ntohs(address.sin_port);
}

std::vector<BatchSlice> rankMicroBatches(int64_t batchSize, int rank, int worldSize, int accumulation)
{
    if (worldSize < 1 || rank < 0 || rank >= worldSize || accumulation < 1)
        throw Error("rank " + std::to_string(rank) + " of " + std::to_string(worldSize) + " with " +
                    std::to_string(accumulation) + " micro-batches is not a valid split");
    const int64_t parts = static_cast<int64_t>(worldSize) * accumulation;
    if (batchSize < parts)
        throw Error("a batch of " + std::to_string(batchSize) + " cannot be split over " + std::to_string(worldSize) +
                    " process(es) x " + std::to_string(accumulation) + " micro-batch(es): give a batch of at least " +
                    std::to_string(parts));
    const int64_t begin = batchSize * rank / worldSize;
    const int64_t end = batchSize * (rank + 1) / worldSize;
    std::vector<BatchSlice> slices;
    for (int part = 0; part < accumulation; ++part)
        slices.push_back(
            {begin + (end - begin) * part / accumulation, begin + (end - begin) * (part + 1) / accumulation});
    return slices;
}

DataParallelGroup::DataParallelGroup(const DataParallelSettings &settings, const torch::Device &device)
    : settings_(settings), device_(device), backend_(std::make_shared<DataParallelBackend>())
{
    std::string why;
    if (!dataParallelAvailable(device, &why))
        throw Error(why);
    const std::string where = settings.masterAddress + ":" + std::to_string(settings.masterPort);
    const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(settings.timeout);
#if SDE_WITH_NCCL
    // NCCL: a blocking wait() throws when a collective fails or outlasts the timeout (which then
    // bounds every collective), so that the failure is told as on the CPU, naming the rank that
    // stopped; without it NCCL's watchdog ends the process with its own message. ProcessGroupNCCL
    // reads it when built; set before the store's threads start. A value the user set is kept.
    if (device.is_cuda())
        ::setenv("TORCH_NCCL_BLOCKING_WAIT", "1", 0);
#endif
    try {
        // Under torchrun (torchelastic) the launcher's agent already serves the store at
        // MASTER_ADDR:MASTER_PORT: every rank is a client of it, under the prefix of this attempt,
        // as torch.distributed does.
        const char *agentStore = std::getenv("TORCHELASTIC_USE_AGENT_STORE");
        const bool useAgentStore = agentStore != nullptr && std::string(agentStore) == "True";
        backend_->agentStore = useAgentStore;
        const char *attempt = std::getenv("TORCHELASTIC_RESTART_COUNT");
        const std::string prefix = "/worker/attempt_" + std::string(attempt != nullptr ? attempt : "0");
        const auto withPrefix = [&](c10::intrusive_ptr<c10d::Store> store) -> c10::intrusive_ptr<c10d::Store> {
            if (!useAgentStore)
                return store;
            return c10::make_intrusive<c10d::PrefixStore>(prefix, std::move(store));
        };
        const auto port = static_cast<std::uint16_t>(settings.masterPort);
#if TORCH_VERSION_MAJOR < 2
        if (useAgentStore) {
            // The agent of PyTorch 2.2 or later speaks a store protocol LibTorch 1.13's TCPStore
            // client predates (train/agent_store.h); an older agent speaks that client's, below.
            // Their query types agree from SET to GETNUMKEYS, which covers the ranks' set, get
            // and wait.
            c10::intrusive_ptr<AgentStoreClient> store;
            try {
                store = c10::make_intrusive<AgentStoreClient>(settings.masterAddress, port, timeout);
            } catch (const LegacyAgentStoreError &e) {
                spdlog::info("data-parallel: {}; rank {} speaks its protocol", e.what(), settings.rank);
            }
            // The heartbeat's client: a store that took the first client's validation takes its.
            if (store) {
                backend_->heartbeatStore = withPrefix(c10::make_intrusive<AgentStoreClient>(
                    settings.masterAddress, port,
                    std::chrono::duration_cast<std::chrono::milliseconds>(kHeartbeatStoreTimeout)));
                backend_->store = withPrefix(std::move(store));
            }
        }
#endif
        if (!backend_->store) {
            c10d::TCPStoreOptions options;
            options.port = port;
            options.isServer = settings.rank == 0 && !useAgentStore;
            options.numWorkers = static_cast<size_t>(settings.worldSize);
            options.waitWorkers = !useAgentStore;
            options.timeout = timeout;
            backend_->store = withPrefix(c10::make_intrusive<c10d::TCPStore>(settings.masterAddress, options));
            c10d::TCPStoreOptions heartbeat;
            heartbeat.port = options.port;
            heartbeat.waitWorkers = false;
            heartbeat.timeout = kHeartbeatStoreTimeout;
            backend_->heartbeatStore =
                withPrefix(c10::make_intrusive<c10d::TCPStore>(settings.masterAddress, heartbeat));
        }
        backend_->heartbeatStore->set(heartbeatKey(settings.rank), std::vector<uint8_t>{'0'});
    } catch (const std::exception &e) {
        throw Error("rank " + std::to_string(settings.rank) + " of " + std::to_string(settings.worldSize) +
                    " could not " + (settings.rank == 0 ? "open" : "reach") + " the job's store at " + where +
                    " (MASTER_ADDR, MASTER_PORT) within " + std::to_string(settings.timeout.count()) +
                    " s: " + firstLine(e.what()));
    }
    try {
#if SDE_WITH_GLOO
        if (!device.is_cuda()) {
            auto options = c10d::ProcessGroupGloo::Options::create(timeout);
            // Loopback for a job on one machine; else the interface GLOO_SOCKET_IFNAME names, or
            // the one this machine's hostname resolves to (as torch.distributed chooses).
            const char *interface = std::getenv("GLOO_SOCKET_IFNAME");
            if (isLoopback(settings.masterAddress))
                options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
            else if (interface != nullptr && *interface != '\0')
                options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(interface));
            else
                options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
            backend_->collectives = c10::make_intrusive<c10d::ProcessGroupGloo>(backend_->store, settings.rank,
                                                                                settings.worldSize, options);
        }
#endif
#if SDE_WITH_NCCL
        if (device.is_cuda()) {
            // One GPU a rank, current for NCCL's own allocations and streams too.
            if (!device.has_index())
                throw Error("data-parallel training on CUDA needs the rank's GPU (cuda:N), not \"" + device.str() +
                            "\"");
            c10::cuda::set_device(device.index());
            auto options = c10d::ProcessGroupNCCL::Options::create();
            options->timeout = timeout;
            backend_->collectives = c10::make_intrusive<c10d::ProcessGroupNCCL>(backend_->store, settings.rank,
                                                                                settings.worldSize, options);
            // The communicator now, not at the first collective: a rank that cannot join is told
            // here, as a failed rendezvous.
            backend_->collectives->setBoundDeviceId(device);
            backend_->collectives->eagerConnectSingleDevice(device);
        }
#endif
        if (!backend_->collectives)
            throw Error(why.empty() ? "no data-parallel backend for " + device.str() : why);
    } catch (const Error &) {
        throw;
    } catch (const std::exception &e) {
        throw Error("rank " + std::to_string(settings.rank) + " of " + std::to_string(settings.worldSize) +
                    " could not join the process group through " + where + " within " +
                    std::to_string(settings.timeout.count()) + " s: " + firstLine(e.what()));
    }
    heartbeat_ = std::thread([this] { beat(); });
    spdlog::info("data-parallel: rank {} of {} joined through {}", settings.rank, settings.worldSize, where);
}

DataParallelGroup::~DataParallelGroup()
{
    stopHeartbeat_ = true;
    if (heartbeat_.joinable())
        heartbeat_.join();
#if SDE_WITH_NCCL
    // NCCL's communicators are closed, not left to the process's exit: gracefully after a run,
    // aborted after a failure (a graceful close would wait for ranks that are gone).
    if (device_.is_cuda() && backend_->collectives) {
        try {
            if (failed_)
                backend_->collectives->abort();
            else
                backend_->collectives->shutdown();
        } catch (const std::exception &e) {
            spdlog::warn("data-parallel: closing the NCCL communicator: {}", firstLine(e.what()));
        }
    }
#endif
}

void DataParallelGroup::beat()
{
    while (!stopHeartbeat_) {
        {
            std::lock_guard<std::mutex> lock(backend_->heartbeatMutex);
            const std::string count = std::to_string(++beats_);
            try {
                backend_->heartbeatStore->set(heartbeatKey(settings_.rank),
                                              std::vector<uint8_t>(count.begin(), count.end()));
            } catch (const std::exception &) {
                // The store is gone (rank 0 ended): a failure's diagnosis says so.
            }
        }
        for (auto waited = std::chrono::milliseconds(0); waited < kHeartbeatInterval && !stopHeartbeat_;
             waited += std::chrono::milliseconds(50))
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

void DataParallelGroup::throwCommunicationFailure(const std::exception &failure, const std::string &during)
{
    failed_ = true;
    const std::string cause = firstLine(failure.what());
    const std::string prefix = "data-parallel training stopped during " + during + " (rank " +
                               std::to_string(settings_.rank) + " of " + std::to_string(settings_.worldSize) + "): ";
    // Two readings of every rank's heartbeat a few beats apart: a rank whose count stood still has
    // ended. (A rank that hangs still beats: the message then names no rank.) A store that cannot
    // be read means rank 0, which holds it, has ended.
    auto readBeats = [&] {
        std::vector<std::string> beats(static_cast<size_t>(settings_.worldSize));
        std::lock_guard<std::mutex> lock(backend_->heartbeatMutex);
        for (int rank = 0; rank < settings_.worldSize; ++rank) {
            const std::vector<uint8_t> value = backend_->heartbeatStore->get(heartbeatKey(rank));
            beats[static_cast<size_t>(rank)] = std::string(value.begin(), value.end());
        }
        return beats;
    };
    std::vector<int> silent;
    bool storeLost = false;
    try {
        const std::vector<std::string> first = readBeats();
        std::this_thread::sleep_for(4 * kHeartbeatInterval);
        const std::vector<std::string> second = readBeats();
        for (int rank = 0; rank < settings_.worldSize; ++rank)
            if (rank != settings_.rank && first[static_cast<size_t>(rank)] == second[static_cast<size_t>(rank)])
                silent.push_back(rank);
    } catch (const std::exception &) {
        storeLost = true;
    }
    std::string who;
    if (storeLost && backend_->agentStore) {
        who = "the launcher's store at " + settings_.masterAddress + ":" + std::to_string(settings_.masterPort) +
              " stopped answering (the launcher ended the job, or its node is gone)";
    } else if (storeLost && settings_.rank != 0) {
        who = "rank 0 stopped answering (its process ended; it held the job's store at " + settings_.masterAddress +
              ":" + std::to_string(settings_.masterPort) + ")";
    } else if (!silent.empty()) {
        std::string list;
        for (size_t i = 0; i < silent.size(); ++i)
            list += (i == 0 ? "" : i + 1 == silent.size() ? " and " : ", ") + std::to_string(silent[i]);
        who = std::string(silent.size() == 1 ? "rank " : "ranks ") + list + " stopped answering (" +
              (silent.size() == 1 ? "its process ended)" : "their processes ended)");
    } else {
        who = "another rank stopped answering, or did not answer within the timeout of " +
              std::to_string(settings_.timeout.count()) + " s";
    }
    throw Error(prefix + who + "; resume the job from its last checkpoint with --resume [c10d: " + cause + "]");
}

void DataParallelGroup::allReduce(std::vector<torch::Tensor> &tensors, bool largest, const std::string &during)
{
    // NCCL reduces device tensors only: a tensor elsewhere (the trainer's step figures, on the
    // CPU) travels through a copy on the group's device and gets the result back.
    std::vector<torch::Tensor> staged;
    for (const torch::Tensor &t : tensors)
        staged.push_back(t.device() == device_ ? t : t.to(device_));
    try {
        c10d::AllreduceOptions options;
        if (largest)
            options.reduceOp = c10d::ReduceOp::MAX;
        backend_->collectives->allreduce(staged, options)->wait();
    } catch (const Error &) {
        throw;
    } catch (const std::exception &e) {
        throwCommunicationFailure(e, during);
    }
    for (size_t i = 0; i < tensors.size(); ++i)
        if (!staged[i].is_same(tensors[i]))
            tensors[i].copy_(staged[i]);
}

void DataParallelGroup::allReduceSum(std::vector<torch::Tensor> &tensors, const std::string &during)
{
    allReduce(tensors, false, during);
}

void DataParallelGroup::allReduceMax(std::vector<torch::Tensor> &tensors, const std::string &during)
{
    allReduce(tensors, true, during);
}

std::unique_ptr<DataParallelGroup::Pending> DataParallelGroup::startAllReduceSum(torch::Tensor tensor)
{
    std::vector<torch::Tensor> tensors{std::move(tensor)};
    try {
        c10::intrusive_ptr<c10d::Work> work = backend_->collectives->allreduce(tensors);
        return std::make_unique<PendingWork>(*this, std::move(work), std::move(tensors));
    } catch (const std::exception &e) {
        throwCommunicationFailure(e, "a gradient all-reduce");
    }
}

void DataParallelGroup::synchronizeParameters(const std::vector<torch::Tensor> &parameters, int64_t step)
{
    torch::NoGradGuard noGrad;
    const std::string during = "the parameter check of step " + std::to_string(step);
    std::vector<torch::Tensor> flat;
    for (const auto &p : parameters)
        flat.push_back(p.detach().reshape({-1}));
    const torch::Tensor own = torch::cat(flat);
    std::vector<torch::Tensor> rankZero{own.clone()};
    try {
        c10d::BroadcastOptions options;
        options.rootRank = 0;
        backend_->collectives->broadcast(rankZero, options)->wait();
    } catch (const Error &) {
        throw;
    } catch (const std::exception &e) {
        throwCommunicationFailure(e, during);
    }
    const double scale = std::max(rankZero.front().abs().max().item<double>(), 1e-12);
    std::vector<torch::Tensor> difference{
        ((own - rankZero.front()).abs().max() / scale).to(torch::kDouble).reshape({1})};
    allReduceMax(difference, during);
    const double largest = difference.front().item<double>();
    if (!(largest <= kLargestRoundingDifference)) {
        char text[64];
        std::snprintf(text, sizeof text, "%.3g", largest);
        throw Error("the ranks' parameters differ at step " + std::to_string(step) + " (by " + text +
                    " of their largest magnitude): the job stops; were all ranks started with the same config and "
                    "checkpoint?");
    }
    // Within rounding: every rank goes on with rank 0's values.
    int64_t offset = 0;
    for (const auto &p : parameters) {
        p.detach().copy_(rankZero.front().narrow(0, offset, p.numel()).view_as(p));
        offset += p.numel();
    }
}

void DataParallelGroup::agreeOn(const std::vector<std::pair<std::string, int64_t>> &settings)
{
    std::vector<int64_t> values;
    for (const auto &entry : settings)
        values.push_back(entry.second);
    for (const auto &entry : settings)
        values.push_back(-entry.second);
    std::vector<torch::Tensor> extremes{torch::tensor(values, torch::dtype(torch::kLong))};
    allReduceMax(extremes, "the start (comparing the ranks' settings)");
    const torch::Tensor result = extremes.front();
    std::string differing;
    for (size_t i = 0; i < settings.size(); ++i) {
        const int64_t largest = result[static_cast<int64_t>(i)].item<int64_t>();
        const int64_t smallest = -result[static_cast<int64_t>(i + settings.size())].item<int64_t>();
        if (largest != smallest && (", " + differing + ", ").find(", " + settings[i].first + ", ") == std::string::npos)
            differing += (differing.empty() ? "" : ", ") + settings[i].first;
    }
    if (!differing.empty())
        throw Error("the ranks of the job were started with different settings (" + differing +
                    "): start every rank with the same command");
}

GradientReducer::GradientReducer(DataParallelGroup &group, std::vector<torch::Tensor> parameters, int64_t bucketBytes)
    : group_(group), parameters_(std::move(parameters))
{
    bucketOf_.assign(parameters_.size(), 0);
    hasGradient_.assign(parameters_.size(), 0);
    // Reverse order: backward computes the last layers' gradients first.
    int64_t bytes = 0;
    for (size_t k = parameters_.size(); k-- > 0;) {
        const torch::Tensor &p = parameters_[k];
        const int64_t size = p.numel() * static_cast<int64_t>(p.element_size());
        if (buckets_.empty() || (bytes > 0 && bytes + size > bucketBytes)) {
            buckets_.emplace_back();
            bytes = 0;
        }
        Bucket &bucket = buckets_.back();
        bucket.offsets.push_back(
            bucket.parameters.empty() ? 0 : bucket.offsets.back() + parameters_[bucket.parameters.back()].numel());
        bucket.parameters.push_back(k);
        bucketOf_[k] = buckets_.size() - 1;
        bytes += size;
    }
    for (Bucket &bucket : buckets_) {
        const torch::Tensor &last = parameters_[bucket.parameters.back()];
        bucket.flat = torch::zeros({bucket.offsets.back() + last.numel()}, last.options());
    }
    for (size_t k = 0; k < parameters_.size(); ++k)
        hooks_.push_back(parameters_[k].register_hook([this, k](torch::Tensor gradient) { onGradient(k, gradient); }));
}

GradientReducer::~GradientReducer()
{
    for (size_t k = 0; k < hooks_.size(); ++k)
        parameters_[k].remove_hook(hooks_[k]);
}

void GradientReducer::arm()
{
    torch::NoGradGuard noGrad;
    for (Bucket &bucket : buckets_) {
        bucket.flat.zero_();
        bucket.ready = 0;
        bucket.pending.reset();
    }
    std::fill(hasGradient_.begin(), hasGradient_.end(), 0);
    nextBucket_ = 0;
    armed_ = true;
}

void GradientReducer::onGradient(size_t parameter, const torch::Tensor &gradient)
{
    if (!armed_ || hasGradient_[parameter])
        return;
    torch::NoGradGuard noGrad;
    Bucket &bucket = buckets_[bucketOf_[parameter]];
    size_t slot = 0;
    while (bucket.parameters[slot] != parameter)
        ++slot;
    const torch::Tensor &p = parameters_[parameter];
    torch::Tensor view = bucket.flat.narrow(0, bucket.offsets[slot], p.numel());
    // The hook sees this backward's gradient before it is added to .grad, which holds the
    // micro-batches before it.
    if (p.grad().defined())
        view.copy_((p.grad() + gradient).reshape({-1}));
    else
        view.copy_(gradient.reshape({-1}));
    hasGradient_[parameter] = 1;
    if (++bucket.ready == bucket.parameters.size())
        launchReadyBuckets();
}

void GradientReducer::launchReadyBuckets()
{
    while (nextBucket_ < buckets_.size() && buckets_[nextBucket_].ready == buckets_[nextBucket_].parameters.size()) {
        buckets_[nextBucket_].pending = group_.startAllReduceSum(buckets_[nextBucket_].flat);
        ++nextBucket_;
    }
}

void GradientReducer::finish(const std::string &during)
{
    armed_ = false;
    torch::NoGradGuard noGrad;
    // A parameter without a gradient in this backward sends what earlier micro-batches left in
    // its .grad, or zeros.
    for (; nextBucket_ < buckets_.size(); ++nextBucket_) {
        Bucket &bucket = buckets_[nextBucket_];
        for (size_t slot = 0; slot < bucket.parameters.size(); ++slot) {
            const torch::Tensor &p = parameters_[bucket.parameters[slot]];
            if (!hasGradient_[bucket.parameters[slot]] && p.grad().defined())
                bucket.flat.narrow(0, bucket.offsets[slot], p.numel()).copy_(p.grad().reshape({-1}));
        }
        bucket.pending = group_.startAllReduceSum(bucket.flat);
    }
    for (Bucket &bucket : buckets_) {
        bucket.pending->wait(during);
        bucket.pending.reset();
        for (size_t slot = 0; slot < bucket.parameters.size(); ++slot) {
            const size_t k = bucket.parameters[slot];
            torch::Tensor &p = parameters_[k];
            if (!hasGradient_[k] && !p.grad().defined())
                continue;
            torch::Tensor sum = bucket.flat.narrow(0, bucket.offsets[slot], p.numel()).view_as(p);
            if (p.grad().defined())
                p.mutable_grad().copy_(sum);
            else
                p.mutable_grad() = sum.clone();
        }
    }
}

} // namespace sde
