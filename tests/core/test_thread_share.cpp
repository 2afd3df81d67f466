// Sharing the cores among runs (core/util/thread_share.h): the share of each run, the reading of
// the machine's counters, a live busy process seen by the meter, and a process started beside
// busy ones taking its share from the start (this program run again as that process).
#include "util/thread_share.h"

#include "test_support.h"

#include <ATen/Parallel.h>

#include <QtTest/QtTest>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <future>
#include <iterator>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <spawn.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace sde;

extern char **environ;

namespace {

// When this program's own initialisers ran: after the shared libraries'.
const std::chrono::steady_clock::time_point initialisedAt = std::chrono::steady_clock::now();

// This program run again with --start-share-child: the share of the cores its budget gives at
// start, as configureThreads sets it, a third of a second after the process started.
int startShareChild()
{
    const std::optional<BusyCoresMeter> start = BusyCoresMeter::sinceProcessStart();
    if (!start) {
        std::printf("no reading at the start\n");
        return 1;
    }
    std::this_thread::sleep_until(start->since() + std::chrono::milliseconds(300));
    setThreadBudget(2, false, /*sinceProcessStart=*/true);
    std::printf("share %d\n", runShareNow());
    return 0;
}

// A process that spins until killed (or until this one ends, killed or not).
pid_t spinningChild()
{
    const pid_t child = ::fork();
    if (child == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        volatile unsigned long spin = 0;
        for (;;)
            spin = spin + 1;
    }
    return child;
}

} // namespace

