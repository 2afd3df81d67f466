#include "imaging/point_plot.h"

#include "util/error.h"

#include <sstream>

namespace sde {

namespace {

// Counts per pixel, as a density in [0, 1] (log-scaled so sparse regions stay visible).
torch::Tensor density(const torch::Tensor &points, int64_t size, double extent)
{
    torch::Tensor xy = points.reshape({points.size(0), -1}).to(torch::kCPU, torch::kFloat64);
    if (xy.size(1) != 2)
        throw Error("a point cloud needs 2D points");
    torch::Tensor column = ((xy.select(1, 0) + extent) / (2.0 * extent) * size).floor().to(torch::kLong);
    torch::Tensor row = ((extent - xy.select(1, 1)) / (2.0 * extent) * size).floor().to(torch::kLong);
    torch::Tensor inside = (column >= 0) & (column < size) & (row >= 0) & (row < size);
    torch::Tensor index = (row * size + column).masked_select(inside);
    torch::Tensor counts = torch::zeros({size * size}, torch::kFloat64);
    counts.index_add_(0, index, torch::ones({index.size(0)}, torch::kFloat64));
    counts = torch::log1p(counts);
    const double top = counts.max().item<double>();
    return (top > 0 ? counts / top : counts).view({size, size}).to(torch::kFloat32);
}

} // namespace

torch::Tensor renderPointCloud(const torch::Tensor &points, int64_t size, double extent,
                               const torch::Tensor &background, std::array<float, 3> paper)
{
    torch::Tensor image = torch::empty({3, size, size});
    for (int c = 0; c < 3; ++c)
        image[c].fill_(paper[static_cast<size_t>(c)]);
    auto paint = [&](const torch::Tensor &cloud, std::array<float, 3> color, float strength) {
        torch::Tensor d = density(cloud, size, extent) * strength;
        for (int c = 0; c < 3; ++c)
            image[c] = image[c] * (1.0 - d) + color[c] * d;
    };
    if (background.defined() && background.numel() > 0)
        paint(background, {0.55f, 0.70f, 0.90f}, 0.6f);
    paint(points, {0.80f, 0.20f, 0.10f}, 1.0f);
    return image.clamp(0.0, 1.0);
}

std::string pointsToCsv(const torch::Tensor &points)
{
    torch::Tensor xy = points.reshape({points.size(0), -1}).to(torch::kCPU, torch::kFloat64);
    std::ostringstream csv;
    csv.precision(9);
    csv << "x,y\n";
    for (int64_t i = 0; i < xy.size(0); ++i)
        csv << xy[i][0].item<double>() << "," << xy[i][1].item<double>() << "\n";
    return csv.str();
}

} // namespace sde
