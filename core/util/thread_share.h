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
// A core counts as busy from half of one: a busy process that our threads compete with gets only
// two thirds of a core on two cores, and one that sleeps now and then still holds its core.
int sharedThreadCount(int configured, int runs, double busyElsewhere);

// The busy clock ticks that are not niced (user, system, irq, softirq, steal) of one line of
// /proc/stat ("cpu  user nice system idle iowait irq softirq steal ..." for the whole machine,
// "cpuN ..." for CPU N) and the line's CPU (-1 for the machine's line); nothing when the line is
// not one of those.
struct CpuTicks {
    int cpu = -1;
    uint64_t busy = 0;
};
std::optional<CpuTicks> cpuBusyTicks(const std::string &line);
// A process's user and system clock ticks (fields 14 and 15) from its /proc/PID/stat line, whose
// command name may hold spaces and parentheses; nothing when the line is not that.
struct ProcessTicks {
    uint64_t user = 0;
    uint64_t system = 0;
};
std::optional<ProcessTicks> processTicks(const std::string &statLine);
// The cores other processes kept busy between two readings `seconds` apart: the machine's busy
// ticks less this process's, per second and per tick rate; 0 for readings that went backwards.
double busyCoresBetween(uint64_t busyBefore, uint64_t ownBefore, uint64_t busyAfter, uint64_t ownAfter, double seconds,
                        double ticksPerSecond);

// The cores that processes other than this one keep busy, from the kernel's counters, between
// one reading and the next: the non-nice busy time of the CPUs this process may run on
// (sched_getaffinity; the cpuN lines of /proc/stat) less this process's own (/proc/self/stat; its
// system time alone when it is niced, its user time then being counted as nice). Niced processes
// do not count: the scheduler gives their cores to ours. Other containers' load on the same CPUs
// counts (the kernel does not tell it apart); a cgroup CPU quota is not seen. Without /proc (or
// before a first interval has passed) it reports 0; a failed reading keeps the previous one.
class BusyCoresMeter {
public:
    BusyCoresMeter(); // the first reading
    // A meter whose first reading was taken as this process started, before the shared
    // libraries' initialisers ran; nothing when it could not be taken (no /proc).
    static std::optional<BusyCoresMeter> sinceProcessStart();
    // When the reading the next update() measures from was taken.
    std::chrono::steady_clock::time_point since() const;
    // Busy cores of other processes since the previous reading; takes a new one.
    double update();

private:
    BusyCoresMeter(uint64_t busy, uint64_t self, std::chrono::steady_clock::time_point when);

    uint64_t busy_ = 0; // the CPUs' non-nice busy time, in clock ticks
    uint64_t self_ = 0; // this process's share of it, in clock ticks
    bool read_ = false; // whether the values above were read
    std::chrono::steady_clock::time_point when_;
};

// One run's share of the cores while it computes on the CPU: made at its start on the thread that
// runs it, apply() before each step or score evaluation, destroyed at its end (the thread gets
// the count it had back; the other runs take the freed threads at their next apply()). A share
// made on a thread that already holds one (the studio's worker, then the sampler it runs) is part
// of that run, not another. The count drops at once when the load rises, and rises by at most one
// thread per measurement when it falls (two processes sharing this way settle instead of taking
// turns at the whole machine). With the count given explicitly (OMP_NUM_THREADS, the CLI's thread
// options) other processes' load is not measured: the runs of this process still share the count.
// Only the thread's own count changes; threads that start LibTorch work later get the configured
// count. The summation order of CPU reductions follows the thread count, so a run whose share
// changes on the way can differ from an undisturbed one by rounding.
class ThreadShare {
public:
    ThreadShare();
    ~ThreadShare();
    ThreadShare(const ThreadShare &) = delete;
    ThreadShare &operator=(const ThreadShare &) = delete;

    // Sets this thread's intra-op count to the run's share when it changed; measures the other
    // processes' load at most every quarter second. A run that starts alone takes a reading at its
    // start when the last one is between a tenth of a second and two seconds old (a first run soon
    // after configureThreads); when it is younger the next comes on the usual schedule (a tenth of
    // a second after configureThreads when that took no reading, else a quarter after the last);
    // when it is older the meter starts again at the run's start and reads a tenth of a second
    // later, the last figure holding until then. Returns the count in effect.
    int apply();

private:
    bool counted_ = false;  // the outermost share on its thread: counted as a run
    int before_ = 0;        // the thread's count when the run began
    int threads_ = 0;       // the count this run's thread has now
    uint64_t raisedAt_ = 0; // the measurement of the last rise
};

// The count the runs share, and whether it was given explicitly (then other processes' load is
// not measured); configureThreads sets it. Until then (or with 0) runs leave the counts alone.
// With `sinceProcessStart` (a process's budget set as it starts) the others' load is read over the
// time since the process started (BusyCoresMeter::sinceProcessStart) when that is between a tenth
// of a second and ten seconds, at once: the CLI's work before its run (loading the model) and the
// run then start with their share (runShareNow) instead of computing on too many threads until a
// first reading.
void setThreadBudget(int configured, bool given, bool sinceProcessStart = false);

// The threads a run that started now would take (the budget's share of the cores by the last
// reading); 0 with no budget.
int runShareNow();

// The number of ThreadShare runs alive in this process.
int sharingRuns();

// Sets the calling thread's intra-op count to `threads` and puts LibTorch's process-wide default
// (the count a thread gets at its first parallel call, which at::set_num_threads also sets) back
// to `processDefault`, from a short-lived thread. The calling thread must have settled its own
// count before (any at::get_num_threads() call does).
void setThisThreadsCount(int threads, int processDefault);

} // namespace sde
