#include "util/thread_share.h"

#include <ATen/Parallel.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <fstream>
#include <istream>
#include <iterator>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include <fcntl.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

// The start-up reading's time is compared with steady_clock's, which must be CLOCK_MONOTONIC.
#if defined(__GLIBCXX__) && !defined(_GLIBCXX_USE_CLOCK_MONOTONIC)
#error "steady_clock is not CLOCK_MONOTONIC in this C++ library: BusyCoresMeter::sinceProcessStart needs it"
#endif

namespace sde {

namespace {

using Clock = std::chrono::steady_clock;

// What configureThreads decided, the runs alive and the last measurement of the others' load.
struct Budget {
    std::mutex mutex;
    int configured = 0; // 0: not configured, the runs leave the counts alone
    bool given = false;
    int runs = 0;
    double busyElsewhere = 0.0;
    std::optional<BusyCoresMeter> meter;
    Clock::time_point measured;
    uint64_t measurement = 0; // how many measurements were taken
    bool firstReading = true; // none taken since the meter was made
};

Budget &budget()
{
    static Budget instance;
    return instance;
}

// The ThreadShare objects alive on this thread (the outermost one is the run).
thread_local int sharesOnThisThread = 0;

constexpr auto kMeasureEvery = std::chrono::milliseconds(250);
// The first reading comes sooner: a run that starts beside a busy process (the CLI a moment after
// configureThreads) drops its extra thread within its first steps. The kernel counts in ticks of
// 10 ms, so a tenth of a second already tells a busy core from an idle one.
constexpr auto kFirstMeasureAfter = std::chrono::milliseconds(100);
// A reading over at most this long before a run starts alone still tells the load it starts into.
constexpr auto kRecentEnough = std::chrono::seconds(2);
// The reading at the process's start tells the load of its start-up for at most this long (a slow
// start under a sanitizer takes a few seconds); later budgets measure afresh.
constexpr auto kStartUpAtMost = std::chrono::seconds(10);

// The non-nice busy ticks of the CPUs this process may run on, from the text of /proc/stat; of the
// whole machine when the affinity mask or the per-CPU lines cannot be read.
std::optional<uint64_t> busyTicksOf(std::istream &procStat)
{
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    const bool affinity = sched_getaffinity(0, sizeof allowed, &allowed) == 0;
    std::string line;
    std::optional<uint64_t> machine;
    uint64_t allowedBusy = 0;
    bool anyAllowed = false;
    while (std::getline(procStat, line) && line.rfind("cpu", 0) == 0) {
        const std::optional<CpuTicks> ticks = cpuBusyTicks(line);
        if (!ticks)
            continue;
        if (ticks->cpu < 0) {
            machine = ticks->busy;
        } else if (affinity && ticks->cpu < CPU_SETSIZE && CPU_ISSET(ticks->cpu, &allowed)) {
            allowedBusy += ticks->busy;
            anyAllowed = true;
        }
    }
    return anyAllowed ? std::optional<uint64_t>(allowedBusy) : machine;
}

// This process's ticks as the machine's busy count holds them, from the text of /proc/self/stat:
// a niced process's user time is counted as nice, so then only its system time.
std::optional<uint64_t> ownTicksOf(const std::string &selfStat)
{
    const std::optional<ProcessTicks> ticks = processTicks(selfStat);
    if (!ticks)
        return std::nullopt;
    errno = 0;
    const int niceness = getpriority(PRIO_PROCESS, 0);
    return niceness > 0 && errno == 0 ? ticks->system : ticks->user + ticks->system;
}

std::optional<uint64_t> readBusyTicks()
{
    std::ifstream file("/proc/stat");
    return busyTicksOf(file);
}

std::optional<uint64_t> readOwnTicks()
{
    std::ifstream file("/proc/self/stat");
    return ownTicksOf(std::string((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>()));
}

// The counters as the process started: the text of /proc/stat and /proc/self/stat and the
// monotonic clock, read before the shared libraries' initialisers run (LibTorch's take a fifth to
// a third of a second on the two-core machine, during which this process computes on one
// thread). Read with system calls alone into static storage: the C++ library is not initialised
// yet. Parsed when a budget is set (sinceProcessStart).
struct StartReading {
    char machine[1 << 16]; // the cpu lines come first; a longer file is cut
    size_t machineSize;
    char self[4096];
    size_t selfSize;
    timespec when;
    bool read;
};
StartReading startReading; // zero before anything runs (static storage)

// System calls made directly, without the C library's wrappers (nor a sanitizer's interceptors of
// them): nothing of the libraries' own set-up is assumed before their initialisers have run.
size_t readWhole(const char *path, char *text, size_t capacity)
{
    const long fd = ::syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    size_t size = 0;
    while (size < capacity) {
        const long got = ::syscall(SYS_read, fd, text + size, capacity - size);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        size += static_cast<size_t>(got);
    }
    ::syscall(SYS_close, fd);
    return size;
}

// Not instrumented: it runs before the sanitizers' own initialisers may have.
__attribute__((no_sanitize("address", "undefined"))) void readCountersAtStart(int, char **, char **)
{
    StartReading &r = startReading;
    if (::syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &r.when) != 0)
        return;
    r.machineSize = readWhole("/proc/stat", r.machine, sizeof r.machine);
    r.selfSize = readWhole("/proc/self/stat", r.self, sizeof r.self);
    r.read = r.machineSize > 0 && r.selfSize > 0;
}

// An executable's .preinit_array functions run before any shared library's initialisers (ELF;
// glibc calls them first). This file is part of every program that shares the cores, linked from
// the static library sde_core: a shared library may not have a .preinit_array (the linker refuses
// it), so sde_core must stay static (core/CMakeLists.txt).
__attribute__((section(".preinit_array"), used)) void (*const readCountersAtStartEntry)(int, char **,
                                                                                        char **) = readCountersAtStart;

} // namespace

std::optional<CpuTicks> cpuBusyTicks(const std::string &line)
{
    std::istringstream stat(line);
    std::string name;
    uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
    if (!(stat >> name >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal) ||
        name.rfind("cpu", 0) != 0)
        return std::nullopt;
    CpuTicks ticks;
    ticks.busy = user + system + irq + softirq + steal;
    if (name.size() > 3) {
        const std::string number = name.substr(3);
        if (number.size() > 6 ||
            !std::all_of(number.begin(), number.end(), [](char c) { return c >= '0' && c <= '9'; }))
            return std::nullopt;
        ticks.cpu = std::stoi(number);
    }
    return ticks;
}

std::optional<ProcessTicks> processTicks(const std::string &statLine)
{
    // The command name may hold spaces and parentheses: the fields start after the last ')'.
    const size_t end = statLine.rfind(')');
    if (end == std::string::npos || end + 2 > statLine.size())
        return std::nullopt;
    std::istringstream fields(statLine.substr(end + 1));
    std::string field;
    for (int i = 3; i <= 13; ++i)
        if (!(fields >> field))
            return std::nullopt;
    ProcessTicks ticks;
    if (!(fields >> ticks.user >> ticks.system))
        return std::nullopt;
    return ticks;
}

double busyCoresBetween(uint64_t busyBefore, uint64_t ownBefore, uint64_t busyAfter, uint64_t ownAfter, double seconds,
                        double ticksPerSecond)
{
    if (seconds <= 0.0 || ticksPerSecond <= 0.0 || busyAfter < busyBefore || ownAfter < ownBefore)
        return 0.0;
    const double others = static_cast<double>(busyAfter - busyBefore) - static_cast<double>(ownAfter - ownBefore);
    return std::max(0.0, others / ticksPerSecond / seconds);
}

int sharedThreadCount(int configured, int runs, double busyElsewhere)
{
    const int busy = static_cast<int>(std::floor(std::max(0.0, busyElsewhere) + 0.5));
    return std::max(1, (configured - busy) / std::max(1, runs));
}

BusyCoresMeter::BusyCoresMeter() : when_(Clock::now())
{
    const std::optional<uint64_t> busy = readBusyTicks();
    const std::optional<uint64_t> self = readOwnTicks();
    if (busy && self) {
        busy_ = *busy;
        self_ = *self;
        read_ = true;
    }
}

std::optional<BusyCoresMeter> BusyCoresMeter::sinceProcessStart()
{
    const StartReading &r = startReading;
    if (!r.read)
        return std::nullopt;
    // Only the complete lines of a file that was cut.
    std::string machine(r.machine, r.machineSize);
    if (r.machineSize == sizeof r.machine) {
        const size_t lastEnd = machine.find_last_of('\n');
        machine.erase(lastEnd == std::string::npos ? 0 : lastEnd + 1);
    }
    std::istringstream machineStat(machine);
    const std::optional<uint64_t> busy = busyTicksOf(machineStat);
    const std::optional<uint64_t> self = ownTicksOf(std::string(r.self, r.selfSize));
    if (!busy || !self)
        return std::nullopt;
    // libstdc++'s steady_clock is CLOCK_MONOTONIC (checked where this file is compiled, above).
    const Clock::time_point when(std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(r.when.tv_sec) +
                                                                             std::chrono::nanoseconds(r.when.tv_nsec)));
    if (when > Clock::now())
        return std::nullopt;
    return BusyCoresMeter(*busy, *self, when);
}

