#include "sampling/noise_schedule.h"

#include "sde/sde.h"

#include <cmath>

namespace sde {

namespace {

torch::Tensor scalar(double t)
{
    return torch::full({1}, t, torch::TensorOptions().dtype(torch::kFloat64));
}

} // namespace

NoiseSchedule::NoiseSchedule(const Sde &sde) : sde_(sde)
{}

double NoiseSchedule::alpha(double t) const
{
    return sde_.meanCoefficient(scalar(t)).item<double>();
}

double NoiseSchedule::sigma(double t) const
{
    return sde_.marginalStd(scalar(t)).item<double>();
}

double NoiseSchedule::lambda(double t) const
{
    return std::log(alpha(t)) - std::log(sigma(t));
}

double NoiseSchedule::timeOf(double target) const
{
    double lo = 0.0;
    double hi = sde_.T();
    if (target >= lambda(1e-12))
        return lo;
    if (target <= lambda(hi))
        return hi;
    // lambda decreases in t: keep lambda(lo) > target >= lambda(hi).
    for (int i = 0; i < 100 && hi - lo > 1e-14; ++i) {
        const double mid = 0.5 * (lo + hi);
        if (lambda(mid) > target)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

} // namespace sde
