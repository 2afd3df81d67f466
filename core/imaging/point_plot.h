#pragma once

#include <torch/torch.h>

namespace sde {

// A picture of a 2D point cloud: points [N, 2] (or [N, 2, 1, 1]) drawn as a density on a
// size x size RGB image [3, size, size] in [0, 1] covering [-extent, extent]^2 (y up), over an
// optional background cloud drawn in a lighter colour.
torch::Tensor renderPointCloud(const torch::Tensor &points, int64_t size = 256, double extent = 4.5,
                               const torch::Tensor &background = {});

// Points as CSV text ("x,y" header, one point a line).
std::string pointsToCsv(const torch::Tensor &points);

} // namespace sde
