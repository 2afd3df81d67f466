#include "imaging/image_file_checks.h"

#include "util/error.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <csetjmp>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <string_view>
#include <vector>

// jpeglib.h needs size_t and FILE declared before it.
#include <jpeglib.h>
#include <tiffio.h>

namespace sde {

namespace {

uint32_t bigEndian32(const std::string &bytes, size_t at)
{
    return (uint32_t(uint8_t(bytes[at])) << 24) | (uint32_t(uint8_t(bytes[at + 1])) << 16) |
           (uint32_t(uint8_t(bytes[at + 2])) << 8) | uint32_t(uint8_t(bytes[at + 3]));
}

uint32_t littleEndian(const std::string &bytes, size_t at, int count)
{
    uint32_t v = 0;
    for (int i = count - 1; i >= 0; --i)
        v = (v << 8) | uint8_t(bytes[at + static_cast<size_t>(i)]);
    return v;
}

// The rows of a PNG's inflated image data: `rows` rows of a filter byte and `rowBytes` bytes each
// (one such run per Adam7 pass of an interlaced image).
struct RowRun {
    uint64_t rows = 0;
    uint64_t rowBytes = 0;
};

// Inflates a PNG's IDAT stream piece by piece into a small buffer it discards, checking that each
// row starts with a filter type 0 to 4 and that the stream holds exactly the rows declared.
class PngDataCheck {
public:
    explicit PngDataCheck(std::vector<RowRun> runs) : runs_(std::move(runs))
    {
        for (const RowRun &run : runs_)
            expected_ += run.rows * (1 + run.rowBytes);
        ok_ = inflateInit(&stream_) == Z_OK;
        skipEmptyRuns();
    }
    ~PngDataCheck() { inflateEnd(&stream_); }
    PngDataCheck(const PngDataCheck &) = delete;
    PngDataCheck &operator=(const PngDataCheck &) = delete;

    // Feeds one IDAT chunk's data; returns a description of the damage, or "".
    std::string feed(std::string_view data)
    {
        if (!ok_)
            return "zlib could not start";
        if (ended_)
            return data.empty() ? "" : "its image data goes on after the end of its compressed stream";
        stream_.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(data.data()));
        stream_.avail_in = static_cast<uInt>(data.size());
        const std::string damage = inflateAll();
        if (damage.empty() && ended_ && stream_.avail_in > 0)
            return "its image data goes on after the end of its compressed stream";
        return damage;
    }

    // After the last IDAT chunk: a description of the damage, or "".
    std::string finish()
    {
        if (!ended_) {
            stream_.avail_in = 0; // what zlib still holds back
            const std::string damage = inflateAll();
            if (!damage.empty())
                return damage;
        }
        if (!ended_ || position_ != expected_)
            return "its image data ends early (" + std::to_string(position_) + " of " + std::to_string(expected_) +
                   " bytes)";
        return "";
    }

private:
    // Inflates what was fed, until zlib needs more input or the stream ends.
    std::string inflateAll()
    {
        while (!ended_) {
            stream_.next_out = buffer_;
            stream_.avail_out = sizeof buffer_;
            const int status = inflate(&stream_, Z_NO_FLUSH);
            if (status != Z_OK && status != Z_STREAM_END && status != Z_BUF_ERROR)
                return std::string("its compressed image data is damaged (zlib: ") +
                       (stream_.msg ? stream_.msg : "error " + std::to_string(status)) + ")";
            const std::string damage = checkRows(sizeof buffer_ - stream_.avail_out);
            if (!damage.empty())
                return damage;
            ended_ = status == Z_STREAM_END;
            if (stream_.avail_out != 0) // the output did not fill the buffer: all input is used
                break;
        }
        return "";
    }

    std::string checkRows(uint64_t count)
    {
        const uint64_t start = position_;
        position_ += count;
        if (position_ > expected_)
            return "its image data holds more than the " + std::to_string(expected_) + " bytes its header declares";
        while (run_ < runs_.size() && nextFilter_ < position_) {
            const uint8_t filter = buffer_[nextFilter_ - start];
            if (filter > 4)
                return "row filter " + std::to_string(filter) + " at byte " + std::to_string(nextFilter_) +
                       " of its image data is not one of 0 to 4";
            nextFilter_ += 1 + runs_[run_].rowBytes;
            if (++rowInRun_ == runs_[run_].rows) {
                ++run_;
                rowInRun_ = 0;
                skipEmptyRuns();
            }
        }
        return "";
    }

