#include "imaging/image_io.h"

#include "imaging/image_file_checks.h"
#include "util/error.h"
#include "util/files.h"

#include <opencv2/core/utils/logger.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <mutex>
#include <optional>
#include <sstream>
#include <string_view>

namespace sde {

namespace {

// The chunk CRC of the PNG specification is zlib's CRC-32.
uint32_t crc32Of(const std::string &bytes)
{
    return static_cast<uint32_t>(::crc32(::crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef *>(bytes.data()),
                                         static_cast<uInt>(bytes.size())));
}

void appendBigEndian(std::string &out, uint32_t v)
{
    out += static_cast<char>(v >> 24);
    out += static_cast<char>(v >> 16);
    out += static_cast<char>(v >> 8);
    out += static_cast<char>(v);
}

uint32_t readBigEndian(const std::string &bytes, size_t at)
{
    return (uint32_t(uint8_t(bytes[at])) << 24) | (uint32_t(uint8_t(bytes[at + 1])) << 16) |
           (uint32_t(uint8_t(bytes[at + 2])) << 8) | uint32_t(uint8_t(bytes[at + 3]));
}

std::string chunk(const std::string &type, const std::string &data)
{
    std::string out;
    appendBigEndian(out, static_cast<uint32_t>(data.size()));
    out += type + data;
    appendBigEndian(out, crc32Of(type + data));
    return out;
}

const char kPngSignature[] = "\x89PNG\r\n\x1a\n";

// What readPngText reads of a PNG's text: SDE Studio's own record is a few kB in two chunks.
constexpr size_t kMaxPngTextChunks = 1000;
constexpr uint64_t kMaxPngTextBytes = uint64_t(16) << 20;

bool isPng(const std::string &bytes)
{
    return bytes.size() >= 8 && bytes.compare(0, 8, kPngSignature, 8) == 0;
}

// Calls visit(type, data) for each chunk of a PNG file's bytes until IEND or until visit returns
// false. Returns false when a chunk runs past the end of the bytes (a truncated file).
bool forEachPngChunk(const std::string &bytes,
                     const std::function<bool(const std::string &type, std::string_view data)> &visit)
{
    size_t at = 8;
    while (at + 12 <= bytes.size()) {
        const uint32_t length = readBigEndian(bytes, at);
        if (length > bytes.size() - at - 12)
            return false;
        const std::string type = bytes.substr(at + 4, 4);
        if (type == "IEND" || !visit(type, std::string_view(bytes).substr(at + 8, length)))
            return true;
        at += 12 + length;
    }
    return true;
}

// The value of a tag of the first IFD of TIFF-structured bytes (a TIFF file, an EXIF APP1 segment
// after its "Exif\0\0", a PNG eXIf chunk) when it holds one SHORT or LONG; nothing when it is
// absent or malformed.
std::optional<uint32_t> firstIfdValue(const std::string &tiff, uint32_t tag)
{
    if (tiff.size() < 8 || (tiff.compare(0, 2, "II") != 0 && tiff.compare(0, 2, "MM") != 0))
        return std::nullopt;
    const bool little = tiff[0] == 'I';
    auto u16 = [&](size_t at) -> uint32_t {
        const uint32_t a = uint8_t(tiff[at]), b = uint8_t(tiff[at + 1]);
        return little ? a | (b << 8) : (a << 8) | b;
    };
    auto u32 = [&](size_t at) -> uint32_t {
        return little ? u16(at) | (u16(at + 2) << 16) : (u16(at) << 16) | u16(at + 2);
    };
    if (u16(2) != 42)
        return std::nullopt;
    const size_t ifd = u32(4);
    if (ifd + 2 > tiff.size())
        return std::nullopt;
    const uint32_t entries = u16(ifd);
    for (uint32_t i = 0; i < entries && ifd + 2 + 12 * (i + 1) <= tiff.size(); ++i) {
        const size_t entry = ifd + 2 + 12 * i;
        // Count 1: a SHORT (type 3) sits in the first two bytes of the value field, a LONG (4) fills it.
        if (u16(entry) == tag && u32(entry + 4) == 1) {
            if (u16(entry + 2) == 3)
                return u16(entry + 8);
            if (u16(entry + 2) == 4)
                return u32(entry + 8);
        }
    }
    return std::nullopt;
}

// The orientation tag (0x0112, a SHORT) of TIFF-structured bytes: 1 to 8, or 1 when absent or malformed.
int tiffOrientation(const std::string &tiff)
{
    const std::optional<uint32_t> value = firstIfdValue(tiff, 0x0112);
    return value && *value >= 1 && *value <= 8 ? static_cast<int>(*value) : 1;
}

// A TIFF's byte-order mark and magic number: little-endian "II*\0" or big-endian "MM\0*".
bool isTiff(const std::string &bytes)
{
    return bytes.size() >= 8 && (bytes.compare(0, 4, "II*\0", 4) == 0 || bytes.compare(0, 4, "MM\0*", 4) == 0);
}

bool isJpeg(const std::string &bytes)
{
    return bytes.size() > 4 && uint8_t(bytes[0]) == 0xFF && uint8_t(bytes[1]) == 0xD8;
}

// Calls visit(marker, data) for each marker segment of a JPEG's header (up to the start of scan)
// until visit returns false; stops at a segment that runs past the end of the bytes.
void forEachJpegSegment(const std::string &bytes,
                        const std::function<bool(uint8_t marker, std::string_view data)> &visit)
{
    size_t at = 2;
    while (at + 4 <= bytes.size() && uint8_t(bytes[at]) == 0xFF) {
        const uint8_t marker = uint8_t(bytes[at + 1]);
        if (marker == 0xFF) { // fill byte
            ++at;
            continue;
        }
        if (marker == 0xDA || marker == 0xD9) // start of scan, end of image: no header after
            return;
        const size_t length = (size_t(uint8_t(bytes[at + 2])) << 8) | uint8_t(bytes[at + 3]);
        if (length < 2 || at + 2 + length > bytes.size())
            return;
        if (!visit(marker, std::string_view(bytes).substr(at + 4, length - 2)))
            return;
        at += 2 + length;
    }
}

bool isWebp(const std::string &bytes)
{
    return bytes.size() >= 12 && bytes.compare(0, 4, "RIFF") == 0 && bytes.compare(8, 4, "WEBP") == 0;
}

// The orientation tag of a WebP file's EXIF chunk (RIFF "WEBP" container, chunks of a fourcc, a
// little-endian size and the data padded to an even length); some writers start its data with
// JPEG's "Exif\0\0". 1 when there is none or the container is malformed.
int webpOrientation(const std::string &bytes)
{
    size_t at = 12;
    while (at + 8 <= bytes.size()) {
        const uint32_t size = uint32_t(uint8_t(bytes[at + 4])) | uint32_t(uint8_t(bytes[at + 5])) << 8 |
                              uint32_t(uint8_t(bytes[at + 6])) << 16 | uint32_t(uint8_t(bytes[at + 7])) << 24;
        if (size > bytes.size() - at - 8)
            return 1;
        if (bytes.compare(at, 4, "EXIF") == 0) {
            std::string data = bytes.substr(at + 8, size);
            if (data.compare(0, 6, std::string("Exif\0\0", 6)) == 0)
                data.erase(0, 6);
            return tiffOrientation(data);
        }
        at += 8 + size + (size & 1);
    }
    return 1;
}

// The orientation a viewer applies that imdecode leaves to us: the EXIF orientation of a JPEG
// (APP1 "Exif" segment), a PNG (eXIf chunk before the image data, as the PNG specification places
// it) or a WebP (EXIF chunk); 1 (as stored) for other formats and files without one. A TIFF's own
// orientation tag is applied by OpenCV's TIFF decoder itself, also with IMREAD_UNCHANGED (the
// tests check all three kinds of file).
int exifOrientation(const std::string &bytes)
{
    if (isWebp(bytes))
        return webpOrientation(bytes);

    if (isJpeg(bytes)) {
        int orientation = 1;
        forEachJpegSegment(bytes, [&](uint8_t marker, std::string_view data) {
            if (marker == 0xE1 && data.size() >= 6 && data.substr(0, 6) == std::string_view("Exif\0\0", 6)) {
                orientation = tiffOrientation(std::string(data.substr(6)));
                return false;
            }
            return true;
        });
        return orientation;
    }
    int orientation = 1;
    if (isPng(bytes))
        forEachPngChunk(bytes, [&](const std::string &type, std::string_view data) {
            if (type == "eXIf")
                orientation = tiffOrientation(std::string(data));
            return type != "eXIf" && type != "IDAT";
        });
    return orientation;
}

// An image's width and height as its header declares them.
struct DeclaredSize {
    uint64_t width = 0;
    uint64_t height = 0;
};

uint32_t littleEndian(const std::string &bytes, size_t at, int count)
{
    uint32_t v = 0;
    for (int i = count - 1; i >= 0; --i)
        v = (v << 8) | uint8_t(bytes[at + static_cast<size_t>(i)]);
    return v;
}

// The size a WebP's first chunk declares: a lossy VP8 frame header, a lossless VP8L header or an
// extended VP8X canvas.
std::optional<DeclaredSize> webpSize(const std::string &bytes)
{
    if (bytes.size() < 30)
        return std::nullopt;
    if (bytes.compare(12, 4, "VP8 ") == 0 && uint8_t(bytes[23]) == 0x9d && uint8_t(bytes[24]) == 0x01 &&
        uint8_t(bytes[25]) == 0x2a)
        return DeclaredSize{littleEndian(bytes, 26, 2) & 0x3fff, littleEndian(bytes, 28, 2) & 0x3fff};
    if (bytes.compare(12, 4, "VP8L") == 0 && uint8_t(bytes[20]) == 0x2f) {
        const uint32_t bits = littleEndian(bytes, 21, 4);
        return DeclaredSize{(bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1};
    }
    if (bytes.compare(12, 4, "VP8X") == 0)
        return DeclaredSize{uint64_t(littleEndian(bytes, 24, 3)) + 1, uint64_t(littleEndian(bytes, 27, 3)) + 1};
    return std::nullopt;
}

// The size in a JPEG's start-of-frame segment (SOF0 to SOF15 but DHT C4, JPG C8 and DAC CC).
std::optional<DeclaredSize> jpegSize(const std::string &bytes)
{
    std::optional<DeclaredSize> size;
    forEachJpegSegment(bytes, [&](uint8_t marker, std::string_view data) {
        if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC) {
            if (data.size() >= 5) // precision, height, width
                size = DeclaredSize{(uint64_t(uint8_t(data[3])) << 8) | uint8_t(data[4]),
                                    (uint64_t(uint8_t(data[1])) << 8) | uint8_t(data[2])};
            return false;
        }
        return true;
    });
    return size;
}

// The size an image file's header declares, read without decoding it, for the formats loadImage
// takes: PNG (IHDR), JPEG (SOFn), WebP, BMP, TIFF (the first IFD) and PNM. Throws sde::Error
// naming the file for any other kind of file or a header without a size.
DeclaredSize declaredSize(const std::string &bytes, const std::string &path)
{
    std::optional<DeclaredSize> size;
    bool known = true;
    if (isPng(bytes)) {
        if (bytes.size() >= 24 && bytes.compare(12, 4, "IHDR") == 0)
            size = DeclaredSize{readBigEndian(bytes, 16), readBigEndian(bytes, 20)};
    } else if (isJpeg(bytes)) {
        size = jpegSize(bytes);
    } else if (isWebp(bytes)) {
        size = webpSize(bytes);
    } else if (bytes.size() >= 26 && bytes.compare(0, 2, "BM") == 0) {
        if (littleEndian(bytes, 14, 4) == 12) { // BITMAPCOREHEADER: 16-bit sides
            size = DeclaredSize{littleEndian(bytes, 18, 2), littleEndian(bytes, 20, 2)};
        } else {
            // Signed: a negative height is a top-down bitmap. A negative width, or the height
            // -2^31 (whose magnitude an int cannot hold: OpenCV asserted on it), is no bitmap.
            const int32_t width = int32_t(littleEndian(bytes, 18, 4)), height = int32_t(littleEndian(bytes, 22, 4));
            if (width < 0 || height == std::numeric_limits<int32_t>::min())
                throw Error("'" + path + "' is a damaged BMP file: its header declares " + std::to_string(width) +
                            " x " + std::to_string(height) + " pixels");
            size = DeclaredSize{uint64_t(width), uint64_t(std::abs(int64_t(height)))};
        }
    } else if (isTiff(bytes)) {
        const std::optional<uint32_t> width = firstIfdValue(bytes, 256), height = firstIfdValue(bytes, 257);
        if (width && height)
            size = DeclaredSize{*width, *height};
    } else if (bytes.size() >= 3 && bytes[0] == 'P' && bytes[1] >= '1' && bytes[1] <= '6' &&
               std::isspace(uint8_t(bytes[2]))) {
        const std::optional<PnmHeader> header = readPnmHeader(bytes);
        if (!header)
            throw Error("'" + path + "' is a damaged PNM file: its header does not hold a width, a height" +
                        (bytes[1] == '1' || bytes[1] == '4' ? "" : " and a largest value") +
                        ", the last followed by whitespace");
        size = DeclaredSize{header->width, header->height};
    } else {
        known = false;
    }
    if (!known)
        throw Error("'" + path + "' is not a PNG, JPEG, WebP, BMP, TIFF or PNM image");
    if (!size)
        throw Error("'" + path + "' is not an image OpenCV can read (its header declares no size)");
    return *size;
}

// cv::imdecode of `bytes`, with what OpenCV would print kept from the terminal. imdecode writes a
// decoder's exception to std::cerr itself ("imdecode_(''): can't read data: OpenCV(4.6.0) ...
// error: (-2:Unspecified error) PXM: Unexpected code in ReadNumber() ... in function ..."),
// whatever its log level: std::cerr is caught for the call (one decode at a time, so no other
// thread's decode swaps it meanwhile) and the decoder's reason comes back in `reason`.
cv::Mat decodeQuietly(const std::string &bytes, std::string &reason)
{
    static std::mutex decoding;
    std::lock_guard<std::mutex> lock(decoding);
    std::ostringstream caught;
    cv::Mat image;
    {
        // std::cerr gets its own buffer back however the call ends (a failed allocation too).
        struct Restore {
            std::streambuf *terminal;
            ~Restore() { std::cerr.rdbuf(terminal); }
        } restore{std::cerr.rdbuf(caught.rdbuf())};
        try {
            // IMREAD_UNCHANGED keeps alpha and 16 bits; orientation is ours to apply.
            image = cv::imdecode(cv::Mat(1, static_cast<int>(bytes.size()), CV_8U, const_cast<char *>(bytes.data())),
                                 cv::IMREAD_UNCHANGED);
        } catch (const cv::Exception &e) {
            caught << e.what();
            image = cv::Mat();
        }
    }
    // The words between OpenCV's error code and its function name; a failed check has none there
    // and says it on lines of its own ("> Unsupported number of channels:", "> 'channels' is 5"),
    // which are joined into one.
    const std::string text = caught.str();
    const size_t code = text.find("error) ");
    if (code != std::string::npos) {
        const size_t from = code + 7;
        const size_t to = std::min(text.find("in function", from), text.find('\n', from));
        reason = text.substr(from, to == std::string::npos ? std::string::npos : to - from);
        for (size_t line = text.find("\n> ", from); line != std::string::npos; line = text.find("\n> ", line + 1)) {
            const size_t end = text.find('\n', line + 1);
            std::string words = text.substr(line + 3, end == std::string::npos ? std::string::npos : end - line - 3);
            words.erase(0, words.find_first_not_of(' '));
            reason += (reason.empty() || reason.back() == ' ' ? "" : " ") + words;
        }
        while (!reason.empty() && (std::isspace(uint8_t(reason.back())) || reason.back() == ':'))
            reason.pop_back();
    }
    return image;
}

// OpenCV's own log (imgcodecs' warnings) off: a file it cannot read comes back as our one error.
void silenceOpenCvLog()
{
    static const bool silenced = [] {
        cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
        return true;
    }();
    (void)silenced;
}

// Turns stored pixels into the picture a viewer shows. The EXIF orientations: 1 as stored,
// 2 mirrored left to right, 3 turned 180 degrees, 4 mirrored top to bottom, 5 transposed, 6 to be
// turned 90 degrees clockwise, 7 transverse, 8 to be turned 90 degrees counterclockwise. OpenCV's
// own table (ApplyExifOrientation, which imread applies to JPEGs except with IMREAD_UNCHANGED).
void applyExifOrientation(cv::Mat &image, int orientation)
{
    if (orientation >= 5) {
        cv::Mat transposed;
        cv::transpose(image, transposed);
        image = transposed;
    }
    switch (orientation) {
    case 2: // mirrored
    case 6: // rotated 90 degrees clockwise for display
        cv::flip(image, image, 1);
        break;
    case 3: // upside down
    case 7:
        cv::flip(image, image, -1);
        break;
    case 4:
    case 8: // rotated 90 degrees counterclockwise for display
        cv::flip(image, image, 0);
        break;
    default: // 1 as stored, 5 transposed
        break;
    }
}

// Whether a file's picture is gray: one color channel, a PNG of color type 0 (gray) or 4 (gray +
// alpha; OpenCV expands it to BGRA), or a palette PNG (type 3) whose pixels are all gray.
bool storesGray(const std::string &bytes, const cv::Mat &color)
{
    if (color.channels() == 1)
        return true;
    if (!isPng(bytes) || bytes.size() < 26 || bytes.compare(12, 4, "IHDR") != 0)
        return false;
    const int colorType = uint8_t(bytes[25]);
    if (colorType == 0 || colorType == 4)
        return true;
    if (colorType != 3)
        return false;
    std::vector<cv::Mat> planes;
    cv::split(color, planes);
    return cv::countNonZero(planes[0] != planes[1]) == 0 && cv::countNonZero(planes[1] != planes[2]) == 0;
}

// An 8- or 16-bit image [H, W, C] as a tensor [C, H, W] of value / (2^bits - 1): exactly v / 255
// and v / 65535 (a float32 division, as LibTorch divides); v / `largest` where it is given (a
// PNM's own largest value). One channel at a time into the result,
// which is divided in place: a 16-bit 8192 x 8192 RGB image needs its float result and one 16-bit
// plane besides, not the five whole copies a convert, permute and divide would make. With
// `reversed` the channels come out in the opposite order (OpenCV's BGR as RGB, without a copy).
torch::Tensor unitRange(const cv::Mat &image, bool reversed = false, std::optional<uint64_t> largest = std::nullopt)
{
    const double top = largest ? double(*largest) : image.depth() == CV_16U ? 65535.0 : 255.0;
    const int channels = image.channels();
    torch::Tensor out = torch::empty({channels, image.rows, image.cols}, torch::kFloat32);
    cv::Mat plane;
    for (int c = 0; c < channels; ++c) {
        if (channels == 1)
            plane = image;
        else
            cv::extractChannel(image, plane, reversed ? channels - 1 - c : c);
        float *destination = out[c].data_ptr<float>();
        cv::Mat target(image.rows, image.cols, CV_32F, destination);
        plane.convertTo(target, CV_32F); // exact for 8- and 16-bit values
        if (target.data != reinterpret_cast<uchar *>(destination))
            throw Error("internal error: OpenCV did not convert the image in place");
    }
    return out.div_(top);
}

// The file's bytes and its size from its header, with loadImage's refusals before decoding: a
// missing or unreadable file, one larger than kMaxImageFileBytes, of no image kind, or declaring
// no pixels or more than kMaxImagePixels.
std::pair<std::string, DeclaredSize> readImageHeader(const std::string &path)
{
    requireReadableFile(path);
    const uint64_t fileBytes = std::filesystem::file_size(path);
    if (fileBytes > kMaxImageFileBytes)
        throw Error("'" + path + "' is " + std::to_string(fileBytes) + " bytes, more than the " +
                    std::to_string(kMaxImageFileBytes) + " an image file may have");
    std::string bytes = readFile(path);
    const DeclaredSize size = declaredSize(bytes, path);
    if (size.width == 0 || size.height == 0)
        throw Error("'" + path + "' declares " + std::to_string(size.width) + " x " + std::to_string(size.height) +
                    " pixels; an image needs at least 1 x 1");
    if (size.width * size.height > kMaxImagePixels)
        throw Error("'" + path + "' declares " + std::to_string(size.width) + " x " + std::to_string(size.height) +
                    " pixels, more than the " + std::to_string(kMaxImagePixels) + " (" + std::to_string(kMaxImageSide) +
                    " x " + std::to_string(kMaxImageSide) + ") an image may have");
    return {std::move(bytes), size};
}

} // namespace

namespace {

// The width and height loadImage returns for a file of this header. Orientations 5 to 8 turn the
// stored picture a quarter: applyExifOrientation does for EXIF, OpenCV's decoder for a TIFF's own tag.
ImageSize orientedSize(const std::string &bytes, const DeclaredSize &size)
{
    const auto width = static_cast<int64_t>(size.width), height = static_cast<int64_t>(size.height);
    if ((isTiff(bytes) ? tiffOrientation(bytes) : exifOrientation(bytes)) >= 5)
        return ImageSize{height, width};
    return ImageSize{width, height};
}

void requireChannelChoice(int64_t channels, const std::string &path)
{
    if (channels != 0 && channels != 1 && channels != 3)
        throw Error("'" + path + "': images load with 1 or 3 channels (0: the file's own), not " +
                    std::to_string(channels));
}

// loadImage past its header (readImageHeader): the checks of damage, the decode, the conversion.
torch::Tensor decodeImage(const std::string &bytes, const DeclaredSize &size, const std::string &path, int64_t channels)
{
    // A damaged file is refused here, with its damage named, before a decoder prints about it.
    // `prepared` is what the decoder gets where it differs from the file's bytes: a PNG with only
    // the chunks it reads; a plain (ASCII) PNM's binary twin (checkPnmSamples); a plain bitmap
    // that ends right after its last digit with a line break, which OpenCV's reader wants after it.
    std::string prepared;
    if (isPng(bytes))
        prepared = checkedPngForDecoding(bytes, path);
    else if (isJpeg(bytes))
        checkJpegData(bytes, path);
    else if (isTiff(bytes))
        checkTiffData(bytes, path);
    else
        checkPixelDataLength(bytes, size.width, size.height, path);
    // A PNM of samples: each checked against its largest value, a plain one made binary.
    const std::optional<uint64_t> pnmLargest = checkPnmSamples(bytes, path, prepared);
    const bool plainBitmap = bytes.size() >= 2 && bytes[0] == 'P' && bytes[1] == '1';
    if (plainBitmap && !std::isspace(uint8_t(bytes.back())))
        prepared = bytes + "\n";
    const std::string &decoded = prepared.empty() ? bytes : prepared;
    silenceOpenCvLog();
    std::string reason;
    cv::Mat image = decodeQuietly(decoded, reason);
    std::string().swap(prepared); // a plain PNM's binary twin can be as large as the image
    if (image.empty())
        throw Error("'" + path + "' is not an image OpenCV can read" + (reason.empty() ? "" : " (" + reason + ")"));
    if (image.depth() != CV_8U && image.depth() != CV_16U)
        throw Error("'" + path + "': only 8- and 16-bit images are supported");
    applyExifOrientation(image, exifOrientation(bytes));

    // The color (gray or BGR) and the alpha channel apart; the decoded image is let go as soon as
    // they are (a 16-bit RGBA file of 8192 x 8192 pixels decodes to 512 MiB).
    cv::Mat color, alpha;
    switch (image.channels()) {
    case 1:
    case 3:
        color = image;
        break;
    case 2: // gray + alpha
        cv::extractChannel(image, color, 0);
        cv::extractChannel(image, alpha, 1);
        break;
    case 4:
        cv::cvtColor(image, color, cv::COLOR_BGRA2BGR);
        cv::extractChannel(image, alpha, 3);
        break;
    default:
        throw Error("'" + path + "' has " + std::to_string(image.channels()) + " channels; images have 1 to 4");
    }
    image.release();
    const int64_t want = channels != 0 ? channels : (storesGray(bytes, color) ? 1 : 3);
    // In the file's own depth, so a gray image stored as RGB (R = G = B) turns back to gray exactly.
    if (want == 1 && color.channels() == 3)
        cv::cvtColor(color, color, cv::COLOR_BGR2GRAY);
    else if (want == 3 && color.channels() == 1)
        cv::cvtColor(color, color, cv::COLOR_GRAY2RGB);
    // Three channels are BGR (or gray made RGB, all alike): read as RGB in reverse order.
    torch::Tensor out = unitRange(color, color.channels() == 3, pnmLargest);
    color.release();
    if (!alpha.empty()) {
        // Straight (not premultiplied) alpha, as PNG stores it, over a white background:
        // c a + (1 - a), in place.
        const torch::Tensor a = unitRange(alpha);
        alpha.release();
        out.mul_(a).add_(1.0 - a);
    }
    return out;
}

} // namespace

torch::Tensor loadImage(const std::string &path, int64_t channels)
{
    requireChannelChoice(channels, path);
    // Refused from the header, before OpenCV allocates the pixels.
    const auto [bytes, size] = readImageHeader(path);
    return decodeImage(bytes, size, path, channels);
}

ImageSize imageFileSize(const std::string &path)
{
    const auto [bytes, size] = readImageHeader(path);
    return orientedSize(bytes, size);
}

torch::Tensor loadImageOfSize(const std::string &path, int64_t channels, ImageSize wanted,
                              const std::function<std::string(ImageSize)> &wrongSize)
{
    requireChannelChoice(channels, path);
    const auto [bytes, size] = readImageHeader(path);
    const auto requireWanted = [&](ImageSize found) {
        if (found.width != wanted.width || found.height != wanted.height)
            throw Error(wrongSize(found));
    };
    requireWanted(orientedSize(bytes, size));
    torch::Tensor image = decodeImage(bytes, size, path, channels);
    // The decoded picture's size is what counts; the header's has been its twin on every file tried.
    requireWanted(ImageSize{image.size(2), image.size(1)});
    return image;
}

std::string encodePng(const torch::Tensor &input, const std::map<std::string, std::string> &text)
{
    if (input.dim() != 3 || (input.size(0) != 1 && input.size(0) != 3))
        throw Error("a PNG needs an image [1 or 3, H, W]");
    torch::Tensor hwc = (input.detach().to(torch::kCPU, torch::kFloat32).clamp(0.0, 1.0) * 255.0)
                            .round()
                            .to(torch::kUInt8)
                            .permute({1, 2, 0})
                            .contiguous();
    cv::Mat image(static_cast<int>(hwc.size(0)), static_cast<int>(hwc.size(1)), hwc.size(2) == 1 ? CV_8UC1 : CV_8UC3,
                  hwc.data_ptr());
    cv::Mat bgr;
    if (hwc.size(2) == 3)
        cv::cvtColor(image, bgr, cv::COLOR_RGB2BGR);
    else
        bgr = image;
    std::vector<uchar> encoded;
    if (!cv::imencode(".png", bgr, encoded))
        throw Error("PNG encoding failed");
    std::string png(encoded.begin(), encoded.end());
    // Insert iTXt chunks just before IEND (the last 12 bytes).
    std::string chunks;
    for (const auto &[key, value] : text) {
        if (key.empty() || key.size() > 79)
            throw Error("a PNG text key must have 1 to 79 characters");
        // keyword \0, compression flag 0, method 0, empty language tag \0, empty translated keyword \0
        chunks += chunk("iTXt", key + std::string("\0\0\0\0\0", 5) + value);
    }
    png.insert(png.size() - 12, chunks);
    return png;
}

void savePng(const std::string &path, const torch::Tensor &image, const std::map<std::string, std::string> &text)
{
    writeFileAtomically(path, encodePng(image, text));
}

namespace {

// The text chunks of a PNG of `fileSize` bytes, read through readAt(offset, size). The chunks are
// walked, reading only the text ones: the image data (often most of the file) is skipped, and
// what the text may take is bounded before it is read. `path` names the file in errors.
std::map<std::string, std::string>
pngTextChunks(uint64_t fileSize, const std::function<std::string(uint64_t, uint64_t)> &readAt, const std::string &path)
{
    if (fileSize < 8 || !isPng(readAt(0, 8)))
        throw Error("'" + path + "' is not a PNG file");

    std::map<std::string, std::string> text;
    size_t textChunks = 0;
    uint64_t textBytes = 0;
    for (uint64_t at = 8; at + 12 <= fileSize;) {
        const std::string head = readAt(at, 8);
        const uint32_t length = readBigEndian(head, 0);
        const std::string type = head.substr(4, 4);
        if (length > fileSize - at - 12)
            throw Error("'" + path + "' is a truncated PNG file");
        if (type == "IEND")
            break;
        if (type == "tEXt" || type == "iTXt") {
            if (++textChunks > kMaxPngTextChunks)
                throw Error("'" + path + "' holds more than " + std::to_string(kMaxPngTextChunks) + " text chunks");
            if (length > kMaxPngTextBytes - textBytes)
                throw Error("'" + path + "' holds more than " + std::to_string(kMaxPngTextBytes >> 20) +
                            " MiB of text chunks");
            textBytes += length;
            const std::string data = readAt(at + 8, length);
            const size_t zero = data.find('\0');
            if (type == "tEXt") {
                if (zero != std::string::npos)
                    text[data.substr(0, zero)] = data.substr(zero + 1);
            } else if (zero != std::string::npos && zero + 2 < data.size() && data[zero + 1] == 0) {
                // keyword \0, compression flag 0 (compressed ones are skipped), method, language
                // tag \0, translated keyword \0, text
                const size_t language = data.find('\0', zero + 3);
                const size_t translated = language == std::string::npos ? language : data.find('\0', language + 1);
                if (translated != std::string::npos)
                    text[data.substr(0, zero)] = data.substr(translated + 1);
            }
        }
        at += 12 + uint64_t(length);
    }
    return text;
}

} // namespace

std::map<std::string, std::string> readPngText(const std::string &path)
{
    requireReadableFile(path);
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    const auto end = in.tellg();
    if (!in || end < 0)
        throw Error("cannot open '" + path + "'");
    const auto readAt = [&](uint64_t offset, uint64_t size) {
        std::string bytes(size, '\0');
        in.seekg(static_cast<std::streamoff>(offset));
        in.read(bytes.data(), static_cast<std::streamsize>(size));
        if (static_cast<uint64_t>(in.gcount()) != size)
            throw Error("error while reading '" + path + "'");
        return bytes;
    };
    return pngTextChunks(static_cast<uint64_t>(end), readAt, path);
}

std::map<std::string, std::string> parsePngText(const std::string &bytes, const std::string &label)
{
    // pngTextChunks reads only inside fileSize, so every substr here is in range.
    const auto readAt = [&](uint64_t offset, uint64_t size) { return bytes.substr(offset, size); };
    return pngTextChunks(bytes.size(), readAt, label);
}

int64_t gridColumns(int64_t count)
{
    return static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(count))));
}

torch::Tensor makeGrid(const torch::Tensor &batch, int64_t columns, int64_t padding, double padValue)
{
    if (batch.dim() != 4)
        throw Error("a grid needs a batch [B, C, H, W]");
    const int64_t n = batch.size(0), c = batch.size(1), h = batch.size(2), w = batch.size(3);
    if (columns <= 0)
        columns = gridColumns(n);
    const int64_t rows = (n + columns - 1) / columns;
    torch::Tensor grid = torch::full({c, rows * (h + padding) + padding, columns * (w + padding) + padding}, padValue,
                                     batch.options().device(torch::kCPU));
    torch::Tensor cpu = batch.detach().to(torch::kCPU);
    for (int64_t i = 0; i < n; ++i) {
        const int64_t r = i / columns, col = i % columns;
        grid.slice(1, padding + r * (h + padding), padding + r * (h + padding) + h)
            .slice(2, padding + col * (w + padding), padding + col * (w + padding) + w)
            .copy_(cpu[i]);
    }
    return grid;
}

} // namespace sde
