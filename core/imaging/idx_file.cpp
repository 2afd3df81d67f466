#include "imaging/idx_file.h"

#include "util/error.h"
#include "util/files.h"

#include <zlib.h>

#include <cstring>
#include <vector>

namespace sde {

namespace {

// The whole file, gunzipped when it is gzip (zlib's gz functions read plain files as they are).
std::string readMaybeGzip(const std::string &path)
{
    requireReadableFile(path);
    gzFile file = gzopen(path.c_str(), "rb");
    if (!file)
        throw Error("cannot open '" + path + "'");
    std::string out;
    std::vector<char> buffer(1 << 16);
    while (true) {
        int n = gzread(file, buffer.data(), static_cast<unsigned>(buffer.size()));
        if (n < 0) {
            int code = 0;
            std::string message = gzerror(file, &code);
            gzclose(file);
            throw Error("'" + path + "' is corrupt or truncated: " + message);
        }
        if (n == 0)
            break;
        out.append(buffer.data(), static_cast<size_t>(n));
        if (out.size() > (size_t(1) << 32))
            throw Error("'" + path + "' is larger than 4 GiB");
    }
    gzclose(file);
    return out;
}

uint32_t bigEndian(const std::string &bytes, size_t at)
{
    return (uint32_t(uint8_t(bytes[at])) << 24) | (uint32_t(uint8_t(bytes[at + 1])) << 16) |
           (uint32_t(uint8_t(bytes[at + 2])) << 8) | uint32_t(uint8_t(bytes[at + 3]));
}

torch::Tensor readIdx(const std::string &path, uint32_t dims)
{
    std::string bytes = readMaybeGzip(path);
    const size_t header = 4 + 4 * dims;
    if (bytes.size() < header)
        throw Error("'" + path + "' is truncated (no IDX header)");
    const uint32_t magic = bigEndian(bytes, 0);
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
    size_t count = 1;
    for (uint32_t i = 0; i < dims; ++i) {
        shape.push_back(bigEndian(bytes, 4 + 4 * i));
        count *= static_cast<size_t>(shape.back());
    }
    if (bytes.size() - header != count)
        throw Error("'" + path + "' holds " + std::to_string(bytes.size() - header) +
                    " data bytes, its header promises " + std::to_string(count));
    torch::Tensor out = torch::empty(shape, torch::kUInt8);
    if (count)
        std::memcpy(out.data_ptr(), bytes.data() + header, count);
    return out;
}

} // namespace

torch::Tensor readIdxImages(const std::string &path)
{
    return readIdx(path, 3);
}

torch::Tensor readIdxLabels(const std::string &path)
{
    return readIdx(path, 1).to(torch::kInt64);
}

} // namespace sde