    void skipEmptyRuns()
    {
        while (run_ < runs_.size() && runs_[run_].rows == 0)
            ++run_;
    }

    std::vector<RowRun> runs_;
    uint64_t expected_ = 0, position_ = 0, nextFilter_ = 0, rowInRun_ = 0;
    size_t run_ = 0;
    z_stream stream_{};
    bool ok_ = false, ended_ = false;
    Bytef buffer_[1 << 16];
};

// The rows of each pass: one run without interlacing, else Adam7's seven sub-images.
std::vector<RowRun> pngRowRuns(uint64_t width, uint64_t height, uint64_t bitsPerPixel, bool interlaced)
{
    auto rowBytes = [&](uint64_t w) { return (w * bitsPerPixel + 7) / 8; };
    if (!interlaced)
        return {{height, rowBytes(width)}};
    static const int passes[7][4] = {{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4},
                                     {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}}; // x0, y0, dx, dy
    std::vector<RowRun> runs;
    for (const auto &p : passes) {
        const uint64_t w = width > uint64_t(p[0]) ? (width - p[0] + p[2] - 1) / p[2] : 0;
        const uint64_t h = height > uint64_t(p[1]) ? (height - p[1] + p[3] - 1) / p[3] : 0;
        runs.push_back({w > 0 ? h : 0, rowBytes(w)});
    }
    return runs;
}

struct QuietJpegErrors {
    jpeg_error_mgr base;
    std::jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
    bool failed;
};

void keepJpegError(j_common_ptr info)
{
    auto *errors = reinterpret_cast<QuietJpegErrors *>(info->err);
    (*info->err->format_message)(info, errors->message);
    errors->failed = true;
    std::longjmp(errors->jump, 1);
}

// libjpeg's warnings (level -1) are kept, the first one; trace messages are dropped.
void keepJpegWarning(j_common_ptr info, int level)
{
    auto *errors = reinterpret_cast<QuietJpegErrors *>(info->err);
    if (level < 0 && !errors->failed) {
        (*info->err->format_message)(info, errors->message);
        errors->failed = true;
    }
}

// Decodes at 1/8 scale and discards the rows. Plain C data only between setjmp and longjmp.
// Returns false with errors->message set when libjpeg reported an error or a warning.
bool decodeJpegQuietly(const unsigned char *data, unsigned long size, QuietJpegErrors *errors)
{
    jpeg_decompress_struct info;
    info.err = jpeg_std_error(&errors->base);
    errors->base.error_exit = keepJpegError;
    errors->base.emit_message = keepJpegWarning;
    errors->failed = false;
    errors->message[0] = '\0';
    if (setjmp(errors->jump)) {
        jpeg_destroy_decompress(&info);
        return false;
    }
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, data, size);
    jpeg_read_header(&info, TRUE);
    info.scale_num = 1;
    info.scale_denom = 8;
    info.dct_method = JDCT_IFAST;
    info.do_fancy_upsampling = FALSE;
    jpeg_start_decompress(&info);
    JSAMPARRAY row = (*info.mem->alloc_sarray)(reinterpret_cast<j_common_ptr>(&info), JPOOL_IMAGE,
                                               info.output_width * info.output_components, 1);
    while (info.output_scanline < info.output_height && !errors->failed)
        jpeg_read_scanlines(&info, row, 1);
    if (!errors->failed)
        jpeg_finish_decompress(&info);
    jpeg_destroy_decompress(&info);
    return !errors->failed;
}

// libtiff reading a TIFF held in memory, its messages kept instead of printed: the first error
// becomes the refusal; warnings (tags it does not know, which OpenCV ignores too) are dropped.
constexpr const char *kTiffName = "tiff"; // the name libtiff knows the file by

struct TiffInMemory {
    const std::string *bytes = nullptr;
    uint64_t at = 0;
    std::string firstError;
};

tmsize_t tiffRead(thandle_t handle, void *buffer, tmsize_t size)
{
    auto *file = static_cast<TiffInMemory *>(handle);
    const uint64_t left = file->at < file->bytes->size() ? file->bytes->size() - file->at : 0;
    const auto count = static_cast<size_t>(std::min<uint64_t>(left, static_cast<uint64_t>(size)));
    if (count == 0)
        return 0;
    std::memcpy(buffer, file->bytes->data() + file->at, count);
    file->at += count;
    return static_cast<tmsize_t>(count);
}

