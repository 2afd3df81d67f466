#include "sampling/ode_solver.h"

#include "util/error.h"

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

// scipy's RMS norm: ||x|| / sqrt(n).
double rmsNorm(const torch::Tensor &x)
{
    return x.norm().item<double>() / std::sqrt(static_cast<double>(x.numel()));
}

torch::Tensor checkedEval(const OdeFunction &f, double t, const torch::Tensor &y, int64_t &nfe)
{
    torch::Tensor dy = f(t, y).to(y.scalar_type());
    ++nfe;
    if (!torch::isfinite(dy).all().item<bool>())
        throw Error("the ODE's right-hand side is not finite at t = " + std::to_string(t));
    return dy;
}

// scipy.integrate._ivp.common.select_initial_step for an order-4 error estimator.
double initialStep(const OdeFunction &f, double t0, const torch::Tensor &y0, const torch::Tensor &f0, double direction,
                   double interval, const OdeOptions &o, int64_t &nfe)
{
    torch::Tensor scale = o.atol + y0.abs() * o.rtol;
    const double d0 = rmsNorm(y0 / scale);
    const double d1 = rmsNorm(f0 / scale);
    // As newer scipy does, the probe step stays inside the interval (the ODE may be undefined
    // beyond it, e.g. at t < 0).
    const double h0 = std::min((d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1, interval);
    torch::Tensor y1 = y0 + h0 * direction * f0;
    torch::Tensor f1 = checkedEval(f, t0 + h0 * direction, y1, nfe);
    const double d2 = rmsNorm((f1 - f0) / scale) / h0;
    const double h1 =
        (d1 <= 1e-15 && d2 <= 1e-15) ? std::max(1e-6, h0 * 1e-3) : std::pow(0.01 / std::max(d1, d2), 1.0 / 5.0);
    return std::min({100 * h0, h1, interval});
}

OdeResult solveRk45(const OdeFunction &f, double t0, double t1, const torch::Tensor &y0, const OdeOptions &o,
                    const OdeStepCallback &onStep)
{
    OdeResult r;
    const double direction = t1 >= t0 ? 1.0 : -1.0;
    double t = t0;
    torch::Tensor y = y0;
    torch::Tensor fy = checkedEval(f, t, y, r.nfe);
    double hAbs = initialStep(f, t, y, fy, direction, std::abs(t1 - t0), o, r.nfe);
    torch::Tensor K[7];
    while (direction * (t1 - t) > 0) {
        const double minStep =
            10.0 * std::abs(std::nextafter(t, direction * std::numeric_limits<double>::infinity()) - t);
        hAbs = std::max(hAbs, minStep);
        bool rejected = false;
        torch::Tensor yNew, fNew;
        double tNew = t;
        while (true) {
            if (hAbs < minStep)
                throw Error("the ODE solver's step size fell below its minimum at t = " + std::to_string(t));
            double h = hAbs * direction;
            tNew = t + h;
            if (direction * (tNew - t1) > 0)
                tNew = t1;
            h = tNew - t;
            hAbs = std::abs(h);

            K[0] = fy;
            for (int s = 1; s < 6; ++s) {
                torch::Tensor dy = K[0] * kA[s][0];
                for (int j = 1; j < s; ++j)
                    if (kA[s][j] != 0.0)
                        dy = dy + K[j] * kA[s][j];
                K[s] = checkedEval(f, t + kC[s] * h, y + dy * h, r.nfe);
            }
            torch::Tensor sum = K[0] * kB[0];
            for (int j = 2; j < 6; ++j)
                sum = sum + K[j] * kB[j];
            yNew = y + sum * h;
            fNew = checkedEval(f, tNew, yNew, r.nfe);
            K[6] = fNew;
            torch::Tensor error = K[0] * kE[0];
            for (int j = 2; j < 7; ++j)
                error = error + K[j] * kE[j];
            error = error * h;
            torch::Tensor scale = o.atol + torch::maximum(y.abs(), yNew.abs()) * o.rtol;
            const double errorNorm = rmsNorm(error / scale);
            if (errorNorm < 1.0) {
                double factor =
                    errorNorm == 0.0 ? kMaxFactor : std::min(kMaxFactor, kSafety * std::pow(errorNorm, kErrorExponent));
                if (rejected)
                    factor = std::min(1.0, factor);
                hAbs *= factor;
                break;
            }
            hAbs *= std::max(kMinFactor, kSafety * std::pow(errorNorm, kErrorExponent));
            rejected = true;
            ++r.rejected;
        }
        t = tNew;
        y = yNew;
        fy = fNew;
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
        torch::Tensor k1 = checkedEval(f, t, y, r.nfe);
        if (o.method == OdeMethod::Euler) {
            y = y + k1 * (tNext - t);
        } else { // Heun: the trapezoid of the Euler predictor's two slopes
            torch::Tensor k2 = checkedEval(f, tNext, y + k1 * (tNext - t), r.nfe);
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

} // namespace

OdeResult solveOde(const OdeFunction &f, double t0, double t1, const torch::Tensor &y0, const OdeOptions &options,
                   const OdeStepCallback &onStep)
{
    if (options.method == OdeMethod::Rk45) {
        if (!(options.rtol > 0) || !(options.atol > 0))
            throw Error("RK45 tolerances must be positive");
        return solveRk45(f, t0, t1, y0, options, onStep);
    }
    return solveFixed(f, t0, t1, y0, options, onStep);
}

} // namespace sde
