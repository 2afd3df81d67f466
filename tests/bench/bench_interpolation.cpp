// The studio's Interpolate page on the bundled Fashion-MNIST model, timed: encoding two test
// images with RK45 (once per pair), then decoding after a temperature change, with the fast
// default solver (the slider's frame alone: what the user waits for; then all frames) and with
// RK45 at the reference's tolerance (the exact choice). Prints seconds and the mean |difference|
// between the two decodes' frames.
// Usage: bench_interpolation [--frames N] [--temperature T]
#include "data/image_data.h"
#include "editing/interpolation.h"
#include "io/model_file.h"
#include "model/score_model.h"
#include "sampling/sampling_settings.h"
#include "util/device.h"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

using namespace sde;

int main(int argc, char **argv)
{
    int64_t frames = 17;
    double temperature = 0.9;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string key = argv[i];
        if (key == "--frames")
            frames = std::stoll(argv[i + 1]);
        else if (key == "--temperature")
            temperature = std::stod(argv[i + 1]);
        else {
            std::cerr << "usage: bench_interpolation [--frames N] [--temperature T]\n";
            return 2;
        }
    }
    const int threads = configureThreads();
    try {
        LoadedModel loaded = loadModelFile("fashion-mnist");
        const ScoreModel &model = *loaded.model;
        IdxTrainingData test(fashionMnistImagesPath("test"), 28, 1, false);
        const torch::Tensor pair = test.images().slice(0, 0, 2);
        const std::vector<double> alphas = evenPositions(frames);
        std::printf("bench_interpolation: LibTorch %s, %d threads, fashion-mnist, %lld frames, temperature %g\n",
                    TORCH_VERSION, threads, static_cast<long long>(frames), temperature);
        using Clock = std::chrono::steady_clock;
        const auto since = [](Clock::time_point start) {
            return std::chrono::duration<double>(Clock::now() - start).count();
        };

        OdeSamplerOptions exact; // RK45, rtol = atol = 1e-5
        auto started = Clock::now();
        const SampleResult encoded = encodeLatent(model, model.scaler(pair), exact);
        std::printf("encode both ends (RK45):                  %6.2f s, %lld NFE\n", since(started),
                    static_cast<long long>(encoded.nfe));

        FastSamplerOptions fast = SamplingSettings::fastDefault(model.config()).fast;
        fast.temperature = exact.temperature = temperature;
        started = Clock::now();
        decodeInterpolation(model, encoded.x, {alphas[alphas.size() / 2]}, fast);
        std::printf("fast decode, the slider's frame (%s): %6.2f s\n", fastSolverTitle(fast.solver).c_str(),
                    since(started));
        started = Clock::now();
        const Interpolation quick = decodeInterpolation(model, encoded.x, alphas, fast);
        std::printf("fast decode, all %lld frames:               %6.2f s, %lld NFE\n", static_cast<long long>(frames),
                    since(started), static_cast<long long>(quick.nfe));
        started = Clock::now();
        const Interpolation slow = decodeInterpolation(model, encoded.x, alphas, exact);
        std::printf("RK45 decode, all %lld frames:               %6.2f s, %lld NFE\n", static_cast<long long>(frames),
                    since(started), static_cast<long long>(slow.nfe));
        std::printf("mean |fast - RK45| over the frames:        %.4f (in [0, 1])\n",
                    (quick.frames - slow.frames).abs().mean().item<double>());
    } catch (const std::exception &e) {
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
