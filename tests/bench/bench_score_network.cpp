// Score-network evaluations per second and peak memory on the CPU, for the CIFAR-10 NCSN++
// continuous config (random weights), at batch 1, 8 and 64, on the plain eager path (as the
// reference evaluates), on the oneDNN inference path (nets/inference.h) and on that path with
// bfloat16 convolutions (onednn-bf16, where the CPU runs them), with the GFLOP/s
// reached (one forward pass of that config is 21.8 GFLOP; --gflop for others) against the
// machine's peak: nominal (cores x clock x 32 FP32 FLOP per cycle: two 256-bit FMA pipes) and the
// best rate of one large oneDNN convolution measured here.
//
//   build/tests/bench/bench_score_network [--preset NAME | --model NAME] [--batches 1,8,64] [--seconds S] [--threads N]
//                                         [--paths plain,onednn,onednn-bf16] [--gflop G] [--device cuda]
//
// With --device cuda (a CUDA build of LibTorch) the paths are cuda (float32 eager), cuda-fp16 and
// cuda-bf16 (autocast, the score handed back float32), each also with "-graph" (cuda-graph,
// cuda-fp16-graph, cuda-bf16-graph: the evaluation replayed from a captured CUDA graph, as the
// samplers do at batch <= 64), timed with a synchronisation after every evaluation; the memory
// columns are then LibTorch's CUDA allocator's (peak, and growth over what was allocated before
// the batch size) and the CPU's peak does not apply.
//
// Threads: --threads, else OMP_NUM_THREADS, else all hardware threads.
// Each batch size gets one warm-up evaluation, then as many timed evaluations as fit in
// --seconds (at least two). Peak memory is the process's peak resident set (VmHWM), reset before
// each batch size, and its growth over the resident set before that batch.
#include "config/presets.h"
#include "io/model_file.h"
#include "model/score_model.h"
#include "nets/inference.h"
#include "util/cuda_graphs.h"
#include "util/cuda_support.h"
#include "util/device.h"

#include <torch/cuda.h>

#include "bench_support.h"
#include "util/build_info.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

using sde::bench::parseList;
using sde::bench::procStatusKb;
using sde::bench::resetPeakRss;

namespace {

// The clock /proc/cpuinfo reports, in GHz (0 when unknown).
double nominalGhz()
{
    std::ifstream info("/proc/cpuinfo");
    std::string line;
    while (std::getline(info, line))
        if (line.rfind("cpu MHz", 0) == 0)
            return std::stod(line.substr(line.find(':') + 1)) / 1000.0;
    return 0.0;
}

// GFLOP/s of a 256-channel 3x3 convolution on 8 images of 32x32 through oneDNN, in `dtype`: about
// the best rate this machine's convolution kernels reach in that format.
double bestConvolutionRate(double seconds, torch::Dtype dtype = torch::kFloat32)
{
    torch::NoGradGuard noGrad;
    torch::Tensor x = torch::randn({8, 256, 32, 32}).to(dtype);
    torch::Tensor w = torch::randn({256, 256, 3, 3}).to(dtype);
    auto run = [&] { return at::mkldnn_convolution(x, w, {}, {1, 1}, {1, 1}, {1, 1}, 1); };
    run();
    int n = 0;
    const auto start = std::chrono::steady_clock::now();
    double elapsed = 0.0;
    while (n < 3 || elapsed < seconds) {
        run();
        ++n;
        elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    return 2.0 * 8 * 256 * 256 * 9 * 32 * 32 * n / elapsed / 1e9;
}

} // namespace

int main(int argc, char **argv)
{
    std::string preset = "ve/cifar10_ncsnpp_continuous";
    bool fromModel = false; // --model NAME: a bundled model's (or a model file's) config
    std::vector<int64_t> batches{1, 8, 64};
    double seconds = 20.0;
    int threads = 0;
    double gflop = 0.0;
    std::vector<std::string> paths;
    std::string deviceName = "cpu";
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        auto next = [&] { return sde::bench::optionValue(argc, argv, i); };
        if (arg == "--preset")
            preset = next();
        else if (arg == "--model") {
            preset = next();
            fromModel = true;
        } else if (arg == "--batches")
            batches = parseList(next());
        else if (arg == "--seconds")
            seconds = std::stod(next());
        else if (arg == "--threads")
            threads = std::stoi(next());
        else if (arg == "--gflop")
            gflop = std::stod(next());
        else if (arg == "--device")
            deviceName = next();
        else if (arg == "--paths")
            paths = sde::bench::parseNames(next());
        else {
            std::cerr << "usage: bench_score_network [--preset NAME | --model NAME] [--batches 1,8,64] [--seconds S] "
                         "[--threads N] "
                         "[--paths plain,onednn,onednn-bf16] [--gflop G] [--device cpu|cuda]\n";
            return 2;
        }
    }
    sde::configureThreads(threads);

