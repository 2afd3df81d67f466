#pragma once

#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

namespace sde {

// Images as tensors [C, H, W] in [0, 1] (C = 1 or 3, RGB order). This is the only part of core
// that uses OpenCV.

// Reads a PNG/JPEG/... file. `channels` 1 converts to gray, 3 to RGB, 0 keeps the file's own.
// Throws sde::Error naming the file when it is missing or not an image.
torch::Tensor loadImage(const std::string &path, int64_t channels = 0);

// Encodes an image as PNG (8 bits, values clamped to [0, 1]) with text chunks: each entry
// becomes an iTXt chunk (UTF-8), so the generation parameters travel inside the file.
std::string encodePng(const torch::Tensor &image, const std::map<std::string, std::string> &text = {});
// encodePng, written atomically.
void savePng(const std::string &path, const torch::Tensor &image, const std::map<std::string, std::string> &text = {});

// The tEXt and iTXt chunks of a PNG file (uncompressed ones).
std::map<std::string, std::string> readPngText(const std::string &path);

// A grid of a batch [B, C, H, W]: `columns` per row (0: about square), `padding` pixels between.
torch::Tensor makeGrid(const torch::Tensor &batch, int64_t columns = 0, int64_t padding = 2);

} // namespace sde