tmsize_t tiffWrite(thandle_t, void *, tmsize_t)
{
    return 0;
}

toff_t tiffSeek(thandle_t handle, toff_t offset, int whence)
{
    auto *file = static_cast<TiffInMemory *>(handle);
    const uint64_t base = whence == SEEK_CUR ? file->at : whence == SEEK_END ? file->bytes->size() : 0;
    if (offset > std::numeric_limits<uint64_t>::max() - base)
        return static_cast<toff_t>(-1);
    file->at = base + offset;
    return file->at;
}

int tiffClose(thandle_t)
{
    return 0;
}

toff_t tiffSize(thandle_t handle)
{
    return static_cast<TiffInMemory *>(handle)->bytes->size();
}

int tiffMap(thandle_t, void **, toff_t *)
{
    return 0;
}

void tiffUnmap(thandle_t, void *, toff_t)
{}

int tiffError(TIFF *, void *user, const char *module, const char *format, va_list arguments)
{
    auto *file = static_cast<TiffInMemory *>(user);
    if (file->firstError.empty()) {
        char text[512];
        std::vsnprintf(text, sizeof text, format, arguments);
        // libtiff names the function that failed, or the file by the name it was opened with.
        const bool named = module && *module && std::strcmp(module, kTiffName) != 0;
        file->firstError = (named ? std::string(module) + ": " : std::string()) + text;
    }
    return 1; // handled: libtiff's own handler prints nothing
}

int tiffWarning(TIFF *, void *, const char *, const char *, va_list)
{
    return 1;
}

} // namespace

std::string checkedPngForDecoding(const std::string &bytes, const std::string &path)
{
    auto damaged = [&](const std::string &what) { return Error("'" + path + "' is a damaged PNG file: " + what); };
    std::string out = bytes.substr(0, 8);
    bool seenPalette = false, seenTransparency = false, seenData = false, dataEnded = false;
    uint32_t width = 0, height = 0;
    int depth = 0, colorType = 0;
    uint64_t paletteEntries = 0;
    std::unique_ptr<PngDataCheck> data;
    for (size_t at = 8;;) {
        if (at + 12 > bytes.size())
            throw Error("'" + path + "' is a truncated PNG file: it ends at byte " + std::to_string(bytes.size()) +
                        ", before its IEND chunk");
        const uint32_t length = bigEndian32(bytes, at);
        const std::string type = bytes.substr(at + 4, 4);
        for (char c : type)
            if (!std::isalpha(uint8_t(c)))
                throw damaged("byte " + std::to_string(at) + " holds no chunk");
        if (length > bytes.size() - at - 12)
            throw Error("'" + path + "' is a truncated PNG file: its " + type + " chunk at byte " + std::to_string(at) +
                        " runs past the end of the file");
        const std::string_view body(bytes.data() + at + 4, 4 + size_t(length));
        const bool critical = std::isupper(uint8_t(type[0]));
        const bool kept = type == "IHDR" || type == "PLTE" || type == "tRNS" || type == "IDAT" || type == "IEND";
        if (critical && !kept)
            throw damaged("it holds an unknown critical chunk '" + type + "'");
        if (kept) {
            const uint32_t crc = static_cast<uint32_t>(
                ::crc32(::crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef *>(body.data()), uInt(body.size())));
            if (crc != bigEndian32(bytes, at + 8 + length))
                throw damaged("the CRC of its " + type + " chunk at byte " + std::to_string(at) + " does not match");
        }
        const std::string_view content = body.substr(4);
        if (at == 8 && type != "IHDR")
            throw damaged("it does not start with an IHDR chunk");
        if (type == "IHDR") {
            if (at != 8 || length != 13)
                throw damaged("its IHDR chunk is misplaced or not 13 bytes");
            width = bigEndian32(bytes, at + 8);
            height = bigEndian32(bytes, at + 12);
            depth = uint8_t(bytes[at + 16]);
            colorType = uint8_t(bytes[at + 17]);
            const int compression = uint8_t(bytes[at + 18]), filter = uint8_t(bytes[at + 19]),
                      interlace = uint8_t(bytes[at + 20]);
            const bool depthFits = colorType == 0 ? depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16
                                   : colorType == 3 ? depth == 1 || depth == 2 || depth == 4 || depth == 8
                                   : colorType == 2 || colorType == 4 || colorType == 6 ? depth == 8 || depth == 16
                                                                                        : false;
            if (!depthFits)
                throw damaged("its header declares color type " + std::to_string(colorType) + " with bit depth " +
                              std::to_string(depth));
            if (width == 0 || height == 0 || width > 0x7fffffffu || height > 0x7fffffffu)
                throw damaged("its header declares " + std::to_string(width) + " x " + std::to_string(height) +
                              " pixels");
            if (compression != 0 || filter != 0 || interlace > 1)
                throw damaged("its header declares an unknown compression, filter or interlace method");
            const int channels = colorType == 2 ? 3 : colorType == 4 ? 2 : colorType == 6 ? 4 : 1;
            data = std::make_unique<PngDataCheck>(
                pngRowRuns(width, height, uint64_t(channels) * uint64_t(depth), interlace == 1));
        } else if (type == "PLTE") {
            if (seenData || seenPalette)
                throw damaged("its PLTE chunk is misplaced");
            paletteEntries = length / 3;
            if (colorType == 3 && (length % 3 != 0 || paletteEntries == 0 || paletteEntries > (uint64_t(1) << depth)))
                throw damaged("its palette holds " + std::to_string(length) + " bytes");
            seenPalette = true;
        } else if (type == "tRNS") {
            const bool fits = colorType == 0   ? length == 2
                              : colorType == 2 ? length == 6
                              : colorType == 3 ? seenPalette && length <= paletteEntries
                                               : false;
            if (!fits || seenData || seenTransparency)
                throw damaged("its tRNS chunk does not fit the image");
            seenTransparency = true;
        } else if (type == "IDAT") {
            if (dataEnded)
                throw damaged("its IDAT chunks are not one after the other");
            if (colorType == 3 && !seenPalette)
                throw damaged("it has no palette before its image data");
            seenData = true;
            const std::string damage = data->feed(content);
            if (!damage.empty())
                throw damaged(damage);
        } else if (seenData) {
            dataEnded = true;
        }
        // (The suggested palette of an RGB image is not needed: not passed on.)
        if (kept && !(type == "PLTE" && colorType != 3))
            out.append(bytes, at, 12 + size_t(length));
        at += 12 + size_t(length);
        if (type == "IEND")
            break;
    }
    if (!seenData)
        throw damaged("it holds no image data (IDAT chunk)");
    const std::string damage = data->finish();
    if (!damage.empty())
        throw damaged(damage);
    return out;
}

