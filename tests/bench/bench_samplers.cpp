// NFE per second and peak memory of the samplers, on the CPU, for the CIFAR-10 NCSN++ continuous
// config (random weights), at batch 1 and 16:
//
//   build/tests/bench/bench_samplers [--preset NAME] [--batches 1,16] [--seconds S] [--threads N]
//
// Each run is stopped after --seconds through the sampler's cancel token (the full 1000-step runs
// take hours on a CPU); NFE/s is what it reached. Rows:
//   pc       our PC sampler: reverse diffusion + Langevin (snr 0.16), per-sample noise streams
//   pc-ref   the reference's PC loop (sampling.get_pc_sampler) reproduced: the same predictor and
//            corrector updates with one global generator and batch-mean Langevin norms
//   ode      our probability-flow ODE sampler: RK45, rtol = atol = 1e-5, state on the device
//   ode-ref  the reference's ODE loop reproduced: every evaluation copies the state to a float64
//            host vector and back, as scipy.integrate.solve_ivp forces there
#include "config/presets.h"
#include "model/score_model.h"
#include "sampling/correctors.h"
#include "sampling/ode_sampler.h"
#include "sampling/pc_sampler.h"
#include "sampling/predictors.h"
#include "sde/reverse_sde.h"
#include "util/device.h"

#include "bench_support.h"

#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using sde::bench::peakRssKb;
using sde::bench::resetPeakRss;

struct Figure {
    int64_t nfe = 0;
    double seconds = 0.0;
    long peakKb = 0;
};

void print(const char *name, int64_t batch, const Figure &f)
{
    std::printf("%-8s %6lld %8lld %10.1f %10.3f %14.3f %12.1f\n", name, static_cast<long long>(batch),
                static_cast<long long>(f.nfe), f.seconds, f.nfe / f.seconds, f.nfe * batch / f.seconds,
                f.peakKb / 1024.0);
    std::fflush(stdout);
}

} // namespace

int main(int argc, char **argv)
{
    std::string preset = "ve/cifar10_ncsnpp_continuous";
    std::vector<int64_t> batches{1, 16};
    double seconds = 30.0;
    int threads = 0;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (i + 1 >= argc) {
            std::cerr << "usage: bench_samplers [--preset NAME] [--batches 1,16] [--seconds S] [--threads N]\n";
            return 2;
        }
        std::string value = argv[++i];
        if (arg == "--preset")
            preset = value;
        else if (arg == "--seconds")
            seconds = std::stod(value);
        else if (arg == "--threads")
            threads = std::stoi(value);
        else if (arg == "--batches")
            batches = sde::bench::parseList(value);
        else {
            std::cerr << "unknown option " << arg << "\n";
            return 2;
        }
    }
    sde::configureThreads(threads);
    try {
        sde::ModelConfig config = sde::loadPreset(preset);
        torch::manual_seed(0);
        sde::ScoreModel model(config, sde::createScoreNetwork(config));
        torch::NoGradGuard noGrad;
        std::printf("config %s (%s, %s), %d threads, stopping each run after %.0f s\n\n", preset.c_str(),
                    config.architectureName().c_str(), config.sdeDescription().c_str(), at::get_num_threads(), seconds);
        std::printf("%-8s %6s %8s %10s %10s %14s %12s\n", "sampler", "batch", "NFE", "seconds", "NFE/s", "image-NFE/s",
                    "peak MiB");

        for (int64_t batch : batches) {
            // Ours, stopped by the cancel token after the time budget.
            auto timed = [&](auto run) {
                sde::CancelToken cancel;
                resetPeakRss();
                const auto start = Clock::now();
                auto onStep = [&](const sde::SamplerStep &) {
                    if (std::chrono::duration<double>(Clock::now() - start).count() > seconds)
                        cancel.cancel();
                };
                sde::SampleResult r = run(onStep, &cancel);
                return Figure{r.nfe, std::chrono::duration<double>(Clock::now() - start).count(), peakRssKb()};
            };
            sde::PcSamplerOptions pc = sde::PcSamplerOptions::fromConfig(config);
            print("pc", batch,
                  timed([&](auto onStep, auto *cancel) { return sde::pcSample(model, batch, 1, pc, onStep, cancel); }));

            { // The reference's PC loop.
                resetPeakRss();
                const auto start = Clock::now();
                const sde::Sde &sde = model.sde();
                sde::ScoreFn score = model.scoreFn();
                auto predictor = sde::createPredictor("reverse_diffusion", sde, score);
                sde::LangevinCorrector corrector(sde, score, 0.16, 1);
                sde::NoiseFn noise = [](const torch::Tensor &like) { return torch::randn_like(like); };
                torch::Tensor x = sde.priorSampling({batch, 3, 32, 32}, torch::TensorOptions());
                torch::Tensor times = torch::linspace(1.0, 1e-5, sde.N());
                Figure f;
                for (int64_t i = 0; i < sde.N(); ++i) {
                    torch::Tensor t = torch::full({batch}, times[i].item<float>());
                    x = corrector.update(x, t, noise).first;
                    x = predictor->update(x, t, noise).first;
                    f.nfe += 2;
                    f.seconds = std::chrono::duration<double>(Clock::now() - start).count();
                    if (f.seconds > seconds)
                        break;
                }
                f.peakKb = peakRssKb();
                print("pc-ref", batch, f);
            }

            sde::OdeSamplerOptions ode;
            print("ode", batch, timed([&](auto onStep, auto *cancel) {
                      return sde::odeSample(model, batch, 1, ode, onStep, cancel);
                  }));

            { // The reference's ODE loop: a host float64 vector in, float32 tensors to the model, back out.
                resetPeakRss();
                const auto start = Clock::now();
                sde::ReverseSde flow(model.sde(), model.scoreFn(), true);
                const std::vector<int64_t> shape{batch, 3, 32, 32};
                sde::CancelToken cancel;
                sde::OdeFunction rhs = [&](double t, const torch::Tensor &y) {
                    torch::Tensor host = y.to(torch::kCPU, torch::kFloat64).clone(); // numpy's copy
                    torch::Tensor xt = host.view(shape).to(torch::kFloat32).to(model.device());
                    torch::Tensor drift = flow.sde(xt, torch::full({batch}, t)).first;
                    return drift.to(torch::kCPU).to(torch::kFloat64).flatten().clone();
                };
                torch::Tensor y0 = (torch::randn(shape) * model.sde().priorStd()).to(torch::kFloat64).flatten();
                sde::OdeResult r = sde::solveOde(
                    rhs, 1.0, 1e-5, y0, sde::OdeOptions{}, [&](int64_t, double, const torch::Tensor &, int64_t) {
                        return std::chrono::duration<double>(Clock::now() - start).count() < seconds;
                    });
                print("ode-ref", batch,
                      Figure{r.nfe, std::chrono::duration<double>(Clock::now() - start).count(), peakRssKb()});
            }
        }
    } catch (const std::exception &e) {
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
