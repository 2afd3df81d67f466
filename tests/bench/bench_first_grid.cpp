// Start-up to the first finished grid (issue: the embedded default that convinces): how long a
// person waits, from starting the program, for the bundled model's first 16 images with the
// defaults of a fresh start (no saved settings).
//
//   build/release/tests/bench/bench_first_grid [--runs 5] [--cli PATH] [--paths cli,studio]
//       [--busy N] [--env NAME=VALUE] [--against NAME=VALUE]
//
// cli:    `sdestudio-cli sample --model fashion-mnist --batch 16 --seed 1 -o DIR`, timed from
//         the spawn to its exit (files written).
// studio: this program started again as the studio would start (QApplication, the main window
//         shown, the bundled default model opened, as app/studio/main.cpp does), clicking
//         Generate once the window is up; timed from the spawn to the finished grid shown. Its
//         settings live in a fresh temporary home, so the sampler is the fresh start's default.
// sampling-beside-training: in this process, the fresh start's 16-image run of the bundled model
//         timed alone, then while a training run of the bundled config (random images, its
//         batch) computes on another thread, as the studio's Sampler and Train workers do: with
//         the runs sharing the cores (util/thread_share.h) and, for comparison, without.
// Each path runs once unmeasured first (the files in the page cache, as on a second start), then
// --runs times; the median and the range are printed. --busy N keeps N other processes spinning
// through every path's runs (a machine shared with other work); --env adds a variable to the cli
// and studio runs' environment (OMP_NUM_THREADS=2: a count given, so not shared with busy
// processes; for sampling-beside-training set it on this program). --against NAME=VALUE times
// each cli and studio run a second time, right after, with that variable added as well
// (OMP_NUM_THREADS=1: the lost core's cost alone), and prints the median of the pairs' ratios:
// runs next to each other in time share the machine's drift.

#include "bench_support.h"

#include "generate_workspace.h"
#include "image_view.h"
#include "main_window.h"
#include "sampler_panel.h"
#include "sampling_worker.h"
#include "tiny_models.h"

#include "io/bundled_models.h"
#include "io/model_file.h"
#include "sampling/sampling_settings.h"
#include "train/training_task.h"
#include "util/device.h"
#include "util/thread_share.h"

#include <QApplication>
#include <QTimer>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/prctl.h>
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
    // Timed to the grid shown: the window's teardown is not part of the wait.
    std::fflush(stderr);
    std::_Exit(0);
}