BusyCoresMeter::BusyCoresMeter(uint64_t busy, uint64_t self, std::chrono::steady_clock::time_point when)
    : busy_(busy), self_(self), read_(true), when_(when)
{}

std::chrono::steady_clock::time_point BusyCoresMeter::since() const
{
    return when_;
}

double BusyCoresMeter::update()
{
    const std::optional<uint64_t> busy = readBusyTicks();
    const std::optional<uint64_t> self = readOwnTicks();
    if (!busy || !self)
        return 0.0; // the previous reading stays the base of the next
    const Clock::time_point now = Clock::now();
    const double cores =
        read_ ? busyCoresBetween(busy_, self_, *busy, *self, std::chrono::duration<double>(now - when_).count(),
                                 static_cast<double>(sysconf(_SC_CLK_TCK)))
              : 0.0;
    busy_ = *busy;
    self_ = *self;
    read_ = true;
    when_ = now;
    return cores;
}

void setThreadBudget(int configured, bool given, bool sinceProcessStart)
{
    Budget &b = budget();
    const std::lock_guard<std::mutex> lock(b.mutex);
    b.configured = configured;
    b.given = given;
    b.busyElsewhere = 0.0;
    b.meter.reset();
    b.firstReading = true;
    const Clock::time_point now = Clock::now();
    b.measured = now;
    if (given)
        return;
    std::optional<BusyCoresMeter> start;
    if (sinceProcessStart)
        start = BusyCoresMeter::sinceProcessStart();
    if (start && now - start->since() >= kFirstMeasureAfter && now - start->since() <= kStartUpAtMost) {
        // The load since the process started: its first run starts with its share.
        b.meter = std::move(start);
        b.busyElsewhere = b.meter->update();
        b.firstReading = false;
        ++b.measurement;
    } else {
        b.meter.emplace();
    }
}

