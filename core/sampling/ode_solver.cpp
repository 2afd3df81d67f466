#include "sampling/ode_solver.h"

#include "sampling/sampling_types.h"
#include "util/error.h"
#include "util/number_text.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace sde {

OdeMethod odeMethodFromName(const std::string &name)
{
    if (name == "rk45")
        return OdeMethod::Rk45;
    if (name == "euler")
        return OdeMethod::Euler;
    if (name == "heun")
        return OdeMethod::Heun;
    throw Error("unknown ODE method \"" + name + "\" (expected rk45, euler or heun)");
}

const std::vector<std::string> &odeMethodIds()
{
    static const std::vector<std::string> ids{"rk45", "euler", "heun"};
    return ids;
}

std::string odeMethodId(OdeMethod method)
{
    switch (method) {
    case OdeMethod::Rk45:
        return "rk45";
    case OdeMethod::Euler:
        return "euler";
    case OdeMethod::Heun:
        return "heun";
    }
    return "rk45";
}

namespace {

// The Dormand–Prince tableau (as scipy's RK45 lists it).
constexpr double kC[6] = {0.0, 1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1.0};
constexpr double kA[6][5] = {
    {0, 0, 0, 0, 0},
    {1.0 / 5, 0, 0, 0, 0},
    {3.0 / 40, 9.0 / 40, 0, 0, 0},
    {44.0 / 45, -56.0 / 15, 32.0 / 9, 0, 0},
    {19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729, 0},
    {9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656},
};
constexpr double kB[6] = {35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84};
constexpr double kE[7] = {-71.0 / 57600, 0, 71.0 / 16695, -71.0 / 1920, 17253.0 / 339200, -22.0 / 525, 1.0 / 40};
constexpr double kSafety = 0.9;
constexpr double kMinFactor = 0.2;
constexpr double kMaxFactor = 10.0;
constexpr double kErrorExponent = -1.0 / 5.0; // -1 / (error estimator order + 1)

// The error of a right-hand side that turned non-finite in step `step` (1-based) at time t.
Error nonFiniteSlope(int64_t step, int64_t totalSteps, double t)
{
    return Error("the ODE stopped at " + stepAndTime(step, totalSteps, t) +
                 ": its right-hand side is not finite (NaN or infinity); the model's score is not finite there");
}

torch::Tensor checkedEval(const OdeFunction &f, double t, const torch::Tensor &y, int64_t &nfe, int64_t step,
                          int64_t totalSteps)
{
    torch::Tensor dy = f(t, y).to(y.scalar_type());
    ++nfe;
    if (!torch::isfinite(dy).all().item<bool>())
        throw nonFiniteSlope(step, totalSteps, t);
    return dy;
}

OdeResult solveFixed(const OdeFunction &f, double t0, double t1, const torch::Tensor &y0, const OdeOptions &o,
                     const OdeStepCallback &onStep)
{
    if (o.steps < 1)
        throw Error("a fixed-step ODE solver needs at least one step");
    OdeResult r;
    torch::Tensor y = y0;
    const double h = (t1 - t0) / static_cast<double>(o.steps);
    double t = t0;
    for (int64_t i = 0; i < o.steps; ++i) {
        const double tNext = i + 1 == o.steps ? t1 : t0 + h * static_cast<double>(i + 1);
        torch::Tensor k1 = checkedEval(f, t, y, r.nfe, i + 1, o.steps);
        if (o.method == OdeMethod::Euler) {
            y = y + k1 * (tNext - t);
        } else { // Heun: the trapezoid of the Euler predictor's two slopes
            torch::Tensor k2 = checkedEval(f, tNext, y + k1 * (tNext - t), r.nfe, i + 1, o.steps);
            y = y + (k1 + k2) * (0.5 * (tNext - t));
        }
        t = tNext;
        ++r.steps;
        if (onStep && !onStep(r.steps, t, y, r.nfe)) {
            r.completed = false;
            break;
        }
    }
    r.y = y;
    r.t = t;
    return r;
}

// The per-sample RMS norm: ||x_i|| / sqrt(numel(x_i)) for every row i of x [m, ...], on the CPU.
std::vector<double> rowRmsNorms(const torch::Tensor &x)
{
    const int64_t rows = x.size(0);
    const double elements = static_cast<double>(x.numel() / std::max<int64_t>(rows, 1));
    torch::Tensor norms = x.reshape({rows, -1}).norm(2, 1).to(torch::kCPU, torch::kFloat64).contiguous();
    std::vector<double> out(norms.data_ptr<double>(), norms.data_ptr<double>() + rows);
    for (double &v : out)
        v /= std::sqrt(elements);
    return out;
}

// A per-sample factor [m] as a tensor that broadcasts over rows shaped like `like` [m, ...].
torch::Tensor rowFactor(const std::vector<double> &values, const torch::Tensor &like)
{
    std::vector<int64_t> shape(static_cast<size_t>(like.dim()), 1);
    shape[0] = static_cast<int64_t>(values.size());
    return torch::tensor(values, torch::TensorOptions().dtype(torch::kFloat64))
        .to(like.device(), like.scalar_type())
        .view(shape);
}

// `t` holds the time of each of `rows`; `step` is the step being taken (1-based).
torch::Tensor checkedRowsEval(const BatchOdeFunction &f, const std::vector<double> &t, const torch::Tensor &y,
                              const torch::Tensor &rows, int64_t &nfe, int64_t step)
{
    torch::Tensor dy = f(torch::tensor(t, torch::TensorOptions().dtype(torch::kFloat64)), y, rows).to(y.scalar_type());
    ++nfe;
    if (dy.sizes() != y.sizes())
        throw Error("the ODE's right-hand side has the wrong shape");
    const torch::Tensor finite = torch::isfinite(dy);
    if (!finite.all().item<bool>()) { // name the time of the first sample that is not finite
        const int64_t k = torch::logical_not(finite.reshape({dy.size(0), -1}).all(1)).nonzero()[0][0].item<int64_t>();
        throw nonFiniteSlope(step, 0, t[static_cast<size_t>(k)]);
    }
    return dy;
}

OdeResult solveRk45PerSample(const BatchOdeFunction &f, double t0, double t1, const torch::Tensor &y0,
                             const OdeOptions &o, const BatchOdeStepCallback &onStep,
                             const std::function<bool()> &stopRequested)
{
    OdeResult r;
    const int64_t n = y0.size(0);
    const double direction = t1 >= t0 ? 1.0 : -1.0;
    const double interval = std::abs(t1 - t0);
    const auto longOptions = torch::TensorOptions().dtype(torch::kInt64).device(y0.device());
    std::vector<double> t(static_cast<size_t>(n), t0);
    torch::Tensor y = y0.clone();
    torch::Tensor all = torch::arange(n, longOptions);
    // Ours: rows of it are overwritten in place below, and f may return a tensor it keeps.
    torch::Tensor fy = checkedRowsEval(f, t, y, all, r.nfe, 1).clone();

    // scipy's select_initial_step for every sample, from its own norms.
    std::vector<double> hAbs(static_cast<size_t>(n));
    {
        torch::Tensor scale = o.atol + y.abs() * o.rtol;
        const std::vector<double> d0 = rowRmsNorms(y / scale);
        const std::vector<double> d1 = rowRmsNorms(fy / scale);
        std::vector<double> h0(static_cast<size_t>(n)), probe(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) {
            h0[i] = std::min((d0[i] < 1e-5 || d1[i] < 1e-5) ? 1e-6 : 0.01 * d0[i] / d1[i], interval);
            probe[i] = t0 + h0[i] * direction;
        }
        torch::Tensor y1 = y + rowFactor(h0, y) * direction * fy;
        torch::Tensor f1 = checkedRowsEval(f, probe, y1, all, r.nfe, 1);
        const std::vector<double> d2 = rowRmsNorms((f1 - fy) / scale);
        for (int64_t i = 0; i < n; ++i) {
            const double slope = d2[i] / h0[i];
            const double h1 = (d1[i] <= 1e-15 && slope <= 1e-15) ? std::max(1e-6, h0[i] * 1e-3)
                                                                 : std::pow(0.01 / std::max(d1[i], slope), 1.0 / 5.0);
            hAbs[i] = std::min({100 * h0[i], h1, interval});
        }
    }

    std::vector<char> rejected(static_cast<size_t>(n), 0);
    // A sample's last step lands on t1 exactly, so one that reached it stays there.
    auto reached = [&](int64_t i) { return !(direction * (t1 - t[i]) > 0); };
    std::vector<torch::Tensor> K(7);
    while (true) {
        std::vector<int64_t> active;
        for (int64_t i = 0; i < n; ++i)
            if (!reached(i))
                active.push_back(i);
        if (active.empty())
            break;
        if (stopRequested && stopRequested()) {
            r.completed = false;
            break;
        }
        const int64_t m = static_cast<int64_t>(active.size());
        std::vector<double> h(m), tNew(m), tStage(m);
        for (int64_t k = 0; k < m; ++k) {
            const int64_t i = active[k];
            const double minStep =
                10.0 * std::abs(std::nextafter(t[i], direction * std::numeric_limits<double>::infinity()) - t[i]);
            if (!rejected[i])
                hAbs[i] = std::max(hAbs[i], minStep);
            else if (hAbs[i] < minStep)
                throw Error("the ODE solver's step size fell below its minimum at t = " + std::to_string(t[i]) +
                            (n > 1 ? " (sample " + std::to_string(i + 1) + ")" : std::string()));
            tNew[k] = t[i] + hAbs[i] * direction;
            if (direction * (tNew[k] - t1) > 0)
                tNew[k] = t1;
            h[k] = tNew[k] - t[i];
            hAbs[i] = std::abs(h[k]);
        }
        const torch::Tensor rows = torch::tensor(active, longOptions);
        const torch::Tensor ya = y.index_select(0, rows);
        const torch::Tensor step = rowFactor(h, ya);
        K[0] = fy.index_select(0, rows);
        for (int s = 1; s < 6; ++s) {
            torch::Tensor dy = K[0] * kA[s][0];
            for (int j = 1; j < s; ++j)
                if (kA[s][j] != 0.0)
                    dy = dy + K[j] * kA[s][j];
            for (int64_t k = 0; k < m; ++k)
                tStage[k] = t[active[k]] + kC[s] * h[k];
            K[s] = checkedRowsEval(f, tStage, ya + dy * step, rows, r.nfe, r.steps + 1);
        }
        torch::Tensor sum = K[0] * kB[0];
        for (int j = 2; j < 6; ++j)
            sum = sum + K[j] * kB[j];
        const torch::Tensor yNew = ya + sum * step;
        K[6] = checkedRowsEval(f, tNew, yNew, rows, r.nfe, r.steps + 1);
        torch::Tensor error = K[0] * kE[0];
        for (int j = 2; j < 7; ++j)
            error = error + K[j] * kE[j];
        error = error * step;
        const torch::Tensor scale = o.atol + torch::maximum(ya.abs(), yNew.abs()) * o.rtol;
        const std::vector<double> errorNorm = rowRmsNorms(error / scale);

        std::vector<int64_t> accepted;
        for (int64_t k = 0; k < m; ++k) {
            const int64_t i = active[k];
            if (errorNorm[k] < 1.0) {
                double factor = errorNorm[k] == 0.0
                                    ? kMaxFactor
                                    : std::min(kMaxFactor, kSafety * std::pow(errorNorm[k], kErrorExponent));
                if (rejected[i])
                    factor = std::min(1.0, factor);
                hAbs[i] *= factor;
                rejected[i] = 0;
                t[i] = tNew[k];
                accepted.push_back(k);
            } else {
                hAbs[i] *= std::max(kMinFactor, kSafety * std::pow(errorNorm[k], kErrorExponent));
                rejected[i] = 1;
                ++r.rejected;
            }
        }
        if (accepted.empty())
            continue;
        const torch::Tensor within = torch::tensor(accepted, longOptions);
        const torch::Tensor target = rows.index_select(0, within);
        y.index_copy_(0, target, yNew.index_select(0, within));
        fy.index_copy_(0, target, K[6].index_select(0, within));
        ++r.steps;
        if (onStep && !onStep(r.steps, torch::tensor(t, torch::TensorOptions().dtype(torch::kFloat64)), y, r.nfe)) {
            r.completed = false;
            break;
        }
    }
    r.y = y;
    r.t = direction > 0 ? *std::min_element(t.begin(), t.end()) : *std::max_element(t.begin(), t.end());
    return r;
}

// The coupled RK45 (the reference's): the whole state as the one sample of the per-sample solver,
// so one step size and one error norm for all of it.
OdeResult solveRk45(const OdeFunction &f, double t0, double t1, const torch::Tensor &y0, const OdeOptions &o,
                    const OdeStepCallback &onStep)
{
    const std::vector<int64_t> shape = y0.sizes().vec();
    BatchOdeFunction one = [&](const torch::Tensor &t, const torch::Tensor &y, const torch::Tensor &) {
        return f(t[0].item<double>(), y.view(shape)).reshape({1, -1});
    };
    BatchOdeStepCallback report;
    if (onStep)
        report = [&](int64_t step, const torch::Tensor &t, const torch::Tensor &y, int64_t nfe) {
            return onStep(step, t[0].item<double>(), y.view(shape).clone(), nfe); // y changes in place
        };
    OdeResult r = solveRk45PerSample(one, t0, t1, y0.reshape({1, -1}), o, report, nullptr);
    r.y = r.y.view(shape);
    return r;
}

void checkTolerances(const OdeOptions &o)
{
    if (!(o.rtol >= kSmallestOdeTolerance) || !(o.atol >= kSmallestOdeTolerance))
        throw Error("RK45 tolerances must be at least " + numberText(kSmallestOdeTolerance) + ", not rtol " +
                    numberText(o.rtol) + " and atol " + numberText(o.atol));
}

} // namespace

