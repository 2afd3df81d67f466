// Bits/dim of Fashion-MNIST test images under the bundled model, the protocol of the CLI's bpd and
// the studio's Likelihood tab (imageBitsPerDim: dequantized, image i with seed + i), timed two
// ways: one image at a time (imageBitsPerDim, how both ran before) and kBitsPerDimBatch at a time
// (imagesBitsPerDim, how both run now). Prints seconds per image and the largest difference
// between the two ways' figures.
// Usage: bench_likelihood [--images N] [--rtol X] [--skip-single]
#include "data/image_data.h"
#include "io/model_file.h"
#include "likelihood/likelihood.h"
#include "model/score_model.h"
#include "util/device.h"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

using namespace sde;

int main(int argc, char **argv)
{
    int64_t count = 8;
    double rtol = 1e-5;
    bool single = true;
    for (int i = 1; i < argc; ++i) {
        const std::string key = argv[i];
        if (key == "--images" && i + 1 < argc)
            count = std::stoll(argv[++i]);
        else if (key == "--rtol" && i + 1 < argc)
            rtol = std::stod(argv[++i]);
        else if (key == "--skip-single")
            single = false;
        else {
            std::cerr << "usage: bench_likelihood [--images N] [--rtol X] [--skip-single]\n";
            return 2;
        }
    }
    const int threads = configureThreads();
    try {
        LoadedModel loaded = loadModelFile("fashion-mnist");
        const ScoreModel &model = *loaded.model;
        IdxTrainingData test(fashionMnistImagesPath("test"), 28, 1, false);
        const torch::Tensor all = test.images().slice(0, 0, count);
        std::vector<torch::Tensor> images;
        for (int64_t i = 0; i < count; ++i)
            images.push_back(all[i]);
        LikelihoodOptions options;
        options.ode.rtol = options.ode.atol = rtol;
        const uint64_t seed = 0;
        std::printf("bench_likelihood: LibTorch %s, %d threads, fashion-mnist, %lld test images, rtol = atol = %g\n",
                    TORCH_VERSION, threads, static_cast<long long>(count), rtol);
        using Clock = std::chrono::steady_clock;

        std::vector<double> one(static_cast<size_t>(count), 0.0);
        if (single) {
            const auto started = Clock::now();
            for (int64_t i = 0; i < count; ++i)
                one[static_cast<size_t>(i)] =
                    imageBitsPerDim(model, images[static_cast<size_t>(i)], true, seed + i, options)
                        .bitsPerDim.item<double>();
            const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
            std::printf("one at a time (imageBitsPerDim):      %.2f s per image\n", seconds / count);
        }
        const auto started = Clock::now();
        double mean = 0.0, gap = 0.0;
        for (int64_t start = 0; start < count; start += kBitsPerDimBatch) {
            const int64_t end = std::min(count, start + kBitsPerDimBatch);
            const std::vector<torch::Tensor> chunk(images.begin() + start, images.begin() + end);
            const LikelihoodResult r = imagesBitsPerDim(model, chunk, true, seed + start, options);
            for (int64_t j = 0; j < end - start; ++j) {
                const double bpd = r.bitsPerDim[j].item<double>();
                mean += bpd / count;
                if (single)
                    gap = std::max(gap, std::abs(bpd - one[static_cast<size_t>(start + j)]));
            }
        }
        const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
        std::printf("%lld at a time (imagesBitsPerDim):     %.2f s per image; mean %.4f bits/dim\n",
                    static_cast<long long>(std::min<int64_t>(count, kBitsPerDimBatch)), seconds / count, mean);
        if (single)
            std::printf("largest |difference| between the two: %.2e bits/dim\n", gap);
    } catch (const std::exception &e) {
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
