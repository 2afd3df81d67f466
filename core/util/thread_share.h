#pragma once

// Sharing the cores among runs that compute at once: the studio's training beside a sampling run,
// or the CLI beside another busy process. An OpenMP thread that waits for a core another team or
// process holds costs more than the core: the team's threads spin-wait for each other, so a
// 2-thread sampler beside one busy process on two cores ran 2.9x slower, with one thread 1.46x
// (the cost of the lost core alone). Each run therefore takes a share of the configured threads
// (configureThreads): the count less the cores other processes keep busy, split evenly among the
// runs of this process, at least one.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace sde {

// The intra-op threads of one of `runs` runs computing at once in this process, when other
// processes keep `busyElsewhere` cores busy: (configured - whole busy cores) / runs, at least 1.
// A core counts as busy from 0.7 of one (a process that sleeps now and then still holds it).
int sharedThreadCount(int configured, int runs, double busyElsewhere);

// The machine's busy clock ticks that are not niced (user, system, irq, softirq, steal) from the
// first line of /proc/stat ("cpu  user nice system idle iowait irq softirq steal ..."); nothing
// when the line is not that.
std::optional<uint64_t> machineBusyTicks(const std::string &cpuLine);
// A process's user and system ticks (fields 14 and 15) from its /proc/PID/stat line, whose
// command name may hold spaces and parentheses; nothing when the line is not that.
std::optional<uint64_t> processTicks(const std::string &statLine);
// The cores other processes kept busy between two readings `seconds` apart: the machine's busy
// ticks less this process's, per second and per tick rate; 0 for readings that went backwards.
double busyCoresBetween(uint64_t busyBefore, uint64_t ownBefore, uint64_t busyAfter, uint64_t ownAfter, double seconds,
                        double ticksPerSecond);

// The cores that processes other than this one keep busy, from the machine's counters
// (/proc/stat, less this process's own time from /proc/self/stat), between one reading and the
// next. Niced processes do not count: the scheduler gives their cores to ours. Without /proc (or
// before a first interval has passed) it reports 0.
class BusyCoresMeter {
public:
    BusyCoresMeter(); // the first reading
    // Busy cores of other processes since the previous reading; takes a new one.
    double update();

private:
    uint64_t busy_ = 0; // the machine's non-nice busy time, in clock ticks
    uint64_t self_ = 0; // this process's time, in clock ticks
    std::chrono::steady_clock::time_point when_;
};

// One run's share of the cores while it computes: made at its start on the thread that runs it,
// apply() before each step or score evaluation, destroyed at its end (the thread gets the count it
// had back; the other runs take the freed threads at their next apply()). With the count given
// explicitly (OMP_NUM_THREADS, the CLI's thread options) other processes' load is not measured:
// the runs of this process still share the count.
class ThreadShare {
public:
    ThreadShare();
    ~ThreadShare();
    ThreadShare(const ThreadShare &) = delete;
    ThreadShare &operator=(const ThreadShare &) = delete;

    // Sets this thread's intra-op count to the run's share when it changed; measures the other
    // processes' load at most every half second. Returns the count in effect.
    int apply();

private:
    int before_ = 0;  // the thread's count when the run began
    int threads_ = 0; // the count this run's thread has now
};

// The count the runs share, and whether it was given explicitly (then other processes' load is
// not measured); configureThreads sets it. Until then (or with 0) runs leave the counts alone.
void setThreadBudget(int configured, bool given);

// The number of ThreadShare runs alive in this process.
int sharingRuns();

} // namespace sde
