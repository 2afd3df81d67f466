// Data-parallel training's scaling on this machine: steps per second of the same global batch
// trained by 1, 2, ... processes (Gloo on loopback, one CPU thread each unless --threads; with
// --device cuda NCCL, process i on cuda:i), and the scaling efficiency (speed-up / processes):
//
//   build/tests/bench/bench_data_parallel [--model fashion-mnist | --preset NAME] [--batch B]
//                                         [--processes 1,2] [--steps N] [--warmup W] [--threads T]
//                                         [--device cpu|cuda] [--group-of-one]
//
// One process trains alone (no process group) unless --group-of-one: then it is a job of one rank,
// whose collectives and gradient reducer run as in a larger job (their cost where only one GPU is).
//
// Each process count starts that many copies of this program (as `sdestudio-cli train --nproc`
// does), each a rank of the job training on random images of the model's shape; rank 0 times N
// steps after W unmeasured ones. Checkpoints are written only at the end, outside the timed steps.
#include "config/presets.h"
#include "io/model_file.h"
#include "train/data_parallel.h"
#include "train/trainer.h"
#include "util/device.h"

#include "bench_support.h"
#include "tiny_models.h"

#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace fs = std::filesystem;

namespace {

struct Settings {
    std::string model = "fashion-mnist", preset;
    int64_t batch = 0, steps = 30, warmup = 5;
    int threads = 1;
    std::string device = "cpu";
    bool groupOfOne = false;
};

sde::ModelConfig configOf(const Settings &settings)
{
    return settings.preset.empty() ? sde::loadModelFile(settings.model).model->config()
                                   : sde::loadPreset(settings.preset);
}

// One rank: trains and, as rank 0, writes the timed steps per second to `result`.
int runRank(const Settings &settings, int rank, int world, int port, const std::string &folder,
            const std::string &result)
{
    sde::configureThreads(settings.threads);
    const sde::ModelConfig config = configOf(settings);
    torch::manual_seed(0);
    sde::ScoreTrainingTask task(config);
    sde::test::RandomImages data(config);
    sde::TrainerOptions options;
    options.outDir = folder;
    options.steps = settings.warmup + settings.steps;
    options.batchSize = settings.batch > 0 ? settings.batch : config.training.batchSize;
    options.logEvery = options.steps;
    options.checkpointEvery = options.steps;
    sde::DataParallelSettings group;
    group.masterPort = port;
    group.rank = rank;
    group.localRank = rank;
    group.worldSize = world;
    if (world > 1 || settings.groupOfOne)
        options.dataParallel = group;
    options.device = sde::rankDevice(settings.device, group);
    std::chrono::steady_clock::time_point start, end;
    sde::TrainerCallbacks callbacks;
    callbacks.onStep = [&](int64_t step, int64_t, double) {
        if (step == settings.warmup)
            start = std::chrono::steady_clock::now();
        if (step == settings.warmup + settings.steps)
            end = std::chrono::steady_clock::now();
    };
    sde::train(task, data, options, callbacks);
    if (rank == 0)
        std::ofstream(result) << static_cast<double>(settings.steps) /
                                     std::chrono::duration<double>(end - start).count();
    return 0;
}

} // namespace

