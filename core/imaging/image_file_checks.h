#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace sde {

// Checks of an image file's bytes made before a decoder sees them, so that a truncated or damaged
// file is refused with one message naming the file and the damage, and the libraries under
// OpenCV (libpng, libjpeg) never print warnings or errors of their own. loadImage calls them.

// Checks a PNG in full: the chunk structure up to IEND, the CRC of every chunk the decoder reads,
// the header's fields, the palette and transparency, and the image data, inflated (and
// discarded) to exactly the size the header declares with valid row filters. Returns the PNG
// with only those chunks (IHDR, PLTE, tRNS, IDAT, IEND): ancillary chunks, which libpng would
// warn about (an iCCP profile it dislikes), never reach it. Throws sde::Error naming `path`.
std::string checkedPngForDecoding(const std::string &bytes, const std::string &path);

// Decodes a JPEG once through libjpeg at 1/8 scale (every bit of its entropy-coded data is
// read) with an error manager that keeps libjpeg's messages: any warning (corrupt data, a
// premature end) or error refuses the file. Throws sde::Error naming `path` and libjpeg's words.
void checkJpegData(const std::string &bytes, const std::string &path);

// Decodes every strip or tile of a TIFF's first image once through libtiff, its messages kept:
// an error (a strip past the end of the file, corrupt LZW or deflate data, a compression libtiff
// does not know) refuses the file, where OpenCV's decoder would return black pixels without a
// word. Warnings (tags libtiff does not know) are ignored, as OpenCV ignores them. Throws
// sde::Error naming `path` and libtiff's words.
void checkTiffData(const std::string &bytes, const std::string &path);

// The numbers of a PNM header ("P1" to "P6" at the start of `bytes`): width, height and, but for
// P1 and P4, the largest value, in ASCII with # comments and whitespace between them, each held
// at 10^9 at most. `pixelsAt` is the byte after the one whitespace character that ends the
// header (binary PNMs' pixels start there). Nothing when `bytes` is no PNM, a number is missing, or
// no whitespace follows the last one.
struct PnmHeader {
    uint64_t width = 0;
    uint64_t height = 0;
    uint64_t maxValue = 0;
    size_t pixelsAt = 0;
};
std::optional<PnmHeader> readPnmHeader(const std::string &bytes);

// For a PNM of gray or color samples (P2, P3, P5, P6): checks its largest value (1 to 65535) and
// every sample against it, and returns that value, by which the decoded samples are divided.
// OpenCV's reader neither refuses a sample above it nor scales consistently: binary files come
// back raw, plain 8-bit ones scaled to 255 (rounded), plain 16-bit ones raw. So a plain PNM is
// rewritten as its binary twin into `binary`, and every such PNM decodes to raw samples. Nothing
// (and `binary` untouched) for other files. Throws sde::Error naming `path`: a value out of
// range, a plain sample that is no number, or too few samples.
std::optional<uint64_t> checkPnmSamples(const std::string &bytes, const std::string &path, std::string &binary);

// Checks that an uncompressed BMP (BI_RGB or BI_BITFIELDS) or a binary PNM (P4, P5, P6) holds
// all the pixels its header declares: OpenCV's readers throw (and print) on a truncated one.
// `width` and `height` as the header declares them. Does nothing for other files.
void checkPixelDataLength(const std::string &bytes, uint64_t width, uint64_t height, const std::string &path);

} // namespace sde
