// Start-up to the first finished grid (issue: the embedded default that convinces): how long a
// person waits, from starting the program, for the bundled model's first 16 images with the
// defaults of a fresh start (no saved settings).
//
//   build/release/tests/bench/bench_first_grid [--runs 5] [--cli PATH] [--paths cli,studio]
//
// cli:    `sdestudio-cli sample --model fashion-mnist --batch 16 --seed 1 -o DIR`, timed from
//         the spawn to its exit (files written).
// studio: this program started again as the studio would start (QApplication, the main window
//         shown, the bundled default model opened, as app/studio/main.cpp does), clicking
//         Generate once the window is up; timed from the spawn to the finished grid shown. Its
//         settings live in a fresh temporary home, so the sampler is the fresh start's default.
// Each path runs once unmeasured first (the files in the page cache, as on a second start), then
// --runs times; the median and the range are printed.

#include "bench_support.h"

#include "generate_workspace.h"
#include "image_view.h"
#include "main_window.h"
#include "sampler_panel.h"
#include "sampling_worker.h"

#include "io/bundled_models.h"
#include "util/device.h"

#include <QApplication>
#include <QTimer>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace {

using Clock = std::chrono::steady_clock;

// The studio, started as app/studio/main.cpp starts it, generating once with the defaults.
int studioChild(int argc, char **argv)
{
    // Each phase's end, in seconds since the process started (its start time from /proc).
    const auto phase = [](const char *name) {
        std::ifstream stat("/proc/self/stat");
        std::string field;
        for (int i = 0; i < 22 && stat >> field; ++i) {
        }
        const double started = std::stod(field) / static_cast<double>(sysconf(_SC_CLK_TCK));
        std::ifstream uptime("/proc/uptime");
        double now = 0.0;
        uptime >> now;
        std::fprintf(stderr, "studio: %-24s %.2f s after the start\n", name, now - started);
    };
    QApplication app(argc, argv);
    phase("QApplication");
    QApplication::setOrganizationName("SDE Studio Bench");
    QApplication::setApplicationName("bench_first_grid");
    sde::configureThreads();
    sde::runThisThreadSerially();
    sde::ui::MainWindow window;
    window.show();
    phase("window shown");
    if (!window.openModel(QString(sde::kDefaultModelName), true)) {
        std::fprintf(stderr, "could not open %s: %s\n", sde::kDefaultModelName, qPrintable(window.lastError()));
        return 1;
    }
    phase("model opened");
    const sde::SamplingSettings settings = window.samplerPanel()->settings();
    QObject::connect(window.generateWorkspace(), &sde::ui::GenerateWorkspace::finished, &app, [&] { app.quit(); });
    QTimer::singleShot(0, &window, [&] { window.generate(); });
    app.exec();
    phase("grid shown");
    const sde::ui::GenerationResult &result = window.generateWorkspace()->lastResult();
    if (!result.completed || !result.samples.defined() || window.generateWorkspace()->resultView()->image().isNull()) {
        std::fprintf(stderr, "the studio's run did not finish: %s\n", qPrintable(window.lastError()));
        return 1;
    }
    std::fprintf(stderr, "studio: %s; %lld images, %lld NFE\n", sde::describeSettings(settings).c_str(),
                 static_cast<long long>(result.samples.size(0)), static_cast<long long>(result.nfe));
    return 0;
}

struct Timed {
    double seconds = 0.0;
    int status = -1;
};

