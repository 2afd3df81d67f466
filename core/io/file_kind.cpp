#include "io/file_kind.h"

#include "io/safetensors.h"
#include "util/files.h"

#include <fstream>

namespace sde {

namespace {

bool startsWith(const std::string &head, const std::string &magic)
{
    return head.compare(0, magic.size(), magic) == 0;
}

uint8_t byteAt(const std::string &head, size_t at)
{
    return static_cast<uint8_t>(head[at]);
}

bool isSafetensors(const std::string &head)
{
    if (head.size() < 9 || head[8] != '{')
        return false;
    uint64_t headerSize = 0;
    for (int i = 7; i >= 0; --i)
        headerSize = (headerSize << 8) | byteAt(head, static_cast<size_t>(i));
    return headerSize <= kMaxSafetensorsHeaderBytes;
}

// JSON text: an object or array after optional whitespace, with no control character but
// whitespace among the first bytes (a binary length field holds zeros).
bool isJson(const std::string &head)
{
    const size_t first = head.find_first_not_of(" \t\r\n");
    if (first == std::string::npos || (head[first] != '{' && head[first] != '['))
        return false;
    for (char c : head)
        if (static_cast<uint8_t>(c) < 0x20 && c != ' ' && c != '\t' && c != '\r' && c != '\n')
            return false;
    return true;
}

// The IDX header of LeCun's MNIST files: two zero bytes, the element type (0x08 unsigned byte,
// 0x09 signed byte, 0x0b short, 0x0c int, 0x0d float, 0x0e double) and the number of dimensions.
bool isIdx(const std::string &head)
{
    if (head.size() < 4 || head[0] != 0 || head[1] != 0)
        return false;
    const uint8_t type = byteAt(head, 2), dims = byteAt(head, 3);
    return (type == 0x08 || type == 0x09 || (type >= 0x0b && type <= 0x0e)) && dims >= 1 && dims <= 4;
}

} // namespace

FileKind fileKindOf(const std::string &head)
{
    // Safetensors first: its length field could begin like another kind's magic.
    if (isSafetensors(head))
        return FileKind::Safetensors;
    if (startsWith(head, std::string("PK\x03\x04", 4)) || startsWith(head, std::string("PK\x05\x06", 4)))
        return FileKind::ZipArchive;
    if (startsWith(head, "\x89PNG\r\n\x1a\n"))
        return FileKind::Png;
    if (startsWith(head, "\xff\xd8\xff"))
        return FileKind::Jpeg;
    if (startsWith(head, "\x1f\x8b"))
        return FileKind::Gzip;
    if (head.size() >= 2 && byteAt(head, 0) == 0x80 && byteAt(head, 1) >= 2 && byteAt(head, 1) <= 5)
        return FileKind::Pickle;
    if (isIdx(head))
        return FileKind::Idx;
    if (isJson(head))
        return FileKind::Json;
    return FileKind::Unknown;
}

FileKind fileKindOfFile(const std::string &path)
{
    requireReadableFile(path);
    std::ifstream in(path, std::ios::binary);
    std::string head(kFileKindHeadBytes, '\0');
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    head.resize(static_cast<size_t>(in.gcount()));
    return fileKindOf(head);
}

std::string fileKindName(FileKind kind)
{
    switch (kind) {
    case FileKind::Safetensors:
        return "a safetensors file";
    case FileKind::ZipArchive:
        return "a zip archive";
    case FileKind::Pickle:
        return "a Python pickle";
    case FileKind::Json:
        return "a JSON file";
    case FileKind::Idx:
        return "an IDX file";
    case FileKind::Gzip:
        return "a gzip file";
    case FileKind::Png:
        return "a PNG image";
    case FileKind::Jpeg:
        return "a JPEG image";
    case FileKind::Unknown:
        break;
    }
    return "a file of unknown kind";
}

} // namespace sde