int main(int argc, char **argv)
{
    Settings settings;
    std::string processes = "1,2", result, folder;
    int rank = -1, world = 1, port = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto next = [&] { return sde::bench::optionValue(argc, argv, i); };
        if (arg == "--model")
            settings.model = next();
        else if (arg == "--preset")
            settings.preset = next();
        else if (arg == "--batch")
            settings.batch = std::stoll(next());
        else if (arg == "--processes")
            processes = next();
        else if (arg == "--steps")
            settings.steps = std::stoll(next());
        else if (arg == "--warmup")
            settings.warmup = std::stoll(next());
        else if (arg == "--threads")
            settings.threads = std::stoi(next());
        else if (arg == "--device")
            settings.device = next();
        else if (arg == "--group-of-one")
            settings.groupOfOne = true;
        else if (arg == "--rank") // the options of a rank this program started
            rank = std::stoi(next());
        else if (arg == "--world")
            world = std::stoi(next());
        else if (arg == "--port")
            port = std::stoi(next());
        else if (arg == "--folder")
            folder = next();
        else if (arg == "--result")
            result = next();
        else {
            std::cerr << "usage: bench_data_parallel [--model NAME | --preset NAME] [--batch B] [--processes 1,2] "
                         "[--steps N] [--warmup W] [--threads T] [--device cpu|cuda] [--group-of-one]\n";
            return 2;
        }
    }
    if (settings.warmup < 1 || settings.steps < 1 || settings.threads < 1) {
        std::cerr << "--warmup, --steps and --threads must be at least 1\n";
        return 2;
    }
    try {
        if (rank >= 0)
            return runRank(settings, rank, world, port, folder, result);

        const sde::ModelConfig config = configOf(settings);
        const int64_t batch = settings.batch > 0 ? settings.batch : config.training.batchSize;
        std::printf("model %s, global batch %lld, %lld timed steps after %lld, %d CPU thread(s) a process, %u cores, "
                    "device %s%s\n",
                    settings.preset.empty() ? settings.model.c_str() : settings.preset.c_str(),
                    static_cast<long long>(batch), static_cast<long long>(settings.steps),
                    static_cast<long long>(settings.warmup), settings.threads, std::thread::hardware_concurrency(),
                    settings.device.c_str(), settings.groupOfOne ? ", one process as a job of one rank" : "");
        std::printf("%-10s %10s %12s %10s %11s\n", "processes", "steps/s", "examples/s", "speed-up", "efficiency");
        double single = 0.0;
        for (const int64_t count : sde::bench::parseList(processes)) {
            const fs::path base = fs::temp_directory_path() / ("sde-bench-data-parallel-" + std::to_string(::getpid()) +
                                                               "-" + std::to_string(count));
            fs::remove_all(base);
            fs::create_directories(base);
            const std::string resultFile = (base / "steps_per_s").string();
            const std::string portText = std::to_string(sde::freeLoopbackPort());
            std::vector<pid_t> pids;
            for (int r = 0; r < count; ++r) {
                std::vector<std::string> arguments{"/proc/self/exe",
                                                   "--rank",
                                                   std::to_string(r),
                                                   "--world",
                                                   std::to_string(count),
                                                   "--port",
                                                   portText,
                                                   "--folder",
                                                   (base / "run").string(),
                                                   "--result",
                                                   resultFile,
                                                   "--batch",
                                                   std::to_string(batch),
                                                   "--steps",
                                                   std::to_string(settings.steps),
                                                   "--warmup",
                                                   std::to_string(settings.warmup),
                                                   "--threads",
                                                   std::to_string(settings.threads),
                                                   "--device",
                                                   settings.device};
                if (settings.groupOfOne)
                    arguments.push_back("--group-of-one");
                if (settings.preset.empty())
                    arguments.insert(arguments.end(), {"--model", settings.model});
                else
                    arguments.insert(arguments.end(), {"--preset", settings.preset});
                std::vector<char *> argvOfRank;
                for (auto &argument : arguments)
                    argvOfRank.push_back(argument.data());
                argvOfRank.push_back(nullptr);
                pid_t pid = 0;
                if (::posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argvOfRank.data(), environ) != 0)
                    throw std::runtime_error("cannot start a rank");
                pids.push_back(pid);
            }
            bool ok = true;
            for (pid_t pid : pids) {
                int status = 0;
                ::waitpid(pid, &status, 0);
                ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
            }
            double stepsPerSecond = 0.0;
            std::ifstream(resultFile) >> stepsPerSecond;
            fs::remove_all(base);
            if (!ok || stepsPerSecond <= 0.0)
                throw std::runtime_error("the run of " + std::to_string(count) + " process(es) failed");
            if (count == 1)
                single = stepsPerSecond;
            const double speedUp = single > 0.0 ? stepsPerSecond / single : 0.0;
            std::printf("%-10lld %10.2f %12.1f %10.2f %10.0f%%\n", static_cast<long long>(count), stepsPerSecond,
                        stepsPerSecond * static_cast<double>(batch), speedUp,
                        100.0 * speedUp / static_cast<double>(count));
            std::fflush(stdout);
        }
    } catch (const std::exception &e) {
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