void checkJpegData(const std::string &bytes, const std::string &path)
{
    QuietJpegErrors errors{};
    if (!decodeJpegQuietly(reinterpret_cast<const unsigned char *>(bytes.data()),
                           static_cast<unsigned long>(bytes.size()), &errors))
        throw Error("'" + path + "' is a damaged JPEG file (" + errors.message + ")");
}

void checkTiffData(const std::string &bytes, const std::string &path)
{
    TiffInMemory file;
    file.bytes = &bytes;
    TIFFOpenOptions *options = TIFFOpenOptionsAlloc();
    TIFFOpenOptionsSetErrorHandlerExtR(options, tiffError, &file);
    TIFFOpenOptionsSetWarningHandlerExtR(options, tiffWarning, &file);
    // "m": no memory mapping, the bytes are read through tiffRead.
    TIFF *tiff = TIFFClientOpenExt(kTiffName, "rm", &file, tiffRead, tiffWrite, tiffSeek, tiffClose, tiffSize, tiffMap,
                                   tiffUnmap, options);
    TIFFOpenOptionsFree(options);
    const auto refuse = [&](const std::string &what) {
        throw Error("'" + path + "' is a damaged TIFF file (" + what + ")");
    };
    if (!tiff)
        refuse(file.firstError.empty() ? "libtiff cannot open it" : file.firstError);
    std::unique_ptr<TIFF, void (*)(TIFF *)> open(tiff, TIFFClose);
    // The first image (the one OpenCV decodes), every strip or tile of it decoded once. Its pixels
    // were bounded from the header before (at most 8192 x 8192).
    const bool tiled = TIFFIsTiled(tiff) != 0;
    const tmsize_t pieceBytes = tiled ? TIFFTileSize(tiff) : TIFFStripSize(tiff);
    const uint32_t pieces = tiled ? TIFFNumberOfTiles(tiff) : TIFFNumberOfStrips(tiff);
    if (pieceBytes <= 0 || pieces == 0)
        refuse(file.firstError.empty() ? "it declares no image data" : file.firstError);
    // Bounds that no real file of at most 8192 x 8192 pixels reaches: one row a strip makes 8192
    // strips, tiles of 16 x 16 make 262,144.
    constexpr uint32_t kMostPieces = uint32_t(1) << 20;
    if (pieces > kMostPieces)
        refuse("it declares " + std::to_string(pieces) + " " + (tiled ? "tiles" : "strips") + ", more than " +
               std::to_string(kMostPieces));
    constexpr tmsize_t kLargestPiece = tmsize_t(1) << 30;
    if (pieceBytes > kLargestPiece)
        refuse("a " + std::string(tiled ? "tile" : "strip") + " of " + std::to_string(pieceBytes) +
               " bytes, more than an image of 8192 x 8192 pixels needs");
    std::vector<char> piece(static_cast<size_t>(pieceBytes));
    for (uint32_t i = 0; i < pieces; ++i) {
        const tmsize_t read = tiled ? TIFFReadEncodedTile(tiff, i, piece.data(), pieceBytes)
                                    : TIFFReadEncodedStrip(tiff, i, piece.data(), pieceBytes);
        if (!file.firstError.empty())
            refuse(file.firstError);
        if (read < 0)
            refuse(std::string(tiled ? "tile " : "strip ") + std::to_string(i) + " cannot be decoded");
    }
}

