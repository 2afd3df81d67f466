#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

namespace sde {

// Writes frames [C, H, W] in [0, 1] (all of one size) as a Motion-JPEG AVI (a codec OpenCV
// always has), enlarging small frames by a whole factor to at least 256 pixels. Written to a
// temporary file and renamed, so a failure never leaves a broken video.
void writeVideo(const std::string &path, const std::vector<torch::Tensor> &frames, double fps);

// The OpenCV version this was built with ("4.6.0").
std::string openCvVersion();

} // namespace sde
