#include "imaging/idx_file.h"

#include "util/error.h"
#include "util/files.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <vector>

namespace sde {

namespace {

// What an IDX file may declare: the largest public sets (EMNIST, 814,255 images of 28 x 28) are
// far inside. Checked from the header, before any data is read or inflated.
// 256 MiB: Fashion-MNIST's training set holds 47 MB; training turns the whole set to float32
// (4 bytes a pixel) and resizes it, so 1 GiB of pixels took 10 GB.
constexpr uint64_t kMaxIdxDataBytes = uint64_t(1) << 28;
constexpr int64_t kMaxIdxItems = int64_t(1) << 24; // 16,777,216 (labels become 8-byte integers)
constexpr int64_t kMaxIdxImageSide = 4096;
// Data is read or inflated this much at a time.
constexpr size_t kInflateBlockBytes = size_t(1) << 16;

using GzFile = std::unique_ptr<gzFile_s, decltype(&gzclose)>;

// Up to `n` bytes from the file, gunzipped when it is gzip (zlib's gz functions read plain files
// as they are): fewer only at the end of the data.
std::string readUpTo(gzFile file, uint64_t n, const std::string &path)
{
    std::string out;
    std::vector<char> buffer(kInflateBlockBytes);
    while (out.size() < n) {
        const unsigned want = static_cast<unsigned>(std::min<uint64_t>(buffer.size(), n - out.size()));
        const int got = gzread(file, buffer.data(), want);
        if (got < 0) {
            // zlib's message starts with the path it was opened with: "x.gz: unknown compression method".
            int code = 0;
            std::string reason = gzerror(file, &code);
            if (reason.compare(0, path.size() + 2, path + ": ") == 0)
                reason.erase(0, path.size() + 2);
            throw Error("'" + path + "' is corrupt or truncated: " + reason);
        }
        if (got == 0)
            break;
        out.append(buffer.data(), static_cast<size_t>(got));
    }
    return out;
}

uint32_t bigEndian(const std::string &bytes, size_t at)
{
    return (uint32_t(uint8_t(bytes[at])) << 24) | (uint32_t(uint8_t(bytes[at + 1])) << 16) |
           (uint32_t(uint8_t(bytes[at + 2])) << 8) | uint32_t(uint8_t(bytes[at + 3]));
}

// Gunzips bytes held in memory when they are gzip (as zlib's gz functions do a file), else hands
// them out as they are: next(n) gives up to n bytes, fewer only at the end of the data.
class InMemoryIdxData {
public:
    InMemoryIdxData(const std::string &bytes, const std::string &label) : bytes_(bytes), label_(label)
    {
        gzip_ = bytes.size() >= 2 && uint8_t(bytes[0]) == 0x1f && uint8_t(bytes[1]) == 0x8b;
        // 16 + MAX_WBITS: a gzip stream (header and trailer checked).
        if (gzip_ && inflateInit2(&stream_, 16 + MAX_WBITS) != Z_OK)
            throw Error("'" + label + "': zlib cannot start inflating");
        stream_.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(bytes.data()));
        stream_.avail_in = static_cast<uInt>(std::min<size_t>(bytes.size(), std::numeric_limits<uInt>::max()));
    }
    ~InMemoryIdxData()
    {
        if (gzip_)
            inflateEnd(&stream_);
    }
    InMemoryIdxData(const InMemoryIdxData &) = delete;
    InMemoryIdxData &operator=(const InMemoryIdxData &) = delete;

