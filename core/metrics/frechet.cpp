#include "metrics/frechet.h"

#include "util/error.h"

namespace sde {

namespace {

// The square root of a symmetric positive semi-definite matrix.
torch::Tensor symmetricSqrt(const torch::Tensor &matrix)
{
    auto [values, vectors] = torch::linalg_eigh(matrix);
    return vectors.matmul(torch::diag(values.clamp_min(0.0).sqrt())).matmul(vectors.transpose(0, 1));
}

} // namespace

FeatureStatistics featureStatistics(const torch::Tensor &features)
{
    if (features.dim() != 2 || features.size(0) < 2)
        throw Error("feature statistics need a matrix [N, F] with N >= 2");
    torch::Tensor x = features.to(torch::kCPU, torch::kFloat64);
    torch::Tensor mean = x.mean(0);
    torch::Tensor centered = x - mean;
    return {mean, centered.transpose(0, 1).matmul(centered) / static_cast<double>(x.size(0) - 1)};
}

double frechetDistance(const FeatureStatistics &a, const FeatureStatistics &b)
{
    if (!a.mean.sizes().equals(b.mean.sizes()))
        throw Error("the two feature sets have different dimensions");
    torch::Tensor rootA = symmetricSqrt(a.covariance);
    torch::Tensor middle = rootA.matmul(b.covariance).matmul(rootA);
    middle = (middle + middle.transpose(0, 1)) / 2.0;
    const double traceOfRoot = torch::linalg_eigvalsh(middle).clamp_min(0.0).sqrt().sum().item<double>();
    const double meanTerm = (a.mean - b.mean).pow(2).sum().item<double>();
    return meanTerm + a.covariance.trace().item<double>() + b.covariance.trace().item<double>() - 2.0 * traceOfRoot;
}

} // namespace sde
