#pragma once

namespace sde {

class Sde;

// The scalar schedule of an SDE's perturbation kernel, x_t = alpha(t) x_0 + sigma(t) z, in
// double precision: the view the fast samplers take of every SDE (VE: alpha = 1; VP and sub-VP:
// their mean coefficient and std). lambda(t) = log(alpha / sigma) is the half log-SNR, which
// decreases in t; timeOf inverts it.
class NoiseSchedule {
public:
    explicit NoiseSchedule(const Sde &sde);

    double alpha(double t) const;
    double sigma(double t) const;
    double lambda(double t) const;
    // The time in [0, T] whose lambda is the given one (clamped to the ends), by bisection.
    double timeOf(double lambda) const;
    // sigma / alpha: the noise level of the scaled state x / alpha, EDM's sigma.
    double scaledSigma(double t) const { return sigma(t) / alpha(t); }

private:
    const Sde &sde_;
};

} // namespace sde
