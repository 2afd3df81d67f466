#include "rank_launcher.h"

#include "train/data_parallel.h"
#include "util/error.h"
#include "util/files.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace sde::cli {

namespace {

// Ranks still running this long after one failed are ended: a rank that lost a peer after the
// rendezvous stops within seconds on its own, but one still waiting to meet a peer that never came
// would wait for its whole --timeout.
constexpr auto kGracePeriod = std::chrono::seconds(15);

// This process's arguments as the kernel holds them, without --nproc and its value.
std::vector<std::string> argumentsWithoutNproc()
{
    const std::string text = readFile("/proc/self/cmdline");
    std::vector<std::string> arguments;
    for (size_t start = 0; start < text.size();) {
        const size_t end = text.find('\0', start);
        arguments.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
        if (end == std::string::npos)
            break;
        start = end + 1;
    }
    std::vector<std::string> kept;
    for (size_t i = 0; i < arguments.size(); ++i) {
        if (arguments[i] == "--nproc") {
            ++i; // its value
            continue;
        }
        if (arguments[i].rfind("--nproc=", 0) == 0)
            continue;
        kept.push_back(arguments[i]);
    }
    return kept;
}

std::string describeStatus(int status)
{
    if (WIFSIGNALED(status)) {
        const int signal = WTERMSIG(status);
        const char *name = ::strsignal(signal);
        return "was killed by signal " + std::to_string(signal) + (name ? std::string(" (") + name + ")" : "");
    }
    return "exited with status " + std::to_string(WEXITSTATUS(status));
}

volatile std::sig_atomic_t interrupted = 0;
volatile std::sig_atomic_t toForward = 0; // a stop signal received but not yet passed on
extern "C" void onStopSignal(int)
{
    interrupted = 1;
    toForward = 1;
}

} // namespace

