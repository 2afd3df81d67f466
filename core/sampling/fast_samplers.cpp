#include "sampling/fast_samplers.h"

#include "sampling/sampler_catalogue.h"
#include "sampling/sampling_memory.h"
#include "sampling/sampling_settings.h"

#include "model/score_model.h"
#include "sampling/noise_schedule.h"
#include "sampling/score_cache.h"
#include "util/error.h"

#include <algorithm>
#include <cmath>
#include <functional>

namespace sde {

namespace {

// What every fast sampler shares: the model seen as a denoiser at a time, the schedule, the
// noise streams, the NFE count and the per-step report.
class FastRun {
public:
    FastRun(const ScoreModel &model, const ScoreFn &score, int64_t batch, uint64_t seed,
            const FastSamplerOptions &options, const SamplerCallback &onStep, const CancelToken *cancel)
        : scoreModel(model), schedule(model.sde()), eps(options.eps > 0.0 ? options.eps : model.config().samplingEps()),
          T(model.sde().T()), givenScore(static_cast<bool>(score)), cache_(model, score), score_(cache_.scoreFn()),
          streams_(seed, batch), onStep_(onStep), cancel_(cancel)
    {
        shape_ = model.sampleShape();
        shape_.insert(shape_.begin(), batch);
        floatOptions_ = torch::TensorOptions().dtype(torch::kFloat32).device(model.device());
    }

    // The start at T, scaled by the temperature: a prior sample, or the given latent.
    torch::Tensor prior(double temperature)
    {
        if (latent.defined())
            return latent.to(floatOptions_) * temperature;
        return streams_.randn(shape_, floatOptions_) * (scoreModel.sde().priorStd() * temperature);
    }
    torch::Tensor noiseLike(const torch::Tensor &x) { return streams_.randn(x); }

    torch::Tensor times(double t, int64_t rows) const { return torch::full({rows}, t, floatOptions_); }

    // x0(x, t) for a state at one time t; counted in the NFE.
    torch::Tensor denoise(const torch::Tensor &x, double t)
    {
        torch::Tensor vt = times(t, x.size(0));
        torch::Tensor s = score_(x, vt);
        const double sigma = schedule.sigma(t);
        return (x + sigma * sigma * s) / schedule.alpha(t);
    }
    // The score at per-sample times; counted in the NFE.
    torch::Tensor score(const torch::Tensor &x, const torch::Tensor &t) { return score_(x, t); }

    bool cancelled() const { return cancel_ && cancel_->requested(); }

    // Reports a step with the state x at time t; `x0` is the estimate the step computed.
    // Every sampler reports each step: a run whose estimate (so its score) at this step turned
    // non-finite stops here.
    void report(int64_t step, int64_t total, double t, const torch::Tensor &x, const torch::Tensor &x0)
    {
        requireFiniteState(x0, step, total, t);
        send(step, total, t, x, [x0] { return x0; });
    }
    // The same for per-sample times (adaptive): the estimate is made only when asked for.
    void report(int64_t step, double t, const torch::Tensor &x, const torch::Tensor &tPerSample)
    {
        requireFiniteState(x, step, 0, t);
        if (onStep_)
            send(step, 0, t, x, cache_.tweedie(x, tPerSample));
    }

    SampleResult finish(const torch::Tensor &x, int64_t steps, bool completed) const
    {
        if (completed) // the last estimate, at eps
            requireFiniteState(x, steps, steps, eps);
        SampleResult result;
        result.x = x;
        result.samples = scoreModel.inverseScaler(x);
        result.nfe = cache_.evaluations();
        result.steps = steps;
        result.completed = completed;
        return result;
    }

    const ScoreModel &scoreModel;
    const NoiseSchedule schedule;
    const double eps; // the last time
    const double T;
    const bool givenScore; // a guided or constrained score replaces the model's
    torch::Tensor latent;  // when set, the start instead of a prior sample

private:
    void send(int64_t step, int64_t total, double t, const torch::Tensor &x, std::function<torch::Tensor()> denoised)
    {
        if (!onStep_)
            return;
        SamplerStep info;
        info.step = step;
        info.totalSteps = total;
        info.t = t;
        info.x = x;
        info.nfe = cache_.evaluations();
        info.denoised = std::move(denoised);
        onStep_(info);
    }