    try {
        sde::ModelConfig config = fromModel ? sde::loadModelFile(preset).model->config() : sde::loadPreset(preset);
        torch::manual_seed(0);
        sde::ScoreModel model(config, sde::createScoreNetwork(config));
        const torch::Device device = sde::parseDevice(deviceName);
        const bool cuda = device.is_cuda();
        model.to(device);
        if (paths.empty())
            paths = cuda ? std::vector<std::string>{"cuda",      "cuda-graph",     "cuda-fp16", "cuda-fp16-graph",
                                                    "cuda-bf16", "cuda-bf16-graph"}
                         : std::vector<std::string>{"plain", "onednn", "onednn-bf16"};
        torch::NoGradGuard noGrad;
        const auto shape = model.sampleShape();

        if (gflop <= 0.0 && preset == "ve/cifar10_ncsnpp_continuous")
            gflop = 21.8;
        const int cores = at::get_num_threads();
        const double nominal = cores * nominalGhz() * 32.0;
        std::printf("SDE Studio %s, LibTorch %s, %d threads\n", SDE_VERSION, TORCH_VERSION, cores);
        std::printf("config %s: %s, %s, %lld parameters, input %lldx%lldx%lld, %.1f GFLOP per image\n", preset.c_str(),
                    config.architectureName().c_str(), config.sdeDescription().c_str(),
                    static_cast<long long>(model.parameterCount()), static_cast<long long>(shape[0]),
                    static_cast<long long>(shape[1]), static_cast<long long>(shape[2]), gflop);
        const bool bf16Runs = sde::precisionUnsupportedReason(sde::EvaluationPrecision::BFloat16, torch::kCPU).empty();
        const double best = cuda ? 0.0 : bestConvolutionRate(std::min(seconds, 5.0));
        const double bestBf16 = cuda || !bf16Runs ? 0.0 : bestConvolutionRate(std::min(seconds, 5.0), torch::kBFloat16);
        if (cuda)
            std::printf("device %s: %s\n", device.str().c_str(), sde::cudaDeviceDescription(device.index()).c_str());
        else
            std::printf("peak: nominal %.0f GFLOP/s (%d cores x %.2f GHz x 32 FLOP/cycle); best oneDNN convolution "
                        "measured %.0f GFLOP/s in float32, %.0f in bfloat16 (%% of best: against the row's format)\n",
                        nominal, cores, nominalGhz(), best, bestBf16);
        std::printf("reference (PyTorch 1.13 eager, CPU, 2 threads, measured on this machine type): 1.09 evals/s at "
                    "batch 1, 2.39 images/s at batch 8\n\n");
        std::printf("%-11s %6s %8s %10s %10s %10s %10s %11s %10s %10s\n", "path", "batch", "evals", "ms/eval",
                    "evals/s", "images/s", "GFLOP/s", "% of best", "peak MiB", "growth MiB");
        const std::vector<std::string> known =
            cuda ? std::vector<std::string>{"cuda",      "cuda-graph",     "cuda-fp16", "cuda-fp16-graph",
                                            "cuda-bf16", "cuda-bf16-graph"}
                 : std::vector<std::string>{"plain", "onednn", "onednn-bf16"};
        for (const std::string &pathName : paths) {
            if (std::find(known.begin(), known.end(), pathName) == known.end()) {
                std::cerr << "unknown path '" << pathName << "' on " << device.str() << " (expected "
                          << (cuda ? "cuda, cuda-fp16 or cuda-bf16, each optionally with -graph"
                                   : "plain, onednn or onednn-bf16")
                          << ")\n";
                return 2;
            }
            const bool graph = pathName.size() > 6 && pathName.substr(pathName.size() - 6) == "-graph";
            const bool bf16 = pathName == "onednn-bf16" || pathName.rfind("cuda-bf16", 0) == 0;
            sde::setCudaGraphsEnabled(graph);
            const sde::EvaluationPrecision precisionOfPath = bf16 ? sde::EvaluationPrecision::BFloat16
                                                             : pathName.rfind("cuda-fp16", 0) == 0
                                                                 ? sde::EvaluationPrecision::Float16
                                                                 : sde::EvaluationPrecision::Float32;
            const std::string unsupported = sde::precisionUnsupportedReason(precisionOfPath, device);
            if (!unsupported.empty()) {
                std::printf("%-11s skipped: %s\n", pathName.c_str(), unsupported.c_str());
                continue;
            }
            sde::EvaluationPathScope scope(pathName == "plain" ? sde::EvaluationPath::Plain
                                                               : sde::EvaluationPath::OneDnn);
            sde::EvaluationPrecisionScope precision(precisionOfPath);
            auto evaluate = [&](const torch::Tensor &x, const torch::Tensor &t) {
                torch::Tensor s = model.score(x, t);
                if (cuda)
                    torch::cuda::synchronize();
                return s;
            };
            for (int64_t batch : batches) {
                torch::Tensor x = torch::rand({batch, shape[0], shape[1], shape[2]}).to(device);
                torch::Tensor t = (torch::rand({batch}) * (1.0 - 1e-5) + 1e-5).to(device);
                const long before =
                    cuda ? static_cast<long>(sde::cudaMemory(device).allocatedMiB * 1024.0) : procStatusKb("VmRSS");
                resetPeakRss();
                sde::resetCudaPeakMemory(device);
                evaluate(x, t); // warm-up (and, on the oneDNN path, the weights' prepacking)
                int evaluations = 0;
                const auto start = std::chrono::steady_clock::now();
                double elapsed = 0.0;
                while (evaluations < 2 || elapsed < seconds) {
                    evaluate(x, t);
                    ++evaluations;
                    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
                }
                const long peak =
                    cuda ? static_cast<long>(sde::cudaMemory(device).peakAllocatedMiB * 1024.0) : procStatusKb("VmHWM");
                const double perEval = elapsed / evaluations;
                const double rate = gflop * static_cast<double>(batch) / perEval;
                const double bestOfFormat = bf16 ? bestBf16 : best;
                std::printf("%-11s %6lld %8d %10.1f %10.3f %10.3f %10.1f %10.0f%% %10.1f %10.1f\n", pathName.c_str(),
                            static_cast<long long>(batch), evaluations, perEval * 1000.0, 1.0 / perEval,
                            static_cast<double>(batch) / perEval, rate,
                            bestOfFormat > 0.0 ? 100.0 * rate / bestOfFormat : 0.0, peak / 1024.0,
                            (peak - before) / 1024.0);
                std::fflush(stdout);
            }
        }
    } catch (const std::exception &e) {
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
