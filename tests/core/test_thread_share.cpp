// Sharing the cores among runs (core/util/thread_share.h): the share of each run, the reading of
// the machine's counters, and a live busy process seen by the meter.
#include "util/thread_share.h"

#include "test_support.h"

#include <ATen/Parallel.h>

#include <QtTest/QtTest>

#include <chrono>
#include <csignal>
#include <fstream>
#include <future>
#include <iterator>
#include <string>
#include <thread>
#include <utility>

#include <sys/wait.h>
#include <unistd.h>

using namespace sde;

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
        QTest::newRow("a process at 0.7 of a core") << 2 << 1 << 0.7 << 1;
        QTest::newRow("a process at 0.6 of a core") << 2 << 1 << 0.6 << 2;
        QTest::newRow("training beside sampling") << 2 << 2 << 0.0 << 1;
        QTest::newRow("two runs on four") << 4 << 2 << 0.0 << 2;
        QTest::newRow("two runs on four, one busy") << 4 << 2 << 1.0 << 1;
        QTest::newRow("three runs on one") << 1 << 3 << 0.0 << 1;
        QTest::newRow("every core busy") << 2 << 1 << 5.0 << 1;
        QTest::newRow("eight, 2.5 busy") << 8 << 1 << 2.5 << 6;
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
        // /proc/stat's first line: user nice system idle iowait irq softirq steal guest guest_nice.
        QCOMPARE(machineBusyTicks("cpu  100 50 20 900 7 3 2 1 0 0").value_or(0), uint64_t(126));
        QVERIFY(!machineBusyTicks("cpu0 100 50 20 900 7 3 2 1 0 0"));
        QVERIFY(!machineBusyTicks("cpu  100 50"));
        QVERIFY(!machineBusyTicks(""));
        // A command name with spaces and parentheses; utime 31 and stime 9 are fields 14 and 15.
        const std::string stat = "4242 (a (b) c) R 1 4242 4242 0 -1 4194560 100 0 0 0 31 9 0 0 20 0 3 0 5 0 0";
        QCOMPARE(processTicks(stat).value_or(0), uint64_t(40));
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

    // The real counters: a busy child process is seen; this process's own busy thread is not.
    void theMeterSeesABusyProcess()
    {
        BusyCoresMeter meter;
        const pid_t child = ::fork();
        QVERIFY(child >= 0);
        if (child == 0) {
            volatile unsigned long spin = 0;
            for (;;)
                spin = spin + 1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(800));
        const double withChild = meter.update();
        ::kill(child, SIGKILL);
        ::waitpid(child, nullptr, 0);
        // Even on two cores shared with other jobs the child holds a third of one.
        QVERIFY2(withChild >= 0.3, qPrintable(QString::number(withChild)));

        // This process spinning: /proc/self/stat counts its time (which the meter takes out of
        // the machine's), and the machine's busy time holds it.
        const auto readings = [] {
            std::ifstream machine("/proc/stat");
            std::string cpuLine;
            std::getline(machine, cpuLine);
            std::ifstream self("/proc/self/stat");
            const std::string selfLine((std::istreambuf_iterator<char>(self)), std::istreambuf_iterator<char>());
            return std::make_pair(machineBusyTicks(cpuLine).value_or(0), processTicks(selfLine).value_or(0));
        };
        const auto [busyBefore, ownBefore] = readings();
        const auto start = std::chrono::steady_clock::now();
        volatile unsigned long spin = 0;
        while (std::chrono::steady_clock::now() < start + std::chrono::milliseconds(800))
            spin = spin + 1;
        const auto [busyAfter, ownAfter] = readings();
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        const double ownCores =
            static_cast<double>(ownAfter - ownBefore) / static_cast<double>(sysconf(_SC_CLK_TCK)) / seconds;
        QVERIFY2(ownCores >= 0.6, qPrintable(QString::number(ownCores)));
        // (The two counters are kept apart by the kernel: a tenth's leeway.)
        QVERIFY(static_cast<double>(busyAfter - busyBefore) >= 0.9 * static_cast<double>(ownAfter - ownBefore));
    }

    // Runs of this process split the budget, and get it back as others end; the thread's own
    // count returns when its run ends.
    void runsShareTheBudget()
    {
        setThreadBudget(4, true);
        int alone = 0, firstOfTwo = 0, firstThreads = 0, second = 0, afterSecond = 0, afterRun = 0, before = 0,
            runsDuring = 0;
        std::thread([&] {
            before = at::get_num_threads();
            {
                ThreadShare first;
                alone = first.apply();
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
                stepTaken.set_value();
                other.join();
                afterSecond = first.apply();
            }
            afterRun = at::get_num_threads();
        }).join();
        setThreadBudget(0, true);
        QCOMPARE(alone, 4);
        QCOMPARE(second, 2);
        QCOMPARE(firstOfTwo, 2);
        QCOMPARE(firstThreads, 2);
        QCOMPARE(runsDuring, 2);
        QCOMPARE(afterSecond, 4);
        QCOMPARE(afterRun, before);
        QCOMPARE(sharingRuns(), 0);

        // Without a budget (configureThreads not called) a run leaves the count alone.
        int untouched = 0, count = 0;
        std::thread([&] {
            count = at::get_num_threads();
            ThreadShare run;
            untouched = run.apply();
        }).join();
        QCOMPARE(untouched, count);
    }
};

QTEST_GUILESS_MAIN(TestThreadShare)
#include "test_thread_share.moc"
