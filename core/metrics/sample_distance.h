#pragma once

#include <torch/torch.h>

namespace sde {

// The sliced 2-Wasserstein distance between two point sets [N, D] and [M, D]: the root mean
// over `projections` random unit directions of the squared 1D Wasserstein-2 distance between
// the projected sets (exact in 1D: sorted samples matched by quantile; with N != M both are
// read at M' = min(N, M) evenly spaced quantiles).
double slicedWassersteinDistance(const torch::Tensor &a, const torch::Tensor &b, int64_t projections,
                                 at::Generator generator);

// The squared maximum mean discrepancy with a Gaussian kernel of bandwidth `bandwidth`
// (unbiased U-statistic estimate), between point sets [N, D] and [M, D].
double maximumMeanDiscrepancy(const torch::Tensor &a, const torch::Tensor &b, double bandwidth);

} // namespace sde
