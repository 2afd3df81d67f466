// Quality per score evaluation (issue: fast sampling): FD-FMNIST (fmnist_quality.h) of the bundled
// Fashion-MNIST model's samples for every fast sampler at a list of NFE budgets, next to the
// reference's own samplers at 1000 to 2000 NFE (PC reverse diffusion and Euler-Maruyama at each,
// reverse diffusion + Langevin from 2000), all from the same seeds (sample i of every row
// starts from the same prior draw). The target: at 20 NFE within 10 % of the best 1000-NFE figure.
// The deterministic samplers (DPM-Solver++, DDIM eta 0, EDM without churn) solve the same
// probability-flow ODE whose test bits/dim --bpd-images measures (RK45), so that figure is theirs
// at any NFE; the table's last column checks it by the round trip: encode test images with RK45
// and decode the latents with the sampler, the mean |difference| in [0, 1].
//
//   build/tests/bench/bench_quality_per_nfe [--samples N] [--nfe 5,10,20,50,1000]
//       [--solvers dpm2m,dpm3m,dpm2s,edm,ddim,adaptive] [--reference-nfe 1000,2000|none] [--batch B]
//       [--adaptive-rtol 0.1,0.05,0.02] [--bpd-images M]
//       [--reference-samplers rd,em,rdl]   (reverse diffusion, Euler-Maruyama, RD + Langevin)
//       [--inpaint-images M] [--precision float32|bfloat16] [--grids logsnr,karras]
// --inpaint-images fills the lower halves of the first M test images with each sampler and prints
// the mean |filled - truth| in the hole, next to unconditional samples from the same seeds.
// --precision evaluates the network in that number format (nets/inference.h); the sampler's state
// stays float32. --grids runs the DPM-Solver++ rows on each time grid (FastSamplerOptions::grid; rows
// on a grid other than the default name it).
#include "editing/inpainting.h"
#include "io/model_file.h"
#include "likelihood/likelihood.h"
#include "model/score_model.h"
#include "nets/inference.h"
#include "sampling/fast_samplers.h"
#include "sampling/ode_sampler.h"
#include "sampling/pc_sampler.h"
#include "sampling/sampling_settings.h"
#include "util/device.h"

#include "bench_support.h"
#include "fmnist_quality.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

using namespace sde;

namespace {

using Clock = std::chrono::steady_clock;

struct Row {
    std::string sampler;
    int64_t nfe = 0;
    double fd = 0.0;
    double seconds = 0.0;
};

// Runs `sample(batch, seed)` over `count` samples in batches; returns the images and the NFE of
// one sample.
std::pair<torch::Tensor, int64_t> generate(int64_t count, int64_t batch,
                                           const std::function<SampleResult(int64_t, uint64_t)> &sample)
{
    std::vector<torch::Tensor> parts;
    int64_t nfe = 0;
    for (int64_t start = 0; start < count; start += batch) {
        SampleResult r = sample(std::min(batch, count - start), 1000 + static_cast<uint64_t>(start));
        parts.push_back(r.samples.clamp(0.0, 1.0));
        nfe = std::max(nfe, r.nfe);
    }
    return {torch::cat(parts), nfe};
}

std::vector<std::string> splitList(const std::string &text)
{
    std::vector<std::string> out;
    std::stringstream in(text);
    for (std::string item; std::getline(in, item, ',');)
        out.push_back(item);
    return out;
}

} // namespace

