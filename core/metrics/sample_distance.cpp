#include "metrics/sample_distance.h"

#include "util/error.h"

#include <algorithm>

namespace sde {

namespace {

void requirePointSets(const torch::Tensor &a, const torch::Tensor &b)
{
    if (a.dim() != 2 || b.dim() != 2 || a.size(1) != b.size(1))
        throw Error("the distance needs two point sets [N, D] and [M, D] of the same dimension");
    if (a.size(0) < 2 || b.size(0) < 2)
        throw Error("the distance needs at least 2 points in each set");
}

// Values of sorted columns [N, P] at `count` evenly spaced quantiles.
torch::Tensor quantiles(const torch::Tensor &sorted, int64_t count)
{
    const int64_t n = sorted.size(0);
    if (n == count)
        return sorted;
    torch::Tensor positions = (torch::arange(count, torch::kFloat64) + 0.5) * (static_cast<double>(n) / count) - 0.5;
    torch::Tensor index = positions.round().clamp(0, n - 1).to(torch::kLong);
    return sorted.index_select(0, index);
}

} // namespace

double slicedWassersteinDistance(const torch::Tensor &a, const torch::Tensor &b, int64_t projections,
                                 at::Generator generator)
{
    requirePointSets(a, b);
    if (projections < 1)
        throw Error("the sliced Wasserstein distance needs at least one projection");
    torch::Tensor x = a.to(torch::kCPU, torch::kFloat64), y = b.to(torch::kCPU, torch::kFloat64);
    torch::Tensor directions = torch::randn({x.size(1), projections}, generator, torch::kFloat64);
    directions = directions / directions.norm(2, 0, true);
    const int64_t count = std::min(x.size(0), y.size(0));
    torch::Tensor px = quantiles(std::get<0>(x.matmul(directions).sort(0)), count);
    torch::Tensor py = quantiles(std::get<0>(y.matmul(directions).sort(0)), count);
    return (px - py).pow(2).mean().sqrt().item<double>();
}

double maximumMeanDiscrepancy(const torch::Tensor &a, const torch::Tensor &b, double bandwidth)
{
    requirePointSets(a, b);
    if (!(bandwidth > 0.0))
        throw Error("the MMD bandwidth must be positive");
    torch::Tensor x = a.to(torch::kCPU, torch::kFloat64), y = b.to(torch::kCPU, torch::kFloat64);
    auto kernel = [&](const torch::Tensor &p, const torch::Tensor &q) {
        return torch::exp(-torch::cdist(p, q).pow(2) / (2.0 * bandwidth * bandwidth));
    };
    const double n = static_cast<double>(x.size(0)), m = static_cast<double>(y.size(0));
    torch::Tensor kxx = kernel(x, x), kyy = kernel(y, y);
    const double xx = (kxx.sum().item<double>() - kxx.diagonal().sum().item<double>()) / (n * (n - 1.0));
    const double yy = (kyy.sum().item<double>() - kyy.diagonal().sum().item<double>()) / (m * (m - 1.0));
    const double xy = kernel(x, y).mean().item<double>();
    return xx + yy - 2.0 * xy;
}

} // namespace sde
