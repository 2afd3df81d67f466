#pragma once

#include <torch/torch.h>

#include <atomic>
#include <functional>
#include <string>
#include <vector>

namespace sde {

// dy/dt = f(t, y) for a state tensor y of any shape, on y's device.
using OdeFunction = std::function<torch::Tensor(double t, const torch::Tensor &y)>;

// Called after every accepted step with (step index, t, y, evaluations so far); return false to
// stop the integration early (the result then holds the state reached).
using OdeStepCallback = std::function<bool(int64_t step, double t, const torch::Tensor &y, int64_t nfe)>;

enum class OdeMethod { Rk45, Euler, Heun };
OdeMethod odeMethodFromName(const std::string &name); // rk45 | euler | heun
// The method ids in the order the studio lists them (rk45, euler, heun), and one method's id.
const std::vector<std::string> &odeMethodIds();
std::string odeMethodId(OdeMethod method);

// The smallest RK45 tolerances (sampling, bits/dim, the interpolation's encoder): the state is
// float64, but f is evaluated in float32, whose rounding (1.2e-7 relative) the error estimate
// cannot see below; tighter tolerances only shrink the step until it underflows.
constexpr double kSmallestOdeTolerance = 1e-7;

struct OdeOptions {
    OdeMethod method = OdeMethod::Rk45;
    double rtol = 1e-5; // RK45 tolerances, as the reference's defaults
    double atol = 1e-5;
    int64_t steps = 100; // fixed-step methods: uniform steps from t0 to t1
};

struct OdeResult {
    torch::Tensor y;       // the state at t1 (or where the callback stopped)
    double t = 0.0;        // the time reached
    int64_t nfe = 0;       // evaluations of f
    int64_t steps = 0;     // accepted steps
    int64_t rejected = 0;  // rejected RK45 steps
    bool completed = true; // false when the callback stopped it
};

// Integrates from t0 to t1 (either direction). RK45 is the adaptive Dormand–Prince 5(4) pair with
// the step-size control of scipy.integrate.solve_ivp(method='RK45'), which the reference uses:
// the same initial-step rule, the RMS error norm over the whole state with scale
// atol + rtol max(|y|, |y_new|), safety 0.9 and step factors within [0.2, 10]. Unlike the
// reference it never copies the state to the host. Throws sde::Error if f returns a non-finite
// value or the step size underflows.
OdeResult solveOde(const OdeFunction &f, double t0, double t1, const torch::Tensor &y0, const OdeOptions &options,
                   const OdeStepCallback &onStep = nullptr);

// dy/dt = f(t, y) for a batch of independent states. y [m, ...] holds the rows `rows` ([m] int64,
// on y's device) of the batch, and t [m] (float64, on the CPU) their own times; f returns dy/dt for
// those rows, shaped as y.
using BatchOdeFunction =
    std::function<torch::Tensor(const torch::Tensor &t, const torch::Tensor &y, const torch::Tensor &rows)>;

// Called after every round in which at least one sample accepted a step, with the round's index,
// every sample's time t [n] (float64, CPU), the whole batch y [n, ...] and the evaluations so far;
// return false to stop early.
using BatchOdeStepCallback =
    std::function<bool(int64_t round, const torch::Tensor &t, const torch::Tensor &y, int64_t nfe)>;

// Integrates every sample of the batch y0 [n, ...] from t0 to t1 as its own ODE: RK45 picks each
// sample's steps from that sample's error alone (the RMS norm over its own elements), so sample i
// takes the same path whatever the batch holds. All samples are evaluated together, those still
// running in one call of f per stage. solveOde's RK45 is this solver with the whole state as its
// one sample; the fixed-step methods share one grid. The reference (score_sde_pytorch's sampling.get_ode_sampler)
// instead integrates the flattened batch as one state, which couples the samples' step sizes.
// nfe counts the calls of f; steps the rounds with an accepted step. `stopRequested` is asked
// before every round, also those in which every sample rejected its step (onStep is not called
// then); true stops as onStep's false does, with completed = false. Throws as solveOde.
OdeResult solveOdePerSample(const BatchOdeFunction &f, double t0, double t1, const torch::Tensor &y0,
                            const OdeOptions &options, const BatchOdeStepCallback &onStep = nullptr,
                            const std::function<bool()> &stopRequested = nullptr);

} // namespace sde