int main(int argc, char **argv)
{
    int64_t samples = 1000, batch = 100, bpdImages = 0, inpaintImages = 0;
    std::vector<int64_t> budgets{5, 10, 20, 50, 1000};
    std::vector<int64_t> referenceNfe{1000, 2000};
    std::vector<std::string> solvers = fastSolverIds();
    std::vector<std::string> referenceSamplers{"rd", "em", "rdl"};
    std::vector<double> adaptiveRtol{0.1, 0.05, 0.02};
    std::string precisionName = "float32";
    const std::string defaultGrid = FastSamplerOptions{}.grid;
    std::vector<std::string> grids{defaultGrid};
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string key = argv[i], value = argv[i + 1];
        if (key == "--samples")
            samples = std::stoll(value);
        else if (key == "--batch")
            batch = std::stoll(value);
        else if (key == "--nfe")
            budgets = bench::parseList(value);
        else if (key == "--reference-nfe")
            referenceNfe = value == "none" ? std::vector<int64_t>{} : bench::parseList(value);
        else if (key == "--solvers")
            solvers = splitList(value);
        else if (key == "--reference-samplers")
            referenceSamplers = splitList(value);
        else if (key == "--adaptive-rtol") {
            adaptiveRtol.clear();
            for (const std::string &item : splitList(value))
                adaptiveRtol.push_back(std::stod(item));
        } else if (key == "--bpd-images")
            bpdImages = std::stoll(value);
        else if (key == "--inpaint-images")
            inpaintImages = std::stoll(value);
        else if (key == "--precision")
            precisionName = value;
        else if (key == "--grids")
            grids = splitList(value);
        else {
            std::cerr << "unknown option " << key << "\n";
            return 2;
        }
    }
    const int threads = configureThreads();
    try {
        LoadedModel loaded = loadModelFile("fashion-mnist");
        const ScoreModel &model = *loaded.model;
        const EvaluationPrecision precision = precisionFromId(precisionName);
        checkPrecision(precision, model.device());
        EvaluationPrecisionScope precisionScope(precision);
        bench::FashionMnistDistance distance;
        std::printf("bench_quality_per_nfe: LibTorch %s, %d threads, %s evaluations; fashion-mnist (%s, %s, "
                    "step %lld); %lld samples per row, the same seeds in every row\n",
                    TORCH_VERSION, threads, precisionName.c_str(), model.config().architectureName().c_str(),
                    model.config().sdeDescription().c_str(), static_cast<long long>(loaded.info.step),
                    static_cast<long long>(samples));
        std::printf(
            "FD-FMNIST of %lld real training images (the floor at this count): %.3f\n\n",
            static_cast<long long>(samples),
            distance(IdxTrainingData(fashionMnistImagesPath("train"), 28, 1, false).images().slice(0, 0, samples)));
        std::printf("%-34s %6s %10s %10s %12s\n", "sampler", "NFE", "FD-FMNIST", "seconds", "s/image");
        std::vector<Row> rows;
        auto record = [&](const std::string &name, const std::function<SampleResult(int64_t, uint64_t)> &sample) {
            const auto start = Clock::now();
            auto [images, nfe] = generate(samples, batch, sample);
            Row row{name, nfe, distance(images), std::chrono::duration<double>(Clock::now() - start).count()};
            std::printf("%-34s %6lld %10.3f %10.1f %12.3f\n", row.sampler.c_str(), static_cast<long long>(row.nfe),
                        row.fd, row.seconds, row.seconds / samples);
            std::fflush(stdout);
            rows.push_back(row);
        };

        // The reference's samplers: PC reverse diffusion (the config's), Euler-Maruyama, and
        // reverse diffusion with the Langevin corrector (two evaluations per step).
        auto wanted = [&](const char *id) {
            return std::find(referenceSamplers.begin(), referenceSamplers.end(), id) != referenceSamplers.end();
        };
        for (int64_t nfe : referenceNfe) {
            PcSamplerOptions pc = PcSamplerOptions::fromConfig(model.config());
            pc.corrector = "none";
            pc.steps = nfe;
            if (wanted("rd"))
                record("PC reverse diffusion (reference)",
                       [&](int64_t b, uint64_t seed) { return pcSample(model, b, seed, pc); });
            pc.predictor = "euler_maruyama";
            if (wanted("em"))
                record("PC Euler-Maruyama (reference)",
                       [&](int64_t b, uint64_t seed) { return pcSample(model, b, seed, pc); });
            if (nfe < 2000 || !wanted("rdl"))
                continue; // Langevin doubles the cost per step: only at the reference's 2000 NFE
            pc.predictor = "reverse_diffusion";
            pc.corrector = "langevin";
            pc.steps = nfe / 2;
            record("PC reverse diffusion + Langevin",
                   [&](int64_t b, uint64_t seed) { return pcSample(model, b, seed, pc); });
        }
        for (const std::string &solver : solvers) {
            if (solver == "adaptive") {
                for (double rtol : adaptiveRtol) {
                    FastSamplerOptions options;
                    options.solver = solver;
                    options.rtol = rtol;
                    record("adaptive reverse SDE, rtol " + std::to_string(rtol).substr(0, 4),
                           [&](int64_t b, uint64_t seed) { return fastSample(model, b, seed, options); });
                }
                continue;
            }
            for (const std::string &grid : usesTimeGrid(solver) ? grids : std::vector<std::string>{defaultGrid})
                for (int64_t nfe : budgets) {
                    FastSamplerOptions options;
                    options.solver = solver;
                    options.grid = grid;
                    options.steps = stepsForNfe(solver, nfe);
                    const std::string title =
                        fastSolverTitle(solver) + (grid == defaultGrid ? "" : ", " + grid + " grid");
                    record(title, [&](int64_t b, uint64_t seed) { return fastSample(model, b, seed, options); });
                }
        }

        double best1000 = 0.0;
        for (const Row &row : rows)
            if (row.nfe >= 999 && (best1000 == 0.0 || row.fd < best1000))
                best1000 = row.fd;
        if (best1000 > 0.0) {
            std::printf("\nbest figure at 1000 NFE or more: %.3f; at about 20 NFE (target: within 10 %%):\n", best1000);
            for (const Row &row : rows)
                if (row.nfe >= 19 && row.nfe <= 20)
                    std::printf("  %-32s %6lld %10.3f  %+6.1f %%\n", row.sampler.c_str(),
                                static_cast<long long>(row.nfe), row.fd, 100.0 * (row.fd / best1000 - 1.0));
        }

        if (bpdImages > 0) {
            torch::Tensor x = distance.test().images().slice(0, 0, bpdImages);
            at::Generator generator = at::detail::createCPUGenerator(5);
            x = (x * 255.0 + torch::rand(x.sizes(), generator)) / 256.0;
            LikelihoodOptions options;
            options.generator = generator;
            LikelihoodResult result = bitsPerDim(model, model.scaler(x), options);
            std::printf(
                "\ntest bits/dim of the probability-flow ODE (RK45, first %lld test images, dequantized): %.4f\n",
                static_cast<long long>(bpdImages), result.bitsPerDim.mean().item<double>());
            // The deterministic samplers decode the same flow: RK45 latents of test images come back.
            SampleResult latents = encodeLatent(model, model.scaler(x), OdeSamplerOptions{});
            std::printf("round trip (RK45 encode, decode by the sampler), mean |x - decoded| in [0, 1]:\n");
            for (const std::string &solver : {std::string("dpm2m"), std::string("dpm3m"), std::string("dpm2s"),
                                              std::string("edm"), std::string("ddim")})
                for (int64_t nfe : {10, 20, 50}) {
                    FastSamplerOptions options;
                    options.solver = solver;
                    options.steps = stepsForNfe(solver, nfe);
                    SampleResult decoded = fastSampleFrom(model, latents.x, options);
                    std::printf("  %-20s NFE %3lld: %.4f\n", fastSolverTitle(solver).c_str(),
                                static_cast<long long>(decoded.nfe),
                                (decoded.samples.clamp(0.0, 1.0) - x).abs().mean().item<double>());
                }
        }

        if (inpaintImages > 0) {
            const torch::Tensor x = distance.test().images().slice(0, 0, inpaintImages);
            const int64_t half = x.size(2) / 2;
            torch::Tensor mask = torch::ones({1, 1, x.size(2), x.size(3)});
            mask.slice(2, half).fill_(0.0);
            std::printf(
                "\ninpainting the lower half of the first %lld test images, mean |filled - truth| in the hole:\n",
                static_cast<long long>(inpaintImages));
            std::printf("%-44s %6s %10s %10s\n", "sampler", "NFE", "hole error", "seconds");
            auto fill = [&](const std::string &name, const std::string &method, int64_t nfe, double eta, double churn,
                            bool conditional) {
                SamplingSettings settings = SamplingSettings::fromConfig(model.config());
                settings.method = method;
                settings.precision = precision;
                settings.seed = 1000;
                settings.batch = x.size(0);
                settings.pc.corrector = "none";
                settings.pc.steps = nfe;
                settings.fast.steps = isFastSolver(method) ? stepsForNfe(method, nfe) : 0;
                settings.fast.eta = eta;
                settings.fast.churn = churn;
                const auto start = Clock::now();
                SampleResult r = conditional ? inpaint(model, x, mask, settings) : runSampler(model, settings);
                const double error = (r.samples.clamp(0.0, 1.0) - x).slice(2, half).abs().mean().item<double>();
                std::printf("%-44s %6lld %10.3f %10.1f\n", name.c_str(), static_cast<long long>(r.nfe), error,
                            std::chrono::duration<double>(Clock::now() - start).count());
                std::fflush(stdout);
            };
            fill("unconditional (DPM-Solver++ 2M)", "dpm2m", 20, 0.0, 0.0, false);
            fill("PC reverse diffusion (reference inpainter)", "pc", 1000, 0.0, 0.0, true);
            for (const std::string &solver : {std::string("dpm2m"), std::string("dpm3m"), std::string("dpm2s"),
                                              std::string("edm"), std::string("ddim")})
                fill(fastSolverTitle(solver), solver, 20, 0.0, 0.0, true);
            fill("DDIM eta 1", "ddim", 20, 1.0, 0.0, true);
            fill("DDIM eta 1", "ddim", 50, 1.0, 0.0, true);
            fill("EDM Heun, churn 10", "edm", 20, 0.0, 10.0, true);
            fill("EDM Heun, churn 10", "edm", 50, 0.0, 10.0, true);
            fill("adaptive reverse SDE, rtol 0.05", "adaptive", 0, 0.0, 0.0, true);
        }
    } catch (const std::exception &e) {
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
