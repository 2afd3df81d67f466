#pragma once

#include <torch/torch.h>

#include <string>

namespace sde {

// IDX files (the MNIST / Fashion-MNIST format), plain or gzip-compressed.
// Images: uint8 [N, H, W]; labels: int64 [N]. Throws sde::Error naming the file for a wrong magic
// number, a truncated file, dimensions that do not add up, no items, images of 0 pixels, or a
// header that declares more than 2^24 items, images over 4096 x 4096 or data over 1 GiB (refused
// from the header, before anything is inflated).
torch::Tensor readIdxImages(const std::string &path);
torch::Tensor readIdxLabels(const std::string &path);
// The same from the bytes of an IDX file (plain or gzip) held in memory; `label` names it in errors.
torch::Tensor parseIdxImages(const std::string &bytes, const std::string &label);
torch::Tensor parseIdxLabels(const std::string &bytes, const std::string &label);

} // namespace sde
