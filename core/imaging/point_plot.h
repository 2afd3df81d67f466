#pragma once

#include <torch/torch.h>

#include <array>

namespace sde {

// The half-width of the square renderPointCloud draws by default: the bundled 2D toys fit in it.
constexpr double kPointCloudExtent = 4.5;

// A picture of a 2D point cloud: points [N, 2] (or [N, 2, 1, 1]) drawn as a density on a
// size x size RGB image [3, size, size] in [0, 1] covering [-extent, extent]^2 (y up), over an
// optional background cloud drawn in a lighter colour, on `paper` (RGB in [0, 1]; white for
// files, the palette's base colour on screen). Throws sde::Error unless the points are 2D.
torch::Tensor renderPointCloud(const torch::Tensor &points, int64_t size = 256, double extent = kPointCloudExtent,
                               const torch::Tensor &background = {}, std::array<float, 3> paper = {1.0f, 1.0f, 1.0f});

// Points as CSV text ("x,y" header, one point a line).
std::string pointsToCsv(const torch::Tensor &points);

} // namespace sde
