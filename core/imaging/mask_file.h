#pragma once

#include <torch/torch.h>

#include <string>

namespace sde {

// Inpainting masks as image files, for the CLI and the studio alike. A mask file's gray value m
// (0..255) is the fill weight m / 255 of editing/inpainting.h: black keeps the image's pixel,
// white generates it, grays blend the two. The file is read by loadImage(path, 1), so it looks
// as a viewer shows it: color becomes gray, 16-bit and palette files are fine, and a transparent
// pixel reads as white, a pixel to fill (README, Masks).

// Reads a mask file as a fill mask [1, H, W] in [0, 1], in steps of 1 / 255 (a 16-bit file is
// rounded to the nearest of the 256 levels, so a mask means the same in the studio's 8-bit canvas).
// Throws sde::Error naming the file when it cannot be read or is not `width` x `height` pixels.
torch::Tensor loadFillMask(const std::string &path, int64_t height, int64_t width);

// Writes a fill mask [1, H, W] in [0, 1] as an 8-bit gray PNG (weight w as round(255 w)),
// atomically. Throws sde::Error naming the file when it cannot be written.
void saveFillMask(const std::string &path, const torch::Tensor &fillMask);

} // namespace sde
