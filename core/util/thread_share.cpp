#include "util/thread_share.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>

#include <unistd.h>

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
};

Budget &budget()
{
    static Budget instance;
    return instance;
}

constexpr auto kMeasureEvery = std::chrono::milliseconds(500);

std::optional<uint64_t> readBusyTicks()
{
    std::ifstream file("/proc/stat");
    std::string line;
    return std::getline(file, line) ? machineBusyTicks(line) : std::nullopt;
}

std::optional<uint64_t> readOwnTicks()
{
    std::ifstream file("/proc/self/stat");
    return processTicks(std::string((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>()));
}

} // namespace

std::optional<uint64_t> machineBusyTicks(const std::string &cpuLine)
{
    std::istringstream stat(cpuLine);
    std::string name;
    uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
    if (!(stat >> name >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal) || name != "cpu")
        return std::nullopt;
    return user + system + irq + softirq + steal;
}

std::optional<uint64_t> processTicks(const std::string &statLine)
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
    uint64_t user = 0, system = 0;
    if (!(fields >> user >> system))
        return std::nullopt;
    return user + system;
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
    const int busy = static_cast<int>(std::floor(std::max(0.0, busyElsewhere) + 0.3));
    return std::max(1, (configured - busy) / std::max(1, runs));
}

BusyCoresMeter::BusyCoresMeter()
    : busy_(readBusyTicks().value_or(0)), self_(readOwnTicks().value_or(0)), when_(Clock::now())
{}

double BusyCoresMeter::update()
{
    const std::optional<uint64_t> busy = readBusyTicks();
    const std::optional<uint64_t> self = readOwnTicks();
    const Clock::time_point now = Clock::now();
    const double cores =
        busy && self ? busyCoresBetween(busy_, self_, *busy, *self, std::chrono::duration<double>(now - when_).count(),
                                        static_cast<double>(sysconf(_SC_CLK_TCK)))
                     : 0.0;
    busy_ = busy.value_or(0);
    self_ = self.value_or(0);
    when_ = now;
    return cores;
}

void setThreadBudget(int configured, bool given)
{
    Budget &b = budget();
    const std::lock_guard<std::mutex> lock(b.mutex);
    b.configured = configured;
    b.given = given;
    b.busyElsewhere = 0.0;
    b.meter.reset();
    if (!given)
        b.meter.emplace();
    b.measured = Clock::now();
}

int sharingRuns()
{
    Budget &b = budget();
    const std::lock_guard<std::mutex> lock(b.mutex);
    return b.runs;
}

ThreadShare::ThreadShare() : before_(at::get_num_threads()), threads_(before_)
{
    Budget &b = budget();
    const std::lock_guard<std::mutex> lock(b.mutex);
    ++b.runs;
}

ThreadShare::~ThreadShare()
{
    {
        Budget &b = budget();
        const std::lock_guard<std::mutex> lock(b.mutex);
        --b.runs;
    }
    if (threads_ != before_)
        at::set_num_threads(before_);
}

int ThreadShare::apply()
{
    int wanted = 0;
    {
        Budget &b = budget();
        const std::lock_guard<std::mutex> lock(b.mutex);
        if (b.configured <= 0)
            return threads_;
        const Clock::time_point now = Clock::now();
        if (b.meter && now - b.measured >= kMeasureEvery) {
            b.busyElsewhere = b.meter->update();
            b.measured = now;
        }
        wanted = sharedThreadCount(b.configured, b.runs, b.given ? 0.0 : b.busyElsewhere);
    }
    if (wanted != threads_) {
        at::set_num_threads(wanted);
        threads_ = wanted;
    }
    return threads_;
}

} // namespace sde
