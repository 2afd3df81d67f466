// Score-network evaluations per second and peak memory on the CPU, for the CIFAR-10 NCSN++
// continuous config (random weights), at batch 1, 8 and 64.
//
//   build/tests/bench/bench_score_network [--preset NAME] [--batches 1,8,64] [--seconds S] [--threads N]
//
// Threads: --threads, else OMP_NUM_THREADS, else all hardware threads.
// Each batch size gets one warm-up evaluation, then as many timed evaluations as fit in
// --seconds (at least two). Peak memory is the process's peak resident set (VmHWM), reset before
// each batch size, and its growth over the resident set before that batch.
#include "model/config.h"
#include "model/score_model.h"
#include "util/device.h"

#include "bench_support.h"
#include "util/build_info.h"

#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

using sde::bench::parseList;
using sde::bench::procStatusKb;
using sde::bench::resetPeakRss;


int main(int argc, char **argv)
{
    std::string preset = "ve/cifar10_ncsnpp_continuous";
    std::vector<int64_t> batches{1, 8, 64};
    double seconds = 20.0;
    int threads = 0;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::cerr << arg << " needs a value\n";
                std::exit(2);
            }
            return argv[++i];
        };
        if (arg == "--preset")
            preset = next();
        else if (arg == "--batches")
            batches = parseList(next());
        else if (arg == "--seconds")
            seconds = std::stod(next());
        else if (arg == "--threads")
            threads = std::stoi(next());
        else {
            std::cerr << "usage: bench_score_network [--preset NAME] [--batches 1,8,64] [--seconds S] [--threads N]\n";
            return 2;
        }
    }
    sde::configureThreads(threads);

    try {
        sde::ModelConfig config = sde::loadPreset(preset);
        torch::manual_seed(0);
        sde::ScoreModel model(config, sde::createScoreNetwork(config));
        torch::NoGradGuard noGrad;
        const auto shape = model.sampleShape();

        std::printf("SDE Studio %s, LibTorch %s, %d threads\n", SDE_VERSION, TORCH_VERSION, at::get_num_threads());
        std::printf("config %s: %s, %s, %lld parameters, input %lldx%lldx%lld, plain eager evaluation\n\n",
                    preset.c_str(), config.architectureName().c_str(), config.sdeDescription().c_str(),
                    static_cast<long long>(model.parameterCount()), static_cast<long long>(shape[0]),
                    static_cast<long long>(shape[1]), static_cast<long long>(shape[2]));
        std::printf("%6s %8s %12s %14s %16s %14s %14s\n", "batch", "evals", "ms/eval", "evals/s", "images/s",
                    "peak RSS MiB", "growth MiB");
        for (int64_t batch : batches) {
            torch::Tensor x = torch::rand({batch, shape[0], shape[1], shape[2]});
            torch::Tensor t = torch::rand({batch}) * (1.0 - 1e-5) + 1e-5;
            const long before = procStatusKb("VmRSS");
            resetPeakRss();
            model.score(x, t); // warm-up
            int evaluations = 0;
            const auto start = std::chrono::steady_clock::now();
            double elapsed = 0.0;
            while (evaluations < 2 || elapsed < seconds) {
                torch::Tensor s = model.score(x, t);
                ++evaluations;
                elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            }
            const long peak = procStatusKb("VmHWM");
            const double perEval = elapsed / evaluations;
            std::printf("%6lld %8d %12.1f %14.3f %16.3f %14.1f %14.1f\n", static_cast<long long>(batch), evaluations,
                        perEval * 1000.0, 1.0 / perEval, static_cast<double>(batch) / perEval, peak / 1024.0,
                        (peak - before) / 1024.0);
            std::fflush(stdout);
        }
    } catch (const std::exception &e) {
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