int launchLocalRanks(int count, bool threadsGiven)
{
    if (std::getenv("WORLD_SIZE") != nullptr)
        throw Error("--nproc starts a job of its own; inside a launched job (WORLD_SIZE is set) leave it out");
    const std::vector<std::string> arguments = argumentsWithoutNproc();
    const std::string port = std::to_string(freeLoopbackPort());
    const unsigned cores = std::max(1U, std::thread::hardware_concurrency());
    const std::string threads = std::to_string(std::max(1U, cores / static_cast<unsigned>(count)));

    // Ctrl+C, SIGTERM (scancel, timeout) and SIGHUP (a closed terminal) stop the job the way
    // Ctrl+C stops a run: passed on to every rank as SIGINT, the ranks agree on a step, stop after
    // it and write a checkpoint; the launcher waits for them. (From a terminal the ranks get
    // Ctrl+C themselves too: a second SIGINT changes nothing.)
    struct sigaction stop {};
    stop.sa_handler = onStopSignal;
    sigemptyset(&stop.sa_mask);
    const int stopSignals[] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction previous[3]{};
    for (int i = 0; i < 3; ++i)
        ::sigaction(stopSignals[i], &stop, &previous[i]);
    const auto restoreSignals = [&] {
        for (int i = 0; i < 3; ++i)
            ::sigaction(stopSignals[i], &previous[i], nullptr);
    };
    // A rank ends when the launcher does, even when the launcher is killed (see train_command).
    const std::string launcher = std::string(kLauncherVariable) + "=" + std::to_string(::getpid());

    std::vector<pid_t> pids; // negated once the rank has ended
    std::vector<int> statuses;
    auto endAll = [&](int signal) {
        for (pid_t pid : pids)
            if (pid > 0)
                ::kill(pid, signal);
    };
    for (int rank = 0; rank < count; ++rank) {
        std::vector<std::string> environment;
        for (char **entry = environ; *entry != nullptr; ++entry) {
            const std::string variable = *entry;
            static const char *ours[] = {
                "MASTER_ADDR=",      "MASTER_PORT=",           "WORLD_SIZE=", "RANK=", "LOCAL_RANK=",
                "LOCAL_WORLD_SIZE=", "SDESTUDIO_LAUNCHER_PID="};
            if (std::none_of(std::begin(ours), std::end(ours),
                             [&](const char *prefix) { return variable.rfind(prefix, 0) == 0; }))
                environment.push_back(variable);
        }
        environment.push_back("MASTER_ADDR=127.0.0.1");
        environment.push_back("MASTER_PORT=" + port);
        environment.push_back("WORLD_SIZE=" + std::to_string(count));
        environment.push_back("RANK=" + std::to_string(rank));
        environment.push_back("LOCAL_RANK=" + std::to_string(rank));
        environment.push_back("LOCAL_WORLD_SIZE=" + std::to_string(count));
        environment.push_back(launcher);
        if (!threadsGiven && std::getenv("OMP_NUM_THREADS") == nullptr)
            environment.push_back("OMP_NUM_THREADS=" + threads);
        std::vector<char *> argv, envp;
        for (const auto &argument : arguments)
            argv.push_back(const_cast<char *>(argument.c_str()));
        argv.push_back(nullptr);
        for (const auto &variable : environment)
            envp.push_back(const_cast<char *>(variable.c_str()));
        envp.push_back(nullptr);
        pid_t pid = 0;
        const int error = ::posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv.data(), envp.data());
        if (error != 0) {
            endAll(SIGTERM);
            for (pid_t started : pids)
                ::waitpid(started, nullptr, 0);
            restoreSignals();
            throw Error("cannot start rank " + std::to_string(rank) + ": " + std::strerror(error));
        }
        pids.push_back(pid);
        statuses.push_back(0);
    }

    int firstFailure = -1; // the rank that failed first
    std::chrono::steady_clock::time_point deadline;
    bool terminated = false;
    for (size_t running = pids.size(); running > 0;) {
        if (toForward != 0) {
            toForward = 0;
            endAll(SIGINT);
        }
        for (size_t rank = 0; rank < pids.size(); ++rank) {
            if (pids[rank] <= 0)
                continue;
            int status = 0;
            const pid_t pid = ::waitpid(pids[rank], &status, WNOHANG);
            if (pid == 0 || (pid < 0 && errno == EINTR))
                continue;
            if (pid < 0) // not a child to wait for any more
                status = 1 << 8;
            pids[rank] = -pids[rank];
            --running;
            // A rank that stopped on request: exit 130, or killed by SIGINT before its run began.
            const bool stoppedOnRequest = interrupted && ((WIFEXITED(status) && WEXITSTATUS(status) == 130) ||
                                                          (WIFSIGNALED(status) && WTERMSIG(status) == SIGINT));
            statuses[rank] = stoppedOnRequest ? 130 << 8 : status;
            if (stoppedOnRequest || (WIFEXITED(status) && WEXITSTATUS(status) == 0))
                continue;
            // A rank that exited with a status printed its own error; one killed could not.
            if (WIFSIGNALED(status))
                std::cerr << "rank " << rank << " (pid " << -pids[rank] << ") " << describeStatus(status) << "\n";
            if (firstFailure < 0) {
                firstFailure = static_cast<int>(rank);
                deadline = std::chrono::steady_clock::now() + kGracePeriod;
            }
        }
        if (running > 0 && firstFailure >= 0 && std::chrono::steady_clock::now() > deadline) {
            if (!terminated) {
                std::cerr << "ending the ranks still running " << kGracePeriod.count() << " s after rank "
                          << firstFailure << " failed\n";
                endAll(SIGTERM);
                terminated = true;
                deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
            } else {
                endAll(SIGKILL);
            }
        }
        if (running > 0)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    restoreSignals();

    if (firstFailure >= 0) {
        const int status = statuses[static_cast<size_t>(firstFailure)];
        return WIFEXITED(status) && WEXITSTATUS(status) != 0 ? WEXITSTATUS(status) : 1;
    }
    for (int status : statuses)
        if (WIFEXITED(status) && WEXITSTATUS(status) == 130)
            return 130;
    return 0;
}

} // namespace sde::cli
