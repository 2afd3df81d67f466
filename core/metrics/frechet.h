#pragma once

#include <torch/torch.h>

namespace sde {

// The mean and covariance of feature vectors [N, F] (N >= 2), in float64.
struct FeatureStatistics {
    torch::Tensor mean;       // [F]
    torch::Tensor covariance; // [F, F], unbiased (divided by N - 1)
};
FeatureStatistics featureStatistics(const torch::Tensor &features);

// The Fréchet distance between two Gaussians, as FID computes it on Inception features:
//   |mu1 - mu2|^2 + tr(C1 + C2 - 2 (C1 C2)^(1/2)),
// with tr (C1 C2)^(1/2) = sum of the square roots of the eigenvalues of C1^(1/2) C2 C1^(1/2)
// (symmetric, so computed with eigh; tiny negative eigenvalues from rounding count as 0).
double frechetDistance(const FeatureStatistics &a, const FeatureStatistics &b);

} // namespace sde
