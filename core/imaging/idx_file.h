#pragma once

#include <torch/torch.h>

#include <string>

namespace sde {

// IDX files (the MNIST / Fashion-MNIST format), plain or gzip-compressed.
// Images: uint8 [N, H, W]; labels: int64 [N]. Throws sde::Error naming the file for a wrong magic
// number, a truncated file or dimensions that do not add up.
torch::Tensor readIdxImages(const std::string &path);
torch::Tensor readIdxLabels(const std::string &path);

} // namespace sde
