#include "imaging/image_io.h"

#include "util/error.h"
#include "util/files.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <zlib.h>

#include <cmath>
#include <cstring>

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

} // namespace

torch::Tensor loadImage(const std::string &path, int64_t channels)
{
    requireReadableFile(path);
    cv::Mat image = cv::imread(path, cv::IMREAD_UNCHANGED);
    if (image.empty())
        throw Error("'" + path + "' is not an image OpenCV can read");
    if (image.depth() == CV_16U)
        image.convertTo(image, CV_8U, 1.0 / 257.0);
    if (image.depth() != CV_8U)
        throw Error("'" + path + "': only 8- and 16-bit images are supported");
    if (image.channels() == 4)
        cv::cvtColor(image, image, cv::COLOR_BGRA2BGR);
    const int64_t want = channels == 0 ? (image.channels() == 1 ? 1 : 3) : channels;
    if (want == 1 && image.channels() == 3)
        cv::cvtColor(image, image, cv::COLOR_BGR2GRAY);
    else if (want == 3 && image.channels() == 1)
        cv::cvtColor(image, image, cv::COLOR_GRAY2BGR);
    if (want == 3)
        cv::cvtColor(image, image, cv::COLOR_BGR2RGB);
    if (want != 1 && want != 3)
        throw Error("images have 1 or 3 channels, not " + std::to_string(want));
    torch::Tensor hwc = torch::from_blob(image.data, {image.rows, image.cols, image.channels()}, torch::kUInt8).clone();
    return hwc.permute({2, 0, 1}).contiguous().to(torch::kFloat32) / 255.0;
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

std::map<std::string, std::string> readPngText(const std::string &path)
{
    std::string bytes = readFile(path);
    if (bytes.size() < 8 || bytes.compare(0, 8, kPngSignature, 8) != 0)
        throw Error("'" + path + "' is not a PNG file");
    std::map<std::string, std::string> text;
    size_t at = 8;
    while (at + 12 <= bytes.size()) {
        const uint32_t length = readBigEndian(bytes, at);
        if (length > bytes.size() - at - 12)
            throw Error("'" + path + "' is a truncated PNG file");
        const std::string type = bytes.substr(at + 4, 4);
        const std::string data = bytes.substr(at + 8, length);
        if (type == "tEXt") {
            size_t zero = data.find('\0');
            if (zero != std::string::npos)
                text[data.substr(0, zero)] = data.substr(zero + 1);
        } else if (type == "iTXt") {
            size_t zero = data.find('\0');
            if (zero != std::string::npos && zero + 2 < data.size() && data[zero + 1] == 0) {
                size_t language = data.find('\0', zero + 3);
                size_t translated = language == std::string::npos ? language : data.find('\0', language + 1);
                if (translated != std::string::npos)
                    text[data.substr(0, zero)] = data.substr(translated + 1);
            }
        } else if (type == "IEND") {
            break;
        }
        at += 12 + length;
    }
    return text;
}

torch::Tensor makeGrid(const torch::Tensor &batch, int64_t columns, int64_t padding)
{
    if (batch.dim() != 4)
        throw Error("a grid needs a batch [B, C, H, W]");
    const int64_t n = batch.size(0), c = batch.size(1), h = batch.size(2), w = batch.size(3);
    if (columns <= 0)
        columns = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(n))));
    const int64_t rows = (n + columns - 1) / columns;
    torch::Tensor grid = torch::ones({c, rows * (h + padding) + padding, columns * (w + padding) + padding},
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
