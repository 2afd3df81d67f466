#pragma once

#include <string>

namespace sde {

// What a file is, told from its first bytes, so that a file opened as the wrong thing (a config
// or an IDX file given as a model) is named for what it is instead of failing deep in a parser.
enum class FileKind {
    Unknown,
    Safetensors, // an 8-byte little-endian header length of at most 8 MiB, then '{'
    ZipArchive,  // "PK\3\4" or "PK\5\6": a .pth checkpoint is one
    Pickle,      // 0x80 and a protocol of 2 to 5: a legacy (pre-1.6) torch.save file is one
    Json,        // '{' or '[' after whitespace, and text only
    Idx,         // 0 0, a type code (8 unsigned bytes ... 0xe double) and 1 to 4 dimensions
    Gzip,        // 0x1f 0x8b
    Png,         // "\x89PNG\r\n\x1a\n"
    Jpeg,        // 0xff 0xd8 0xff
};

// How many first bytes fileKindOf looks at.
constexpr size_t kFileKindHeadBytes = 16;

// The kind of a file whose first bytes are `head` (up to kFileKindHeadBytes; fewer when the file
// is shorter).
FileKind fileKindOf(const std::string &head);
// The kind of the file at `path`. Throws requireReadableFile's sde::Error for what is not a
// readable regular file (a FIFO would block the read).
FileKind fileKindOfFile(const std::string &path);
// The kind with its article, for a message: "a JSON file", "an IDX file", "a PNG image".
std::string fileKindName(FileKind kind);

} // namespace sde