    ScoreCache cache_;
    ScoreFn score_;
    NoiseStreams streams_;
    SamplerCallback onStep_;
    const CancelToken *cancel_;
    torch::TensorOptions floatOptions_;
    std::vector<int64_t> shape_;
};

// n noise levels sigma / alpha from that at T to that at eps, uniform in level^(1/rho) (the
// grid of Karras et al. 2022), and their times.
struct SigmaGrid {
    std::vector<double> sigmas;
    std::vector<double> t;
};
SigmaGrid karrasGrid(const FastRun &run, int64_t n, double rho)
{
    const double highest = run.schedule.scaledSigma(run.T), lowest = run.schedule.scaledSigma(run.eps);
    const double top = std::pow(highest, 1.0 / rho);
    const double bottom = std::pow(lowest, 1.0 / rho);
    SigmaGrid grid{std::vector<double>(static_cast<size_t>(n)), std::vector<double>(static_cast<size_t>(n))};
    for (int64_t i = 0; i < n; ++i) {
        const double f = static_cast<double>(i) / static_cast<double>(n - 1);
        // The ends exactly: at a small rho, top - bottom rounds to top and the last level to 0.
        grid.sigmas[i] = i == 0 ? highest : i == n - 1 ? lowest : std::pow(top + f * (bottom - top), rho);
        grid.t[i] = i == 0 ? run.T : i == n - 1 ? run.eps : run.schedule.timeOf(-std::log(grid.sigmas[i]));
    }
    return grid;
}

// n times from T to eps for the DPM-Solver++ samplers: uniform in lambda, or on the Karras grid.
std::vector<double> dpmTimes(const FastRun &run, const FastSamplerOptions &options)
{
    const int64_t n = options.steps;
    if (options.grid == "karras")
        return karrasGrid(run, n, options.rho).t;
    const double first = run.schedule.lambda(run.T);
    const double last = run.schedule.lambda(run.eps);
    std::vector<double> t(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
        t[i] = i == 0       ? run.T
               : i == n - 1 ? run.eps
                            : run.schedule.timeOf(first + (last - first) * i / static_cast<double>(n - 1));
    return t;
}

// The loop the grid samplers share: at each time t[i] the estimate x0 of the state; at the last
// time that estimate is the result, before it `advance(i, x, x0)` gives the state at t[i + 1].
using Advance = std::function<torch::Tensor(int64_t i, const torch::Tensor &x, const torch::Tensor &x0)>;
SampleResult walkGrid(FastRun &run, const std::vector<double> &t, double temperature, const Advance &advance)
{
    const int64_t n = static_cast<int64_t>(t.size());
    torch::Tensor x = run.prior(temperature);
    for (int64_t i = 0; i < n; ++i) {
        if (run.cancelled())
            return run.finish(x, i, false);
        torch::Tensor x0 = run.denoise(x, t[i]);
        if (i == n - 1) {
            run.report(i + 1, n, t[i], x, x0);
            return run.finish(x0, n, true);
        }
        torch::Tensor next = advance(i, x, x0);
        run.report(i + 1, n, t[i], x, x0);
        x = next;
    }
    return run.finish(x, n, true); // not reached: a grid has at least 2 times
}

// DPM-Solver++ multistep (data prediction), orders 1 to 3.
SampleResult multistepDpmSolver(FastRun &run, const FastSamplerOptions &options, int order)
{
    const int64_t n = options.steps;
    const std::vector<double> t = dpmTimes(run, options);
    std::vector<double> lambda(t.size());
    for (size_t i = 0; i < t.size(); ++i)
        lambda[i] = run.schedule.lambda(t[i]);
    std::vector<torch::Tensor> m; // the last three estimates, newest last
    return walkGrid(run, t, options.temperature, [&](int64_t i, const torch::Tensor &x, const torch::Tensor &x0) {
        m.push_back(x0);
        if (m.size() > 3)
            m.erase(m.begin());
        // Lower orders while there is no history yet, and for the last steps of short runs.
        int k = std::min<int>(order, static_cast<int>(i + 1));
        if (n < 10)
            k = std::min<int>(k, static_cast<int>(n - 1 - i));
        const double h = lambda[i + 1] - lambda[i];
        const double alphaNext = run.schedule.alpha(t[i + 1]);
        const double phi1 = std::expm1(-h);
        const torch::Tensor &m0 = m[m.size() - 1];
        torch::Tensor next = (run.schedule.sigma(t[i + 1]) / run.schedule.sigma(t[i])) * x - alphaNext * phi1 * m0;
        if (k == 2) {
            const double r0 = (lambda[i] - lambda[i - 1]) / h;
            next = next - 0.5 * alphaNext * phi1 * (m0 - m[m.size() - 2]) / r0;
        } else if (k == 3) {
            const double r0 = (lambda[i] - lambda[i - 1]) / h;
            const double r1 = (lambda[i - 1] - lambda[i - 2]) / h;
            torch::Tensor d10 = (m0 - m[m.size() - 2]) / r0;
            torch::Tensor d11 = (m[m.size() - 2] - m[m.size() - 3]) / r1;
            torch::Tensor d1 = d10 + (r0 / (r0 + r1)) * (d10 - d11);
            torch::Tensor d2 = (d10 - d11) / (r0 + r1);
            const double phi2 = phi1 / h + 1.0;
            const double phi3 = phi2 / h - 0.5;
            next = next + alphaNext * phi2 * d1 - alphaNext * phi3 * d2;
        }
        return next;
    });
}

// DPM-Solver++(2S): the midpoint in lambda, two evaluations per step.
SampleResult singlestepDpmSolver(FastRun &run, const FastSamplerOptions &options)
{
    const std::vector<double> t = dpmTimes(run, options);
    const NoiseSchedule &schedule = run.schedule;
    return walkGrid(run, t, options.temperature, [&](int64_t i, const torch::Tensor &x, const torch::Tensor &x0) {
        const double lambdaNow = schedule.lambda(t[i]);
        const double h = schedule.lambda(t[i + 1]) - lambdaNow;
        const double s = schedule.timeOf(lambdaNow + 0.5 * h);
        const double sigmaNow = schedule.sigma(t[i]);
        torch::Tensor u = (schedule.sigma(s) / sigmaNow) * x - schedule.alpha(s) * std::expm1(-0.5 * h) * x0;
        torch::Tensor mid = run.denoise(u, s);
        return (schedule.sigma(t[i + 1]) / sigmaNow) * x - schedule.alpha(t[i + 1]) * std::expm1(-h) * mid;
    });
}

// EDM's Heun sampler in the scaled state y = x / alpha with noise level sigma / alpha.
SampleResult edmHeun(FastRun &run, const FastSamplerOptions &options)
{
    const int64_t n = options.steps;
    const NoiseSchedule &schedule = run.schedule;
    const double sigmaMax = schedule.scaledSigma(run.T);
    const SigmaGrid grid = karrasGrid(run, n, options.rho);
    const std::vector<double> &sigmas = grid.sigmas;
    const std::vector<double> &t = grid.t;
    // The denoiser at a scaled noise level: the model at the time of that level.
    auto denoiser = [&](const torch::Tensor &y, double time) { return run.denoise(schedule.alpha(time) * y, time); };

    torch::Tensor y = run.prior(options.temperature) / schedule.alpha(run.T);
    const double gammaMax = std::sqrt(2.0) - 1.0;
    for (int64_t i = 0; i < n; ++i) {
        if (run.cancelled())
            return run.finish(schedule.alpha(t[i]) * y, i, false);
        double sigma = sigmas[i];
        double time = t[i];
        if (options.churn > 0.0 && i < n - 1) {
            const double gamma = std::min(options.churn / static_cast<double>(n), gammaMax);
            const double raised = std::min(sigma * (1.0 + gamma), sigmaMax);
            if (raised > sigma) {
                y = y + std::sqrt(raised * raised - sigma * sigma) * run.noiseLike(y);
                sigma = raised;
                time = schedule.timeOf(-std::log(sigma));
            }
        }
        torch::Tensor x0 = denoiser(y, time);
        if (i == n - 1) {
            run.report(i + 1, n, time, schedule.alpha(time) * y, x0);
            return run.finish(x0, n, true); // the Euler step to sigma 0 lands on the estimate
        }
        const double next = sigmas[i + 1];
        torch::Tensor slope = (y - x0) / sigma;
        torch::Tensor euler = y + (next - sigma) * slope;
        torch::Tensor x0Next = denoiser(euler, t[i + 1]);
        torch::Tensor slopeNext = (euler - x0Next) / next;
        run.report(i + 1, n, time, schedule.alpha(time) * y, x0);
        y = y + (next - sigma) * 0.5 * (slope + slopeNext);
    }
    return run.finish(y, n, true);
}

// DDIM on times uniform in t.
SampleResult ddim(FastRun &run, const FastSamplerOptions &options)
{
    const int64_t n = options.steps;
    const NoiseSchedule &schedule = run.schedule;
    std::vector<double> t(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
        t[i] = run.T + (run.eps - run.T) * static_cast<double>(i) / static_cast<double>(n - 1);
    return walkGrid(run, t, options.temperature, [&](int64_t i, const torch::Tensor &x, const torch::Tensor &x0) {
        const double now = t[i], next = t[i + 1];
        const double sigmaNext = schedule.sigma(next);
        torch::Tensor noiseEstimate = (x - schedule.alpha(now) * x0) / schedule.sigma(now);
        // The std of the fresh noise: eta times the DDPM posterior's, in log-SNR form.
        const double c = options.eta * sigmaNext *
                         std::sqrt(std::max(0.0, -std::expm1(2.0 * (schedule.lambda(now) - schedule.lambda(next)))));
        torch::Tensor out =
            schedule.alpha(next) * x0 + std::sqrt(std::max(0.0, sigmaNext * sigmaNext - c * c)) * noiseEstimate;
        return c > 0.0 ? out + c * run.noiseLike(x) : out;
    });
}

// The reverse SDE with per-sample step sizes and error control.
SampleResult adaptiveSde(FastRun &run, const FastSamplerOptions &options)
{
    constexpr double kSafety = 0.9;   // theta
    constexpr double kExponent = 0.9; // r
    constexpr double kFirstStep = 0.01;
    constexpr int64_t kMaxTries = 100000;
    const Sde &sde = run.scoreModel.sde();
    torch::Tensor x = run.prior(options.temperature);
    const int64_t batch = x.size(0);
    const auto cpuDouble = torch::TensorOptions().dtype(torch::kFloat64);
    torch::Tensor t = torch::full({batch}, run.T, cpuDouble);
    torch::Tensor h = torch::full({batch}, kFirstStep, cpuDouble);
    const int64_t dims = x[0].numel();
    int64_t accepted = 0;

    // The drift of the reverse SDE and its diffusion for the samples `index` of the batch, at
    // per-sample times. A given score may hold data per sample (a label, known pixels), so it sees
    // the whole batch, the other samples at their own state and time.
    auto reverse = [&](const torch::Tensor &state, const torch::Tensor &time, const torch::Tensor &index) {
        auto [f, g] = sde.sde(state, time);
        torch::Tensor s;
        if (run.givenScore && state.size(0) < batch)
            s = run.score(x.index_copy(0, index, state), t.to(x.options()).index_copy(0, index, time))
                    .index_select(0, index);
        else
            s = run.score(state, time);
        return std::make_pair(f - batchView(g * g, state) * s, g);
    };
    for (int64_t tries = 0;; ++tries) {
        torch::Tensor active = (t > run.eps + 1e-9).nonzero().flatten();
        if (active.numel() == 0)
            break;
        if (tries >= kMaxTries)
            throw Error("the adaptive sampler did not reach eps in " + std::to_string(kMaxTries) +
                        " tries: loosen its tolerances");
        if (run.cancelled())
            return run.finish(x, accepted, false);
        torch::Tensor noise = run.noiseLike(x); // every stream draws once per try, so each sample's noise is its own
        const torch::Tensor index = active.to(x.device());
        torch::Tensor xa = x.index_select(0, index);
        torch::Tensor ta = t.index_select(0, active);
        torch::Tensor ha = torch::min(h.index_select(0, active), ta - run.eps);
        torch::Tensor z = noise.index_select(0, index);
        torch::Tensor tNow = ta.to(x.options());
        torch::Tensor tNext = (ta - ha).to(x.options());
        torch::Tensor step = ha.to(x.options());
        auto [drift, g] = reverse(xa, tNow, index);
        torch::Tensor x1 = xa - batchView(step, xa) * drift + batchView(g * step.sqrt(), xa) * z;
        auto [drift2, g2] = reverse(x1, tNext, index);
        torch::Tensor x2 = xa - batchView(step, xa) * drift2 + batchView(g2 * step.sqrt(), xa) * z;
        torch::Tensor better = 0.5 * (x1 + x2);
        torch::Tensor scale = torch::clamp_min(options.rtol * torch::max(x1.abs(), xa.abs()), options.atol);
        torch::Tensor error =
            (((x1 - better) / scale).pow(2).reshape({xa.size(0), -1}).sum(1) / static_cast<double>(dims)).sqrt();
        torch::Tensor errorCpu = error.to(torch::kCPU, torch::kFloat64);
        if (!torch::isfinite(errorCpu).all().item<bool>()) {
            requireFiniteState(better, accepted + 1, 0, ta.max().item<double>());
            throw Error("the adaptive sampler's error estimate is not finite at step " + std::to_string(accepted + 1));
        }
        torch::Tensor accept = errorCpu <= 1.0;
        torch::Tensor acceptDevice = accept.to(x.device());
        x.index_copy_(0, index, torch::where(batchView(acceptDevice, xa), better, xa));
        torch::Tensor tAfter = torch::where(accept, ta - ha, ta);
        t.index_copy_(0, active, tAfter);
        // The next step: theta h E^-r, never past eps.
        torch::Tensor grown = kSafety * ha * errorCpu.clamp_min(1e-12).pow(-kExponent);
        h.index_copy_(0, active, torch::min(grown, torch::clamp_min(tAfter - run.eps, 1e-12)));
        if (accept.any().item<bool>()) {
            ++accepted;
            const double mean = t.mean().item<double>();
            run.report(accepted, mean, x, t.to(x.options()));
        }
    }
    // The last step: the Tweedie estimate at eps.
    torch::Tensor x0 = run.denoise(x, run.eps);
    return run.finish(x0, accepted, true);
}

} // namespace

const std::vector<std::string> &fastSolverIds()
{
    static const std::vector<std::string> ids = [] {
        std::vector<std::string> out;
        for (const SamplerDescription &d : samplerCatalogue())
            if (d.section == "fast")
                out.push_back(d.id);
        return out;
    }();
    return ids;
}

std::string listOfIds(const std::vector<std::string> &ids)
{
    std::string text;
    for (size_t i = 0; i < ids.size(); ++i)
        text += (i == 0 ? "" : i + 1 == ids.size() ? " or " : ", ") + ids[i];
    return text;
}

std::string fastSolverTitle(const std::string &solver)
{
    const SamplerDescription *d = findSampler(solver);
    return d ? d->title : solver;
}

bool isFastSolver(const std::string &solver)
{
    const SamplerDescription *d = findSampler(solver);
    return d && d->section == "fast";
}

bool usesTimeGrid(const std::string &solver)
{
    const SamplerDescription *d = findSampler(solver);
    return d && d->usesTimeGrid;
}

const std::vector<std::string> &timeGridIds()
{
    static const std::vector<std::string> ids{"logsnr", "karras"};
    return ids;
}

bool isTimeGrid(const std::string &grid)
{
    const auto &ids = timeGridIds();
    return std::find(ids.begin(), ids.end(), grid) != ids.end();
}

std::string timeGridTitle(const std::string &grid)
{
    return grid == "karras" ? "Karras (sigma^(1/rho))" : "uniform in log-SNR";
}

int64_t plannedNfe(const std::string &solver, int64_t steps)
{
    const SamplerDescription &d = samplerDescription(solver);
    return d.adaptive ? 0 : d.nfePerStep * steps + d.extraNfe;
}

std::pair<int64_t, int64_t> plannedNfeRange(const std::string &solver)
{
    const SamplerKnob *steps = findKnob(samplerDescription(solver), "steps");
    if (!steps)
        return {0, 0};
    return {plannedNfe(solver, static_cast<int64_t>(steps->minimum)),
            plannedNfe(solver, static_cast<int64_t>(steps->maximum))};
}

int64_t stepsForNfe(const std::string &solver, int64_t nfe)
{
    const SamplerDescription &d = samplerDescription(solver);
    if (d.adaptive || d.nfePerStep < 1)
        return std::max<int64_t>(2, nfe);
    return std::max<int64_t>(2, (nfe - d.extraNfe) / d.nfePerStep);
}

namespace {

SampleResult runFast(const ScoreModel &model, const ScoreFn &score, int64_t batch, uint64_t seed,
                     const FastSamplerOptions &options, const SamplerCallback &onStep, const CancelToken *cancel,
                     const torch::Tensor &latent)
{
    if (!isFastSolver(options.solver))
        throw Error("unknown sampler \"" + options.solver + "\" (expected " + listOfIds(fastSolverIds()) + ")");
    SamplingSettings settings;
    settings.method = options.solver;
    settings.fast = options;
    settings.batch = latent.defined() ? std::max<int64_t>(1, latent.size(0)) : batch;
    checkSamplingSettings(settings);
    requireMemoryForSampling(model.config(), settings.batch, model.device());
    torch::NoGradGuard noGrad;
    FastRun run(model, score, batch, seed, options, onStep, cancel);
    run.latent = latent;
    if (!(run.eps > 0.0 && run.eps < run.T))
        throw Error("eps must be in (0, 1)");
    if (options.solver == "dpm2m")
        return multistepDpmSolver(run, options, 2);
    if (options.solver == "dpm3m")
        return multistepDpmSolver(run, options, 3);
    if (options.solver == "dpm2s")
        return singlestepDpmSolver(run, options);
    if (options.solver == "edm")
        return edmHeun(run, options);
    if (options.solver == "ddim")
        return ddim(run, options);
    if (options.solver == "adaptive")
        return adaptiveSde(run, options);
    // A catalogue row without a case here must not run another sampler silently.
    throw Error("the sampler \"" + options.solver + "\" has no implementation");
}

} // namespace

SampleResult fastSample(const ScoreModel &model, int64_t batch, uint64_t seed, const FastSamplerOptions &options,
                        const SamplerCallback &onStep, const CancelToken *cancel)
{
    return runFast(model, nullptr, batch, seed, options, onStep, cancel, {});
}

SampleResult fastSampleWithScore(const ScoreModel &model, const ScoreFn &score, int64_t batch, uint64_t seed,
                                 const FastSamplerOptions &options, const SamplerCallback &onStep,
                                 const CancelToken *cancel)
{
    return runFast(model, score, batch, seed, options, onStep, cancel, {});
}

SampleResult fastSampleFrom(const ScoreModel &model, const torch::Tensor &latent, const FastSamplerOptions &options,
                            const SamplerCallback &onStep, const CancelToken *cancel, uint64_t seed)
{
    std::vector<int64_t> expected = model.sampleShape();
    if (latent.dim() != static_cast<int64_t>(expected.size()) + 1 || latent.sizes().slice(1).vec() != expected)
        throw Error("the latent has the wrong shape for this model");
    return runFast(model, nullptr, latent.size(0), seed, options, onStep, cancel, latent);
}

} // namespace sde
