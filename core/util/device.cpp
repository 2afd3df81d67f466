#include "util/device.h"

#include "util/cuda_support.h"
#include "util/error.h"
#include "util/thread_share.h"

#include <torch/cuda.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

namespace sde {

torch::Device parseDevice(const std::string &name)
{
    if (name == "auto") {
        if (!torch::cuda::is_available())
            return torch::kCPU;
        configureCudaMath();
        return torch::Device(torch::kCUDA, 0);
    }
    if (name == "cpu")
        return torch::kCPU;
    if (name.rfind("cuda", 0) == 0) {
        if (!torch::cuda::is_available())
            throw Error("device \"" + name + "\" was requested, but " +
                        (torch::cuda::device_count() == 0 ? "no CUDA GPU is available to this build of LibTorch"
                                                          : "CUDA is not available") +
                        "; use --device cpu");
        int index = 0;
        if (name.size() > 4) {
            if (name[4] != ':')
                throw Error("unknown device \"" + name + "\" (expected cpu, cuda, cuda:N or auto)");
            try {
                index = std::stoi(name.substr(5));
            } catch (...) {
                throw Error("unknown device \"" + name + "\" (expected cpu, cuda, cuda:N or auto)");
            }
        }
        if (index < 0 || index >= static_cast<int>(torch::cuda::device_count()))
            throw Error("device \"" + name + "\" does not exist: " + std::to_string(torch::cuda::device_count()) +
                        " CUDA device(s) present");
        configureCudaMath();
        return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
    }
    throw Error("unknown device \"" + name + "\" (expected cpu, cuda, cuda:N or auto)");
}

int configureThreads(int requested)
{
    int threads = requested;
    if (threads <= 0) {
        if (const char *env = std::getenv("OMP_NUM_THREADS"))
            threads = std::atoi(env);
    }
    const bool given = threads > 0;
    if (threads <= 0)
        threads = static_cast<int>(std::thread::hardware_concurrency());
    threads = std::min(threads, kMostThreads);
    if (threads > 0)
        at::set_num_threads(threads);
    // The runs that compute at once share this count (util/thread_share.h); one not given is
    // also shared with busy processes, read from the process's start on.
    setThreadBudget(at::get_num_threads(), given, /*sinceProcessStart=*/true);
    return at::get_num_threads();
}

int takeStartShare()
{
    const int share = runShareNow();
    if (share > 0 && share != at::get_num_threads())
        at::set_num_threads(share);
    return at::get_num_threads();
}

int runThisThreadSerially()
{
    // ATen gives each thread its count on the thread's first parallel call, from a process-wide
    // default that at::set_num_threads also sets: this thread's is settled first, then set to one,
    // with the default put back for the others.
    const int others = at::get_num_threads();
    try {
        setThisThreadsCount(1, others);
    } catch (...) {
        at::set_num_threads(others); // no thread to spare: this one keeps the count as well
        throw;
    }
    return others;
}

} // namespace sde