OdeResult solveOdePerSample(const BatchOdeFunction &f, double t0, double t1, const torch::Tensor &y0,
                            const OdeOptions &options, const BatchOdeStepCallback &onStep,
                            const std::function<bool()> &stopRequested)
{
    if (y0.dim() < 1 || y0.size(0) < 1)
        throw Error("the ODE solver needs a batch of at least one state");
    if (options.method == OdeMethod::Rk45) {
        checkTolerances(options);
        return solveRk45PerSample(f, t0, t1, y0, options, onStep, stopRequested);
    }
    // The fixed-step methods share one grid, so the batch moves as one state.
    const int64_t n = y0.size(0);
    const torch::Tensor all = torch::arange(n, torch::TensorOptions().dtype(torch::kInt64).device(y0.device()));
    OdeFunction whole = [&](double t, const torch::Tensor &y) {
        return f(torch::full({n}, t, torch::TensorOptions().dtype(torch::kFloat64)), y, all);
    };
    OdeStepCallback report;
    if (onStep)
        report = [&](int64_t step, double t, const torch::Tensor &y, int64_t nfe) {
            return onStep(step, torch::full({n}, t, torch::TensorOptions().dtype(torch::kFloat64)), y, nfe);
        };
    return solveFixed(whole, t0, t1, y0, options, report);
}

OdeResult solveOde(const OdeFunction &f, double t0, double t1, const torch::Tensor &y0, const OdeOptions &options,
                   const OdeStepCallback &onStep)
{
    if (options.method == OdeMethod::Rk45) {
        checkTolerances(options);
        return solveRk45(f, t0, t1, y0, options, onStep);
    }
    return solveFixed(f, t0, t1, y0, options, onStep);
}

} // namespace sde
