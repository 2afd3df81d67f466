#pragma once

#include <torch/torch.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace sde {

// Images as tensors [C, H, W] in [0, 1] (C = 1 or 3, RGB order). This is the only part of core
// that uses OpenCV.

// The largest image file loadImage reads (it reads the whole file before decoding it).
constexpr uint64_t kMaxImageFileBytes = uint64_t(256) << 20;
// The most pixels an image may have, as its header declares them: 8192 x 8192 (64 Mi; a float
// tensor of it in RGB takes 768 MiB).
constexpr uint64_t kMaxImageSide = 8192;
constexpr uint64_t kMaxImagePixels = kMaxImageSide * kMaxImageSide;

// Reads a PNG, JPEG, WebP, BMP, TIFF or PNM file as an image viewer shows it; the one reader of image files for the
// CLI, the studio and training data. Returns [C, H, W] float32 in [0, 1]:
//   - EXIF orientation (JPEG APP1, PNG eXIf) is applied: H x W are the picture's as displayed;
//   - 8-bit values v become v / 255, 16-bit ones v / 65535 (no rounding to 8 bits);
//   - alpha (RGBA, gray + alpha, a palette's tRNS) is straight alpha composited over white:
//     c a + (1 - a) (README, Image files);
//   - palette PNGs expand to their colors.
// `channels` 1 converts to gray (ITU-R BT.601 luma, in the file's depth, so R = G = B stays
// exact), 3 to RGB, 0 keeps the file's own: 1 for gray files (gray, gray + alpha, a palette PNG
// whose pixels are all gray), else 3. Throws sde::Error naming the file when it is missing, not an image,
// larger than kMaxImageFileBytes, declares no pixels or more than kMaxImagePixels in its header
// (refused before decoding), is truncated or damaged (imaging/image_file_checks.h: refused before
// a decoder prints about it), is not 8 or 16 bits, or `channels` is not 0, 1 or 3.
torch::Tensor loadImage(const std::string &path, int64_t channels = 0);

// The width and height of an image file as loadImage would return them (EXIF orientation
// applied), from its header alone: nothing is decoded. Throws sde::Error naming the file for
// what loadImage refuses before decoding (missing, too large, of no image kind, no pixels or
// more than kMaxImagePixels).
struct ImageSize {
    int64_t width = 0;
    int64_t height = 0;
};
ImageSize imageFileSize(const std::string &path);

// loadImage of a file that must be `wanted` (width x height, as loadImage returns it): the size is
// checked from the header before anything is decoded (an 8192 x 8192 photograph given to a 28 x 28
// model is refused in milliseconds), and on the decoded picture. The file is read once. Throws
// sde::Error(wrongSize(the file's size)) for another size, and what loadImage throws.
torch::Tensor loadImageOfSize(const std::string &path, int64_t channels, ImageSize wanted,
                              const std::function<std::string(ImageSize)> &wrongSize);

// Encodes an image as PNG (8 bits, values clamped to [0, 1]) with text chunks: each entry
// becomes an iTXt chunk (UTF-8), so the generation parameters travel inside the file.
std::string encodePng(const torch::Tensor &image, const std::map<std::string, std::string> &text = {});
// encodePng, written atomically.
void savePng(const std::string &path, const torch::Tensor &image, const std::map<std::string, std::string> &text = {});

// The tEXt and iTXt chunks of a PNG file (uncompressed ones; zTXt and compressed iTXt are
// skipped, so nothing is inflated). Throws sde::Error naming the file when it is not a PNG, is
// truncated, or holds more than 1000 text chunks or 16 MiB of text.
std::map<std::string, std::string> readPngText(const std::string &path);
// The same from the bytes of a PNG file held in memory; `label` names it in errors.
std::map<std::string, std::string> parsePngText(const std::string &bytes, const std::string &label);

// The pixels between and around the cells of makeGrid's grids.
constexpr int64_t kGridPadding = 2;
// A grid [C, rows * (H + padding) + padding, columns * (W + padding) + padding] of a batch
// [B, C, H, W]: `columns` per row (0: about square), `padding` pixels of `padValue` around every
// cell (white for images in [0, 1]), as torchvision's make_grid. Throws sde::Error unless 4-D.
// The studio finds the samples in its grids by this layout (ui/tensor_image.h).
torch::Tensor makeGrid(const torch::Tensor &batch, int64_t columns = 0, int64_t padding = kGridPadding,
                       double padValue = 1.0);
// The columns of makeGrid's about square grid of `count` cells: ceil(sqrt(count)).
int64_t gridColumns(int64_t count);

} // namespace sde
