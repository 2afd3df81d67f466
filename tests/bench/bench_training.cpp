// Training steps per second of the project's trainer (train/trainer.h: Adam, clipping, EMA,
// metrics, batches prepared on a worker thread) on random images of the model's shape, so that
// the figure is the trainer's and the network's alone:
//
//   build/tests/bench/bench_training [--model fashion-mnist | --preset NAME] [--device cpu|cuda]
//                                    [--precisions float32,bfloat16,float16] [--batch B]
//                                    [--steps N] [--warmup W] [--threads T]
//
// Each row trains W steps unmeasured (allocator, cuDNN and oneDNN warm-up), then N timed steps;
// it prints steps/s, examples/s and the peak memory (the process's resident memory on the CPU,
// LibTorch's CUDA allocator peak on a GPU). Checkpoints are written only at the end, outside the
// timed steps.
#include "config/presets.h"
#include "io/model_file.h"
#include "train/trainer.h"
#include "util/cuda_support.h"
#include "util/device.h"

#include "bench_support.h"
#include "tiny_models.h"

#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <unistd.h>

namespace fs = std::filesystem;

int main(int argc, char **argv)
{
    std::string model = "fashion-mnist", preset, deviceName = "cpu", precisions = "float32";
    int64_t batch = 0, steps = 50, warmup = 5;
    int threads = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto next = [&] { return sde::bench::optionValue(argc, argv, i); };
        if (arg == "--model")
            model = next();
        else if (arg == "--preset")
            preset = next();
        else if (arg == "--device")
            deviceName = next();
        else if (arg == "--precisions")
            precisions = next();
        else if (arg == "--batch")
            batch = std::stoll(next());
        else if (arg == "--steps")
            steps = std::stoll(next());
        else if (arg == "--warmup")
            warmup = std::stoll(next());
        else if (arg == "--threads")
            threads = std::stoi(next());
        else {
            std::cerr << "usage: bench_training [--model NAME | --preset NAME] [--device cpu|cuda] "
                         "[--precisions float32,bfloat16,float16] [--batch B] [--steps N] [--warmup W] [--threads T]\n";
            return 2;
        }
    }
    if (warmup < 1 || steps < 1) {
        std::cerr << "--warmup and --steps must be at least 1\n";
        return 2;
    }
    try {
        sde::configureThreads(threads);
        const torch::Device device = sde::parseDevice(deviceName);
        const sde::ModelConfig config =
            preset.empty() ? sde::loadModelFile(model).model->config() : sde::loadPreset(preset);
        if (batch <= 0)
            batch = config.training.batchSize;
        std::printf("model %s, device %s%s, batch %lld, %lld timed steps after %lld, %d CPU threads\n",
                    preset.empty() ? model.c_str() : preset.c_str(), device.str().c_str(),
                    device.is_cuda() ? (" (" + sde::cudaDeviceDescription(device.index()) + ")").c_str() : "",
                    static_cast<long long>(batch), static_cast<long long>(steps), static_cast<long long>(warmup),
                    at::get_num_threads());
        std::printf("%-10s %10s %12s %14s %12s\n", "precision", "steps/s", "examples/s", "peak MiB", "last loss");
        for (const std::string &id : sde::bench::parseNames(precisions)) {
            const fs::path folder =
                fs::temp_directory_path() / ("sde-bench-training-" + std::to_string(::getpid()) + "-" + id);
            fs::remove_all(folder);
            torch::manual_seed(0);
            sde::ScoreTrainingTask task(config);
            sde::test::RandomImages data(config);
            sde::TrainerOptions options;
            options.outDir = folder.string();
            options.steps = warmup + steps;
            options.batchSize = batch;
            options.device = device;
            options.precision = sde::precisionFromId(id);
            options.logEvery = options.steps;
            options.checkpointEvery = options.steps;
            std::chrono::steady_clock::time_point start;
            double lastLoss = 0.0;
            sde::TrainerCallbacks callbacks;
            callbacks.onStep = [&](int64_t step, int64_t, double loss) {
                lastLoss = loss;
                if (step == warmup) {
                    sde::synchronizeDevice(device);
                    sde::resetCudaPeakMemory(device);
                    sde::bench::resetPeakRss();
                    start = std::chrono::steady_clock::now();
                }
            };
            double seconds = 0.0, peak = 0.0;
            callbacks.onMetrics = [&](const sde::TrainingMetrics &metrics) {
                sde::synchronizeDevice(device);
                seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
                // The trainer's record holds the CUDA peak of the timed steps (it resets the peak
                // after each record, and this is the run's only one).
                peak = device.is_cuda() ? metrics.gpuMemoryMiB : static_cast<double>(sde::bench::peakRssKb()) / 1024.0;
            };
            sde::train(task, data, options, callbacks);
            std::printf("%-10s %10.2f %12.1f %14.0f %12.4f\n", id.c_str(), steps / seconds, steps * batch / seconds,
                        peak, lastLoss);
            std::fflush(stdout);
            fs::remove_all(folder);
        }
    } catch (const std::exception &e) {
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