class TestThreadShare : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void sharedThreadCount_data()
    {
        QTest::addColumn<int>("configured");
        QTest::addColumn<int>("runs");
        QTest::addColumn<double>("busyElsewhere");
        QTest::addColumn<int>("expected");
        QTest::newRow("alone") << 2 << 1 << 0.0 << 2;
        QTest::newRow("a busy process") << 2 << 1 << 1.0 << 1;
        QTest::newRow("a process at 2/3 of a core") << 2 << 1 << 0.67 << 1;
        QTest::newRow("a process at 0.4 of a core") << 2 << 1 << 0.4 << 2;
        QTest::newRow("training beside sampling") << 2 << 2 << 0.0 << 1;
        QTest::newRow("two runs on four") << 4 << 2 << 0.0 << 2;
        QTest::newRow("two runs on four, one busy") << 4 << 2 << 1.0 << 1;
        QTest::newRow("three runs on one") << 1 << 3 << 0.0 << 1;
        QTest::newRow("every core busy") << 2 << 1 << 5.0 << 1;
        QTest::newRow("eight, 2.5 busy") << 8 << 1 << 2.5 << 5;
        QTest::newRow("eight, 2.4 busy") << 8 << 1 << 2.4 << 6;
        QTest::newRow("a negative reading") << 2 << 1 << -1.0 << 2;
    }
    void sharedThreadCount()
    {
        QFETCH(int, configured);
        QFETCH(int, runs);
        QFETCH(double, busyElsewhere);
        QFETCH(int, expected);
        QCOMPARE(sde::sharedThreadCount(configured, runs, busyElsewhere), expected);
    }

    void readsTheCounters()
    {
        // /proc/stat's lines: user nice system idle iowait irq softirq steal guest guest_nice.
        const std::optional<CpuTicks> machine = cpuBusyTicks("cpu  100 50 20 900 7 3 2 1 0 0");
        QVERIFY(machine);
        QCOMPARE(machine->cpu, -1);
        QCOMPARE(machine->busy, uint64_t(126)); // not nice, idle or iowait
        const std::optional<CpuTicks> cpu12 = cpuBusyTicks("cpu12 10 5 2 90 1 1 1 1 0 0");
        QVERIFY(cpu12);
        QCOMPARE(cpu12->cpu, 12);
        QCOMPARE(cpu12->busy, uint64_t(15));
        QVERIFY(!cpuBusyTicks("cpux 100 50 20 900 7 3 2 1 0 0"));
        QVERIFY(!cpuBusyTicks("intr 100 50 20 900 7 3 2 1 0 0"));
        QVERIFY(!cpuBusyTicks("cpu  100 50"));
        QVERIFY(!cpuBusyTicks(""));
        // A command name with spaces and parentheses; utime 31 and stime 9 are fields 14 and 15.
        const std::string stat = "4242 (a (b) c) R 1 4242 4242 0 -1 4194560 100 0 0 0 31 9 0 0 20 0 3 0 5 0 0";
        const std::optional<ProcessTicks> ticks = processTicks(stat);
        QVERIFY(ticks);
        QCOMPARE(ticks->user, uint64_t(31));
        QCOMPARE(ticks->system, uint64_t(9));
        QVERIFY(!processTicks("4242 (cut short) R 1 2"));
        QVERIFY(!processTicks("no parenthesis"));
        // 300 busy ticks in 1.5 s at 100 ticks/s, 60 of them this process's: 1.6 cores elsewhere.
        QCOMPARE(busyCoresBetween(1000, 200, 1300, 260, 1.5, 100.0), 1.6);
        // This process alone was busy: nothing elsewhere (and never below 0).
        QCOMPARE(busyCoresBetween(1000, 200, 1100, 310, 1.0, 100.0), 0.0);
        // Counters that went backwards, or no time: no reading.
        QCOMPARE(busyCoresBetween(1000, 200, 900, 200, 1.0, 100.0), 0.0);
        QCOMPARE(busyCoresBetween(1000, 200, 1300, 200, 0.0, 100.0), 0.0);
    }

    // The real counters: a busy child process is seen; this process's own time is counted apart.
    void theMeterSeesABusyProcess()
    {
        errno = 0;
        const bool niced = getpriority(PRIO_PROCESS, 0) > 0 && errno == 0;
        BusyCoresMeter meter;
        const pid_t child = spinningChild();
        QVERIFY(child >= 0);
        std::this_thread::sleep_for(std::chrono::milliseconds(800));
        const double withChild = meter.update();
        ::kill(child, SIGKILL);
        ::waitpid(child, nullptr, 0);
        // Even on two cores shared with other jobs the child holds a third of one; a niced
        // child's time is nice time, which the meter leaves out by design.
        if (!niced)
            QVERIFY2(withChild >= 0.3, qPrintable(QString::number(withChild)));

        // This process spinning: /proc/self/stat counts its time (which the meter takes out of
        // the machine's), and the machine's busy time holds it (its system time alone when niced).
        const auto readings = [] {
            std::ifstream machine("/proc/stat");
            std::string cpuLine;
            std::getline(machine, cpuLine);
            std::ifstream self("/proc/self/stat");
            const std::string selfLine((std::istreambuf_iterator<char>(self)), std::istreambuf_iterator<char>());
            return std::make_pair(cpuBusyTicks(cpuLine), processTicks(selfLine));
        };
        const auto [busyBefore, ownBefore] = readings();
        QVERIFY(busyBefore && ownBefore);
        const auto start = std::chrono::steady_clock::now();
        volatile unsigned long spin = 0;
        while (std::chrono::steady_clock::now() < start + std::chrono::milliseconds(800))
            spin = spin + 1;
        const auto [busyAfter, ownAfter] = readings();
        QVERIFY(busyAfter && ownAfter);
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        const uint64_t own = ownAfter->user + ownAfter->system - ownBefore->user - ownBefore->system;
        const double ownCores = static_cast<double>(own) / static_cast<double>(sysconf(_SC_CLK_TCK)) / seconds;
        // Spinning 0.8 s holds at least a fifth of a core even beside three other busy threads.
        QVERIFY2(ownCores >= 0.2, qPrintable(QString::number(ownCores)));
        // (The two counters are kept apart by the kernel: a tenth's leeway.)
        const uint64_t counted = niced ? ownAfter->system - ownBefore->system : own;
        QVERIFY(static_cast<double>(busyAfter->busy - busyBefore->busy) >= 0.9 * static_cast<double>(counted));
    }

    // The counters are read as the process starts, before the shared libraries' initialisers
    // (LibTorch's, Qt's) and this program's own.
    void theStartIsRead()
    {
        const std::optional<BusyCoresMeter> start = BusyCoresMeter::sinceProcessStart();
        QVERIFY(start);
        QVERIFY(start->since() < initialisedAt);
    }

    // A process started while every core is kept busy by others takes one thread of two at once,
    // from the load since its start (the CLI, whose first run then starts with its share).
    void aProcessStartedBesideBusyOnesTakesItsShare()
    {
        errno = 0;
        if (getpriority(PRIO_PROCESS, 0) > 0 && errno == 0)
            QSKIP("niced: the spinning children's time is nice time, which the meter leaves out");
        std::vector<pid_t> children;
        for (unsigned i = 0; i < std::max(2u, std::thread::hardware_concurrency()); ++i)
            children.push_back(spinningChild());
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        int out[2];
        QCOMPARE(::pipe(out), 0);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
        posix_spawn_file_actions_addclose(&actions, out[0]);
        std::string self = "/proc/self/exe", flag = "--start-share-child";
        char *args[] = {self.data(), flag.data(), nullptr};
        pid_t child = 0;
        const int spawned = posix_spawn(&child, self.c_str(), &actions, nullptr, args, environ);
        posix_spawn_file_actions_destroy(&actions);
        ::close(out[1]);
        std::string said;
        char buffer[256];
        for (ssize_t got; (got = ::read(out[0], buffer, sizeof buffer)) > 0;)
            said.append(buffer, static_cast<size_t>(got));
        ::close(out[0]);
        int status = -1;
        if (spawned == 0)
            ::waitpid(child, &status, 0);
        for (const pid_t spinner : children) {
            ::kill(spinner, SIGKILL);
            ::waitpid(spinner, nullptr, 0);
        }
        QCOMPARE(spawned, 0);
        QVERIFY2(WIFEXITED(status) && WEXITSTATUS(status) == 0, said.c_str());
        QCOMPARE(QString::fromStdString(said).trimmed(), QString("share 1"));
    }

    // Measuring the others' load (a count not given): with every core kept busy by other
    // processes a run takes one thread, not the configured two: from its start when the budget was
    // set long enough before (the CLI, which loads its model meanwhile), else after its first
    // tenth of a second.
    void aRunMakesRoomForBusyProcesses()
    {
        errno = 0;
        if (getpriority(PRIO_PROCESS, 0) > 0 && errno == 0)
            QSKIP("niced: the spinning children's time is nice time, which the meter leaves out");
        const int count = at::get_num_threads();
        std::vector<pid_t> children;
        for (unsigned i = 0; i < std::max(2u, std::thread::hardware_concurrency()); ++i)
            children.push_back(spinningChild());
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        const auto run = [](int pauseMs) {
            at::set_num_threads(2); // as configureThreads sets it
            setThreadBudget(2, false);
            std::this_thread::sleep_for(std::chrono::milliseconds(pauseMs));
            std::array<int, 3> counts{};
            std::thread([&] {
                counts[0] = at::get_num_threads();
                ThreadShare share; // alone
                counts[1] = share.apply();
                std::this_thread::sleep_for(std::chrono::milliseconds(150));
                counts[2] = share.apply();
            }).join();
            return counts;
        };
        const std::array<int, 3> atOnce = run(0), afterLoading = run(300);
        for (const pid_t child : children) {
            ::kill(child, SIGKILL);
            ::waitpid(child, nullptr, 0);
        }
        setThreadBudget(0, true);
        at::set_num_threads(count);
        QCOMPARE(atOnce[0], 2);
        QCOMPARE(atOnce[1], 2); // no reading long enough yet
        QCOMPARE(atOnce[2], 1);
        QCOMPARE(afterLoading[0], 2);
        QCOMPARE(afterLoading[1], 1); // read at the start, over the 0.3 s since the budget was set
        QCOMPARE(afterLoading[2], 1);
    }

    // Runs of this process split the budget, and get it back as others end; a share nested on
    // the run's thread is part of the run; a thread that starts LibTorch work meanwhile gets the
    // configured count; the thread's own count returns when its run ends.
    void runsShareTheBudget()
    {
        const int count = at::get_num_threads();
        at::set_num_threads(4); // as configureThreads sets it
        setThreadBudget(4, true);
        int alone = 0, nested = 0, runsNested = 0, firstOfTwo = 0, firstThreads = 0, second = 0, freshThread = 0,
            afterSecond = 0, afterRun = 0, before = 0, runsDuring = 0;
        std::thread([&] {
            at::set_num_threads(3); // this thread's count before its run, not the budget
            before = at::get_num_threads();
            {
                ThreadShare first;
                alone = first.apply();
                {
                    ThreadShare inner; // the sampler inside a studio job
                    nested = inner.apply();
                    runsNested = sharingRuns();
                }
                // A second run starts on a thread of its own; the first takes its next step while
                // the second runs, then one after the second ended.
                std::promise<void> started, stepTaken;
                std::thread other([&] {
                    ThreadShare share;
                    second = share.apply();
                    runsDuring = sharingRuns();
                    started.set_value();
                    stepTaken.get_future().wait();
                });
                started.get_future().wait();
                firstOfTwo = first.apply();
                firstThreads = at::get_num_threads();
                std::thread([&] { freshThread = at::get_num_threads(); }).join();
                stepTaken.set_value();
                other.join();
                afterSecond = first.apply();
            }
            afterRun = at::get_num_threads();
        }).join();
        setThreadBudget(0, true);
        QCOMPARE(before, 3);
        QCOMPARE(alone, 4);
        QCOMPARE(nested, 4);
        QCOMPARE(runsNested, 1);
        QCOMPARE(second, 2);
        QCOMPARE(firstOfTwo, 2);
        QCOMPARE(firstThreads, 2);
        QCOMPARE(runsDuring, 2);
        QCOMPARE(freshThread, 4);
        QCOMPARE(afterSecond, 4);
        QCOMPARE(afterRun, 3);
        QCOMPARE(sharingRuns(), 0);

        // Without a budget (configureThreads not called) a run leaves the count alone.
        int untouched = 0;
        std::thread([&] {
            at::set_num_threads(3);
            ThreadShare run;
            untouched = run.apply();
        }).join();
        QCOMPARE(untouched, 3);
        at::set_num_threads(count);
    }
};

int main(int argc, char **argv)
{
    if (argc == 2 && std::string(argv[1]) == "--start-share-child")
        return startShareChild();
    QCoreApplication app(argc, argv);
    TestThreadShare test;
    return QTest::qExec(&test, argc, argv);
}
#include "test_thread_share.moc"