// Seconds of the fresh start's 16-image run of the bundled model, on this thread.
double timedSampling(const sde::ScoreModel &model)
{
    sde::SamplingSettings settings = sde::SamplingSettings::fastDefault(model.config());
    settings.batch = 16;
    settings.seed = 1;
    const auto start = Clock::now();
    // A step callback, as the studio's and the CLI's runs have (the share is looked at in it).
    sde::runSampler(model, settings, [](const sde::SamplerStep &) {});
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// The sampling run alone, then beside a training thread with the cores shared and not; one row
// each (median of `runs`).
std::vector<std::string> samplingBesideTraining(int runs)
{
    const int threads = sde::configureThreads();
    const bool given = std::getenv("OMP_NUM_THREADS") != nullptr; // as configureThreads decides
    sde::LoadedModel loaded = sde::loadModelFile(sde::kDefaultModelName);
    loaded.model->setTraining(false);
    const auto median = [&](bool shared) {
        sde::setThreadBudget(shared ? threads : 0, given);
        std::vector<double> seconds;
        for (int run = 0; run <= runs; ++run) {
            const double s = timedSampling(*loaded.model);
            if (run > 0)
                seconds.push_back(s);
        }
        std::sort(seconds.begin(), seconds.end());
        return seconds;
    };
    const auto row = [](const std::string &name, const std::vector<double> &seconds) {
        char text[200];
        std::snprintf(text, sizeof text, "| %s | %.2f | %.2f | %.2f |\n", name.c_str(), seconds[seconds.size() / 2],
                      seconds.front(), seconds.back());
        return std::string(text);
    };
    std::vector<std::string> rows{row("sampling alone", median(true))};
    for (const bool shared : {true, false}) {
        sde::setThreadBudget(shared ? threads : 0, given);
        const std::filesystem::path folder =
            std::filesystem::temp_directory_path() / ("bench_first_grid-training-" + std::to_string(::getpid()));
        sde::TrainingControl control;
        std::atomic<int64_t> steps{0};
        std::atomic<bool> ended{false};
        std::string failure;
        std::thread trainer([&] {
            try {
                sde::ModelConfig config = loaded.model->config();
                sde::ScoreTrainingTask task(config);
                sde::test::RandomImages data(config);
                sde::TrainerOptions options;
                options.outDir = folder.string();
                options.steps = 1000000;
                options.logEvery = 1000000;
                options.checkpointEvery = 1000000;
                sde::TrainerCallbacks callbacks;
                callbacks.onStep = [&](int64_t, int64_t, double) { ++steps; };
                sde::train(task, data, options, callbacks, &control);
            } catch (const std::exception &e) {
                failure = e.what();
            }
            ended = true;
        });
        while (steps < 3 && !ended) // in its stride
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (ended) {
            trainer.join();
            std::fprintf(stderr, "the training run ended before its third step: %s\n", failure.c_str());
            std::exit(1);
        }
        const std::vector<double> seconds = median(shared);
        control.stop();
        trainer.join();
        std::filesystem::remove_all(folder);
        rows.push_back(
            row(shared ? "sampling beside training, cores shared" : "sampling beside training, not shared", seconds));
    }
    sde::setThreadBudget(threads, given);
    return rows;
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
    int busy = 0;
    std::vector<std::string> extraEnvironment;
    std::string against;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--runs")
            runs = std::atoi(sde::bench::optionValue(argc, argv, i).c_str());
        else if (arg == "--cli")
            cli = sde::bench::optionValue(argc, argv, i);
        else if (arg == "--paths")
            paths = sde::bench::parseNames(sde::bench::optionValue(argc, argv, i));
        else if (arg == "--busy")
            busy = std::atoi(sde::bench::optionValue(argc, argv, i).c_str());
        else if (arg == "--env")
            extraEnvironment.push_back(sde::bench::optionValue(argc, argv, i));
        else if (arg == "--against")
            against = sde::bench::optionValue(argc, argv, i);
        else {
            std::fprintf(
                stderr, "usage: bench_first_grid [--runs N] [--cli PATH] [--paths cli,studio,sampling-beside-training] "
                        "[--busy N] [--env NAME=VALUE] [--against NAME=VALUE]\n");
            return 2;
        }
    }
    if (runs < 1 || busy < 0) {
        std::fprintf(stderr, "--runs must be at least 1 and --busy at least 0\n");
        return 2;
    }
    if (!against.empty() && against.find('=') == std::string::npos) {
        std::fprintf(stderr, "--against takes NAME=VALUE\n");
        return 2;
    }
    const std::filesystem::path scratch =
        std::filesystem::temp_directory_path() / ("bench_first_grid-" + std::to_string(::getpid()));
    std::filesystem::create_directories(scratch / "home");
    const char *threads = std::getenv("OMP_NUM_THREADS");
    std::printf("bench_first_grid: %s, %ld cores, OMP_NUM_THREADS %s; 16 images of %s, fresh-start defaults; "
                "median of %d runs after one unmeasured\n",
                cli.c_str(), sysconf(_SC_NPROCESSORS_ONLN), threads ? threads : "unset", sde::kDefaultModelName, runs);
    // Other work on the machine: processes that spin until the end.
    std::vector<pid_t> spinners;
    for (int i = 0; i < busy; ++i) {
        const pid_t pid = ::fork();
        if (pid == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL); // never outlives the benchmark
            volatile unsigned long spin = 0;
            for (;;)
                spin = spin + 1;
        }
        spinners.push_back(pid);
    }
    if (busy > 0 || !extraEnvironment.empty()) {
        std::printf("beside %d spinning process(es)", busy);
        for (const std::string &e : extraEnvironment)
            std::printf(", %s", e.c_str());
        std::printf("\n");
    }
    std::vector<std::string> rows, ratios;
    const auto row = [](const std::string &name, std::vector<double> values, const char *format) {
        std::sort(values.begin(), values.end());
        char text[300];
        std::snprintf(text, sizeof text, format, name.c_str(), values[values.size() / 2], values.front(),
                      values.back());
        return std::string(text);
    };
    for (const std::string &path : paths) {
        std::vector<std::string> args, environment = extraEnvironment;
        if (path == "sampling-beside-training") {
            for (const std::string &row : samplingBesideTraining(runs))
                rows.push_back(row);
            continue;
        }
        if (path == "cli") {
            args = {cli,      "sample", "--model", sde::kDefaultModelName,    "--batch", "16",
                    "--seed", "1",      "-o",      (scratch / "out").string()};
        } else if (path == "studio") {
            args = {self.string(), "--studio-child"};
            environment.push_back("XDG_CONFIG_HOME=" + (scratch / "home").string());
            environment.push_back("XDG_DATA_HOME=" + (scratch / "home").string());
            environment.push_back("XDG_CACHE_HOME=" + (scratch / "home").string());
            if (!std::getenv("DISPLAY") && !std::getenv("WAYLAND_DISPLAY"))
                environment.push_back("QT_QPA_PLATFORM=offscreen");
        } else {
            std::fprintf(stderr, "unknown path %s (cli, studio, sampling-beside-training)\n", path.c_str());
            return 2;
        }
        // With --against, each run is followed by its twin with the variable added.
        std::vector<std::vector<std::string>> variants{environment};
        if (!against.empty()) {
            variants.push_back(environment);
            variants.back().push_back(against);
        }
        std::vector<std::vector<double>> seconds(variants.size());
        std::vector<double> pairRatios;
        for (int run = 0; run <= runs; ++run) {
            for (size_t v = 0; v < variants.size(); ++v) {
                std::filesystem::remove_all(scratch / "out");
                std::filesystem::remove_all(scratch / "home");
                std::filesystem::create_directories(scratch / "home");
                const Timed timed = timedRun(args, variants[v], run > 0);
                if (timed.status != 0) {
                    std::fprintf(stderr, "%s exited with status %d\n", path.c_str(), timed.status);
                    return 1;
                }
                if (run > 0)
                    seconds[v].push_back(timed.seconds);
            }
            if (run > 0 && variants.size() == 2)
                pairRatios.push_back(seconds[0].back() / seconds[1].back());
        }
        rows.push_back(row(path, seconds[0], "| %s | %.2f | %.2f | %.2f |\n"));
        if (variants.size() == 2) {
            rows.push_back(row(path + ", " + against, seconds[1], "| %s | %.2f | %.2f | %.2f |\n"));
            ratios.push_back(row(path + " / " + path + ", " + against, pairRatios, "| %s | %.2fx | %.2fx | %.2fx |\n"));
        }
    }
    std::printf("\n| path | median s | fastest s | slowest s |\n| --- | ---: | ---: | ---: |\n");
    for (const std::string &r : rows)
        std::printf("%s", r.c_str());
    if (!ratios.empty()) {
        std::printf("\n| runs next to each other | median ratio | lowest | highest |\n| --- | ---: | ---: | ---: |\n");
        for (const std::string &r : ratios)
            std::printf("%s", r.c_str());
    }
    for (const pid_t pid : spinners) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
    }
    std::filesystem::remove_all(scratch);
    return 0;
}