// Runs argv with extra environment entries; the wall time from spawn to exit.
Timed timedRun(const std::vector<std::string> &args, const std::vector<std::string> &extraEnvironment, bool quiet)
{
    std::vector<std::string> environment(extraEnvironment);
    for (char **e = environ; *e; ++e)
        environment.emplace_back(*e);
    std::vector<char *> argvPointers, envPointers;
    for (const std::string &a : args)
        argvPointers.push_back(const_cast<char *>(a.c_str()));
    argvPointers.push_back(nullptr);
    for (const std::string &e : environment)
        envPointers.push_back(const_cast<char *>(e.c_str()));
    envPointers.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    // The programs' own output: stdout never (the table is this program's), stderr on the unmeasured
    // run only, which says what ran.
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    if (quiet)
        posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    Timed out;
    const auto start = Clock::now();
    pid_t pid = 0;
    if (posix_spawn(&pid, args[0].c_str(), &actions, nullptr, argvPointers.data(), envPointers.data()) != 0) {
        std::perror(args[0].c_str());
        std::exit(1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    out.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    out.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    posix_spawn_file_actions_destroy(&actions);
    return out;
}

} // namespace

int main(int argc, char **argv)
{
    if (argc > 1 && std::string(argv[1]) == "--studio-child")
        return studioChild(argc, argv);

    int runs = 5;
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    const std::filesystem::path self = std::filesystem::canonical("/proc/self/exe");
    std::string cli = (self.parent_path() / "../../app/sdestudio-cli").lexically_normal().string();
    std::vector<std::string> paths{"cli", "studio"};
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--runs")
            runs = std::stoi(sde::bench::optionValue(argc, argv, i));
        else if (arg == "--cli")
            cli = sde::bench::optionValue(argc, argv, i);
        else if (arg == "--paths")
            paths = sde::bench::parseNames(sde::bench::optionValue(argc, argv, i));
        else {
            std::fprintf(stderr, "usage: bench_first_grid [--runs N] [--cli PATH] [--paths cli,studio]\n");
            return 2;
        }
    }
    const std::filesystem::path scratch =
        std::filesystem::temp_directory_path() / ("bench_first_grid-" + std::to_string(::getpid()));
    std::filesystem::create_directories(scratch / "home");
    const char *threads = std::getenv("OMP_NUM_THREADS");
    std::printf("bench_first_grid: %s, %ld cores, OMP_NUM_THREADS %s; 16 images of %s, fresh-start defaults; "
                "median of %d runs after one unmeasured\n",
                cli.c_str(), sysconf(_SC_NPROCESSORS_ONLN), threads ? threads : "unset", sde::kDefaultModelName, runs);
    std::vector<std::string> rows;
    for (const std::string &path : paths) {
        std::vector<std::string> args, environment;
        if (path == "cli") {
            args = {cli,      "sample", "--model", sde::kDefaultModelName,    "--batch", "16",
                    "--seed", "1",      "-o",      (scratch / "out").string()};
        } else if (path == "studio") {
            args = {self.string(), "--studio-child"};
            environment = {"XDG_CONFIG_HOME=" + (scratch / "home").string(),
                           "XDG_DATA_HOME=" + (scratch / "home").string(),
                           "XDG_CACHE_HOME=" + (scratch / "home").string()};
            if (!std::getenv("DISPLAY") && !std::getenv("WAYLAND_DISPLAY"))
                environment.push_back("QT_QPA_PLATFORM=offscreen");
        } else {
            std::fprintf(stderr, "unknown path %s (cli, studio)\n", path.c_str());
            return 2;
        }
        std::vector<double> seconds;
        for (int run = 0; run <= runs; ++run) {
            std::filesystem::remove_all(scratch / "out");
            std::filesystem::remove_all(scratch / "home");
            std::filesystem::create_directories(scratch / "home");
            const Timed timed = timedRun(args, environment, run > 0);
            if (timed.status != 0) {
                std::fprintf(stderr, "%s exited with status %d\n", path.c_str(), timed.status);
                return 1;
            }
            if (run > 0)
                seconds.push_back(timed.seconds);
        }
        std::sort(seconds.begin(), seconds.end());
        char row[200];
        std::snprintf(row, sizeof row, "| %s | %.2f | %.2f | %.2f |\n", path.c_str(), seconds[seconds.size() / 2],
                      seconds.front(), seconds.back());
        rows.push_back(row);
    }
    std::printf("\n| path | median s | fastest s | slowest s |\n| --- | ---: | ---: | ---: |\n");
    for (const std::string &row : rows)
        std::printf("%s", row.c_str());
    std::filesystem::remove_all(scratch);
    return 0;
}