    std::string next(uint64_t n)
    {
        if (!gzip_) {
            const std::string out = bytes_.substr(std::min<size_t>(plainAt_, bytes_.size()), n);
            plainAt_ += out.size();
            return out;
        }
        // A block at a time, as readUpTo reads a file: what a header declares is not allocated
        // before the data is there.
        std::string out;
        std::vector<char> block(kInflateBlockBytes);
        while (out.size() < n && !ended_) {
            const size_t want = static_cast<size_t>(std::min<uint64_t>(block.size(), n - out.size()));
            stream_.next_out = reinterpret_cast<Bytef *>(block.data());
            stream_.avail_out = static_cast<uInt>(want);
            const int code = inflate(&stream_, Z_NO_FLUSH);
            if (code == Z_STREAM_END)
                ended_ = true;
            else if (code != Z_OK)
                throw Error("'" + label_ +
                            "' is corrupt or truncated: " + (stream_.msg ? stream_.msg : "unexpected end of file"));
            out.append(block.data(), want - stream_.avail_out);
        }
        return out;
    }

private:
    const std::string &bytes_;
    const std::string &label_;
    bool gzip_ = false;
    bool ended_ = false;
    size_t plainAt_ = 0;
    z_stream stream_{};
};

// `dims` = 3: images [N, H, W]; 1: labels [N]. readUpTo(n) gives the next n bytes of the data
// (gunzipped), fewer only at its end; `path` names the file in errors.
torch::Tensor readIdx(const std::function<std::string(uint64_t)> &readUpTo, const std::string &path, uint32_t dims)
{
    const size_t header = 4 + 4 * dims;
    const std::string head = readUpTo(header);
    if (head.size() < header)
        throw Error("'" + path + "' is truncated (no IDX header)");
    const uint32_t magic = bigEndian(head, 0);
    if (magic != (0x0800u | dims))
        throw Error("'" + path + "' is not an IDX file of unsigned bytes with " + std::to_string(dims) +
                    " dimension(s) (magic 0x" +
                    [&] {
                        char b[16];
                        std::snprintf(b, sizeof b, "%08x", magic);
                        return std::string(b);
                    }() +
                    ")");
    std::vector<int64_t> shape;
    for (uint32_t i = 0; i < dims; ++i)
        shape.push_back(bigEndian(head, 4 + 4 * i));
    const std::string items = dims == 3 ? "images" : "labels";
    if (shape[0] == 0)
        throw Error("'" + path + "' holds 0 " + items);
    if (shape[0] > kMaxIdxItems)
        throw Error("'" + path + "' declares " + std::to_string(shape[0]) + " " + items + ", more than the " +
                    std::to_string(kMaxIdxItems) + " an IDX file may hold");
    if (dims == 3) {
        const int64_t h = shape[1], w = shape[2];
        if (h == 0 || w == 0)
            throw Error("'" + path + "' holds " + std::to_string(h) + " x " + std::to_string(w) +
                        " images; an image needs at least 1 x 1 pixels");
        if (h > kMaxIdxImageSide || w > kMaxIdxImageSide)
            throw Error("'" + path + "' holds " + std::to_string(h) + " x " + std::to_string(w) +
                        " images, larger than the " + std::to_string(kMaxIdxImageSide) + " x " +
                        std::to_string(kMaxIdxImageSide) + " an IDX image may be");
    }
    // At most 2^24 x 2^12 x 2^12: no overflow.
    uint64_t count = 1;
    for (int64_t d : shape)
        count *= static_cast<uint64_t>(d);
    if (count > kMaxIdxDataBytes)
        throw Error("'" + path + "' declares " + std::to_string(count) + " bytes of " + items + ", more than the " +
                    std::to_string(kMaxIdxDataBytes >> 20) + " MiB an IDX file may hold");
    // One byte more than promised tells a file with trailing data without inflating all of it.
    const std::string data = readUpTo(count + 1);
    if (data.size() != count)
        throw Error("'" + path + "' holds " +
                    (data.size() > count ? "more than " + std::to_string(count) : std::to_string(data.size())) +
                    " data bytes, its header promises " + std::to_string(count));
    torch::Tensor out = torch::empty(shape, torch::kUInt8);
    std::memcpy(out.data_ptr(), data.data(), count);
    return out;
}

torch::Tensor readIdxFile(const std::string &path, uint32_t dims)
{
    requireReadableFile(path);
    GzFile file(gzopen(path.c_str(), "rb"), &gzclose);
    if (!file)
        throw Error("cannot open '" + path + "'");
    return readIdx([&](uint64_t n) { return readUpTo(file.get(), n, path); }, path, dims);
}

torch::Tensor parseIdx(const std::string &bytes, const std::string &label, uint32_t dims)
{
    InMemoryIdxData data(bytes, label);
    return readIdx([&](uint64_t n) { return data.next(n); }, label, dims);
}

} // namespace

torch::Tensor readIdxImages(const std::string &path)
{
    return readIdxFile(path, 3);
}

torch::Tensor readIdxLabels(const std::string &path)
{
    return readIdxFile(path, 1).to(torch::kInt64);
}

torch::Tensor parseIdxImages(const std::string &bytes, const std::string &label)
{
    return parseIdx(bytes, label, 3);
}

torch::Tensor parseIdxLabels(const std::string &bytes, const std::string &label)
{
    return parseIdx(bytes, label, 1).to(torch::kInt64);
}

} // namespace sde