int runShareNow()
{
    Budget &b = budget();
    const std::lock_guard<std::mutex> lock(b.mutex);
    if (b.configured <= 0)
        return 0;
    return sharedThreadCount(b.configured, b.runs + 1, b.given ? 0.0 : b.busyElsewhere);
}

int sharingRuns()
{
    Budget &b = budget();
    const std::lock_guard<std::mutex> lock(b.mutex);
    return b.runs;
}

void setThisThreadsCount(int threads, int processDefault)
{
    at::set_num_threads(threads);
    if (threads == processDefault)
        return;
    std::thread([processDefault] {
        at::get_num_threads(); // settles this thread's count from the default first
        at::set_num_threads(processDefault);
    }).join();
}

ThreadShare::ThreadShare() : counted_(sharesOnThisThread++ == 0), before_(at::get_num_threads()), threads_(before_)
{
    if (!counted_)
        return;
    Budget &b = budget();
    const std::lock_guard<std::mutex> lock(b.mutex);
    if (b.runs++ == 0 && b.meter) {
        const Clock::time_point now = Clock::now();
        const auto since = now - b.measured;
        if (since >= kFirstMeasureAfter && since <= kRecentEnough) {
            // The interval since the last reading is recent and long enough to tell: a run soon
            // after configureThreads (the studio's first, the CLI's after a slow model load)
            // starts with its share instead of spending its first tenth of a second with too many
            // threads.
            b.busyElsewhere = b.meter->update();
            b.measured = now;
            b.firstReading = false;
            ++b.measurement;
        } else if (since > kRecentEnough) {
            // An old one: the run reads the load from its own start, not since the last run ended
            // (or since start-up, in the studio): a process that began a moment ago counts in full.
            b.meter.emplace();
            b.measured = now;
            b.firstReading = true;
        }
    }
}

ThreadShare::~ThreadShare()
{
    --sharesOnThisThread;
    int configured = 0;
    {
        Budget &b = budget();
        const std::lock_guard<std::mutex> lock(b.mutex);
        if (counted_)
            --b.runs;
        configured = b.configured;
    }
    if (threads_ == before_)
        return;
    try {
        setThisThreadsCount(before_, configured > 0 ? configured : before_);
    } catch (const std::exception &e) {
        at::set_num_threads(before_); // no thread to spare: the default is this thread's count
        spdlog::warn("thread count: {}", e.what());
    }
}

int ThreadShare::apply()
{
    int wanted = 0, configured = 0;
    {
        Budget &b = budget();
        const std::lock_guard<std::mutex> lock(b.mutex);
        if (b.configured <= 0)
            return threads_;
        const Clock::time_point now = Clock::now();
        if (b.meter && now - b.measured >= (b.firstReading ? kFirstMeasureAfter : kMeasureEvery)) {
            b.busyElsewhere = b.meter->update();
            b.measured = now;
            b.firstReading = false;
            ++b.measurement;
        }
        configured = b.configured;
        wanted = sharedThreadCount(b.configured, b.runs, b.given ? 0.0 : b.busyElsewhere);
        // Measuring the others' load, rise one thread per measurement: two processes that both
        // share this way would otherwise both see the other's whole team, drop, see each other
        // idle, rise to the whole machine, and so on.
        if (b.meter && wanted > threads_) {
            if (b.measurement == raisedAt_) {
                wanted = threads_;
            } else {
                wanted = threads_ + 1;
                raisedAt_ = b.measurement;
            }
        }
    }
    if (wanted != threads_) {
        try {
            setThisThreadsCount(wanted, configured);
        } catch (const std::exception &e) {
            at::set_num_threads(wanted); // no thread to spare: the default follows this thread's count
            spdlog::warn("thread count: {}", e.what());
        }
        threads_ = wanted;
    }
    return threads_;
}

} // namespace sde