namespace {

// The first byte at or after `at` that is neither whitespace nor in a # comment, which a line
// break (LF or CR) ends: what separates the numbers of a PNM header and of a plain PNM's samples.
size_t afterSpaceAndComments(const std::string &bytes, size_t at)
{
    while (at < bytes.size() && (std::isspace(uint8_t(bytes[at])) || bytes[at] == '#')) {
        if (bytes[at] == '#')
            while (at < bytes.size() && bytes[at] != '\n' && bytes[at] != '\r')
                ++at;
        else
            ++at;
    }
    return at;
}

} // namespace

std::optional<PnmHeader> readPnmHeader(const std::string &bytes)
{
    if (bytes.size() < 3 || bytes[0] != 'P' || bytes[1] < '1' || bytes[1] > '6' || !std::isspace(uint8_t(bytes[2])))
        return std::nullopt;
    size_t at = 2;
    uint64_t values[3] = {0, 0, 0};
    const int count = bytes[1] == '1' || bytes[1] == '4' ? 2 : 3;
    for (int i = 0; i < count; ++i) {
        at = afterSpaceAndComments(bytes, at);
        size_t digits = 0;
        for (; at < bytes.size() && std::isdigit(uint8_t(bytes[at])); ++at, ++digits)
            values[i] = std::min<uint64_t>(values[i] * 10 + uint64_t(bytes[at] - '0'), 1'000'000'000);
        if (digits == 0)
            return std::nullopt;
    }
    // One whitespace character ends the header; anything else (a comment glued to the largest
    // value) would shift a binary file's pixels.
    if (at >= bytes.size() || !std::isspace(uint8_t(bytes[at])))
        return std::nullopt;
    return PnmHeader{values[0], values[1], values[2], at + 1};
}

std::optional<uint64_t> checkPnmSamples(const std::string &bytes, const std::string &path, std::string &binary)
{
    const char kind = bytes.size() >= 2 && bytes[0] == 'P' ? bytes[1] : '\0';
    if (kind != '2' && kind != '3' && kind != '5' && kind != '6')
        return std::nullopt;
    const std::optional<PnmHeader> header = readPnmHeader(bytes);
    if (!header)
        return std::nullopt; // OpenCV's reader refuses it
    const bool plain = kind == '2' || kind == '3';
    const std::string kindName = kind == '2' || kind == '5' ? "PGM" : "PPM";
    const uint64_t top = header->maxValue;
    if (top < 1 || top > 65535)
        throw Error("'" + path + "' is a damaged " + kindName + " file: its largest value is " + std::to_string(top) +
                    ", where 1 to 65535 are allowed");
    const uint64_t count = header->width * header->height * (kind == '3' || kind == '6' ? 3 : 1);
    const int width = top > 255 ? 2 : 1;
    // Samples are counted from 1, as the truncation message counts them.
    const auto tooLarge = [&](const std::string &value, uint64_t index) {
        return Error("'" + path + "' is a damaged " + kindName + " file: sample " + std::to_string(index + 1) + " is " +
                     value + ", above its largest value " + std::to_string(top));
    };
    if (!plain) {
        // Its length is checked (checkPixelDataLength); a full-range file has nothing to check.
        if (top == 255 || top == 65535 || header->pixelsAt + count * uint64_t(width) > bytes.size())
            return top;
        const auto *samples = reinterpret_cast<const uint8_t *>(bytes.data() + header->pixelsAt);
        for (uint64_t i = 0; i < count; ++i) {
            const uint64_t value = width == 1 ? samples[i] : (uint64_t(samples[2 * i]) << 8) | samples[2 * i + 1];
            if (value > top)
                throw tooLarge(std::to_string(value), i);
        }
        return top;
    }
    std::string out = std::string("P") + (kind == '2' ? '5' : '6') + "\n" + std::to_string(header->width) + " " +
                      std::to_string(header->height) + "\n" + std::to_string(top) + "\n";
    // Each sample takes a digit and a separator: a short file reserves no more than it could hold.
    out.reserve(out.size() +
                std::min<uint64_t>(count, (bytes.size() - std::min(bytes.size(), header->pixelsAt)) / 2 + 1) *
                    uint64_t(width));
    size_t at = header->pixelsAt - 1; // the whitespace after the largest value
    for (uint64_t i = 0; i < count; ++i) {
        at = afterSpaceAndComments(bytes, at);
        if (at == bytes.size())
            throw Error("'" + path + "' is a truncated " + kindName + " file: it holds " + std::to_string(i) +
                        " of the " + std::to_string(count) + " samples its header declares");
        const size_t start = at;
        uint64_t value = 0;
        for (; at < bytes.size() && std::isdigit(uint8_t(bytes[at])); ++at)
            value = std::min<uint64_t>(value * 10 + uint64_t(bytes[at] - '0'), uint64_t(1) << 32);
        if (at == start || (at < bytes.size() && !std::isspace(uint8_t(bytes[at])) && bytes[at] != '#'))
            throw Error("'" + path + "' is a damaged " + kindName + " file: sample " + std::to_string(i + 1) +
                        " is not a number (at byte " + std::to_string(at) + ")");
        if (value > top)
            throw tooLarge(quoted(bytes.substr(start, at - start)), i);
        if (width == 2)
            out.push_back(char(value >> 8));
        out.push_back(char(value & 0xff));
    }
    binary = std::move(out);
    return top;
}

void checkPixelDataLength(const std::string &bytes, uint64_t width, uint64_t height, const std::string &path)
{
    uint64_t offset = 0, needed = 0;
    if (bytes.size() >= 30 && bytes.compare(0, 2, "BM") == 0) {
        const uint32_t header = littleEndian(bytes, 14, 4);
        const uint32_t compression = header >= 40 && bytes.size() >= 34 ? littleEndian(bytes, 30, 4) : 0;
        if (compression != 0 && compression != 3) // run-length encoded: its length is not known ahead
            return;
        const uint64_t bitsPerPixel = header == 12 ? littleEndian(bytes, 24, 2) : littleEndian(bytes, 28, 2);
        offset = littleEndian(bytes, 10, 4);
        needed = (width * bitsPerPixel + 31) / 32 * 4 * height;
    } else if (bytes.size() >= 3 && bytes[0] == 'P' && bytes[1] >= '4' && bytes[1] <= '6') {
        const std::optional<PnmHeader> header = readPnmHeader(bytes);
        if (!header)
            return; // OpenCV's reader refuses it (quietly: it returns no image)
        offset = header->pixelsAt;
        const uint64_t channels = bytes[1] == '6' ? 3 : 1;
        needed =
            bytes[1] == '4' ? (width + 7) / 8 * height : width * height * channels * (header->maxValue > 255 ? 2 : 1);
    } else {
        return;
    }
    if (offset > bytes.size() || needed > bytes.size() - offset)
        throw Error("'" + path + "' is a truncated image file: its pixels need " + std::to_string(needed) +
                    " bytes from byte " + std::to_string(offset) + ", the file has " +
                    std::to_string(bytes.size() > offset ? bytes.size() - offset : 0));
}

} // namespace sde
