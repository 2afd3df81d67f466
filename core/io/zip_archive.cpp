#include "io/zip_archive.h"

#include "util/error.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>

namespace sde {

namespace {

// The signatures of the zip format (APPNOTE.TXT 4.3).
const std::string kLocalHeader("PK\x03\x04", 4);
const std::string kDirectoryEntry("PK\x01\x02", 4);
const std::string kEndOfDirectory("PK\x05\x06", 4);
const std::string kZip64EndOfDirectory("PK\x06\x06", 4);
const std::string kZip64Locator("PK\x06\x07", 4);

constexpr size_t kEndOfDirectoryBytes = 22;
constexpr size_t kMaxCommentBytes = 65535;
constexpr size_t kDirectoryEntryBytes = 46;
constexpr size_t kLocalHeaderBytes = 30;
// Deflate's largest ratio: a 258-byte match costs at least two bits, so a byte of deflated data
// holds at most 1032 bytes. A record declaring more is refused before its buffer is allocated.
constexpr uint64_t kMaxDeflateRatio = 1032;
// Deflated data is read and inflated this many bytes at a time.
constexpr size_t kInflateChunkBytes = size_t(1) << 20;

uint64_t littleEndian(const std::string &bytes, size_t at, int width)
{
    uint64_t value = 0;
    for (int i = width - 1; i >= 0; --i)
        value = (value << 8) | static_cast<uint8_t>(bytes[at + static_cast<size_t>(i)]);
    return value;
}

std::string hex32(uint32_t value)
{
    char text[11];
    std::snprintf(text, sizeof text, "0x%08x", value);
    return text;
}

// The compression methods of APPNOTE.TXT 4.4.5 other than stored and deflate, for a message.
struct MethodName {
    uint16_t method;
    const char *name;
};
const MethodName kOtherMethods[] = {
    {1, "shrink"},     {6, "implode"}, {9, "deflate64"}, {12, "bzip2"},          {14, "LZMA"},
    {93, "Zstandard"}, {95, "xz"},     {98, "PPMd"},     {99, "AES encryption"},
};

std::string methodName(uint16_t method)
{
    for (const MethodName &known : kOtherMethods)
        if (known.method == method)
            return known.name;
    return "an unknown method";
}

} // namespace

ZipArchive::ZipArchive(std::istream &in, std::string label) : in_(in), label_(std::move(label))
{
    const auto corrupt = [this](const std::string &what) {
        return Error(label_ + ": the checkpoint archive is corrupt or truncated (" + what + ")");
    };
    // `size` bytes of the file at `offset`, or sde::Error when the file is shorter.
    const auto bytesAt = [this](uint64_t offset, uint64_t size) {
        std::string bytes(size, '\0');
        in_.clear();
        in_.seekg(static_cast<std::streamoff>(offset));
        in_.read(bytes.data(), static_cast<std::streamsize>(size));
        if (static_cast<uint64_t>(in_.gcount()) != size)
            throw Error(label_ + ": the checkpoint archive is corrupt or truncated (it ends inside its directory)");
        return bytes;
    };
    in_.clear();
    in_.seekg(0, std::ios::end);
    const auto end = in_.tellg();
    if (!in_ || end < 0)
        throw Error(label_ + ": cannot read the file");
    fileSize_ = static_cast<uint64_t>(end);

    // The end-of-central-directory record: 22 bytes and a comment of up to 65535 bytes that ends
    // the file. A comment may itself hold the signature, so the record is the last one whose
    // comment length reaches exactly to the end of the file.
    const uint64_t tailSize = std::min<uint64_t>(fileSize_, kEndOfDirectoryBytes + kMaxCommentBytes);
    const std::string tail = bytesAt(fileSize_ - tailSize, tailSize);
    size_t eocd = std::string::npos;
    size_t lastSignature = std::string::npos;
    for (size_t at = tail.size() < kEndOfDirectoryBytes
                         ? std::string::npos
                         : tail.rfind(kEndOfDirectory, tail.size() - kEndOfDirectoryBytes);
         at != std::string::npos; at = at == 0 ? std::string::npos : tail.rfind(kEndOfDirectory, at - 1)) {
        if (lastSignature == std::string::npos)
            lastSignature = at;
        if (littleEndian(tail, at + 20, 2) == tail.size() - at - kEndOfDirectoryBytes) {
            eocd = at;
            break;
        }
    }
    if (eocd == std::string::npos && lastSignature == std::string::npos)
        throw corrupt("no end of central directory");
    if (eocd == std::string::npos)
        throw corrupt("its end of central directory declares a comment of " +
                      std::to_string(littleEndian(tail, lastSignature + 20, 2)) + " bytes, but " +
                      std::to_string(tail.size() - lastSignature - kEndOfDirectoryBytes) + " bytes follow it");
    if (littleEndian(tail, eocd + 4, 2) != 0 || littleEndian(tail, eocd + 6, 2) != 0 ||
        littleEndian(tail, eocd + 8, 2) != littleEndian(tail, eocd + 10, 2))
        throw corrupt("it is one part of a spanned archive");
    uint64_t entries = littleEndian(tail, eocd + 10, 2);
    uint64_t directorySize = littleEndian(tail, eocd + 12, 4);
    uint64_t directoryOffset = littleEndian(tail, eocd + 16, 4);
    if (entries == 0xffff || directorySize == 0xffffffff || directoryOffset == 0xffffffff) {
        // Zip64: a 20-byte locator just before points at the 56-byte zip64 end record.
        if (eocd < 20 || tail.compare(eocd - 20, 4, kZip64Locator) != 0)
            throw corrupt("no zip64 end of central directory locator");
        const uint64_t recordOffset = littleEndian(tail, eocd - 20 + 8, 8);
        if (recordOffset > fileSize_ || fileSize_ - recordOffset < 56)
            throw corrupt("the zip64 end of central directory lies outside the file");
        const std::string record = bytesAt(recordOffset, 56);
        if (record.compare(0, 4, kZip64EndOfDirectory) != 0)
            throw corrupt("no zip64 end of central directory");
        entries = littleEndian(record, 32, 8);
        directorySize = littleEndian(record, 40, 8);
        directoryOffset = littleEndian(record, 48, 8);
    }
    // Every entry of the directory takes at least 46 bytes, and the directory lies in the file.
    if (directorySize > fileSize_ || directoryOffset > fileSize_ - directorySize ||
        entries > directorySize / kDirectoryEntryBytes)
        throw corrupt("its directory of " + std::to_string(entries) + " records, " + std::to_string(directorySize) +
                      " bytes at " + std::to_string(directoryOffset) + ", does not fit in the file's " +
                      std::to_string(fileSize_) + " bytes");
    const std::string directory = bytesAt(directoryOffset, directorySize);

    size_t at = 0;
    records_.reserve(entries);
    for (uint64_t i = 0; i < entries; ++i) {
        if (directory.size() - at < kDirectoryEntryBytes || directory.compare(at, 4, kDirectoryEntry) != 0)
            throw corrupt("directory entry " + std::to_string(i) + " is malformed");
        Record record;
        const uint64_t flags = littleEndian(directory, at + 8, 2);
        record.method = static_cast<uint16_t>(littleEndian(directory, at + 10, 2));
        record.crc32 = static_cast<uint32_t>(littleEndian(directory, at + 16, 4));
        record.compressedSize = littleEndian(directory, at + 20, 4);
        record.size = littleEndian(directory, at + 24, 4);
        const size_t nameLength = littleEndian(directory, at + 28, 2);
        const size_t extraLength = littleEndian(directory, at + 30, 2);
        const size_t commentLength = littleEndian(directory, at + 32, 2);
        record.localHeaderOffset = littleEndian(directory, at + 42, 4);
        if (directory.size() - at - kDirectoryEntryBytes < nameLength + extraLength + commentLength)
            throw corrupt("directory entry " + std::to_string(i) + " runs past the directory");
        record.name = directory.substr(at + kDirectoryEntryBytes, nameLength);
        const std::string name = sde::quoted(record.name);
        // The zip64 extra field (id 1) holds, in this order, the 64-bit sizes and offset whose
        // 32-bit fields read 0xffffffff.
        const size_t extraEnd = at + kDirectoryEntryBytes + nameLength + extraLength;
        for (size_t extra = at + kDirectoryEntryBytes + nameLength; extra + 4 <= extraEnd;) {
            const uint64_t id = littleEndian(directory, extra, 2);
            const size_t length = littleEndian(directory, extra + 2, 2);
            size_t field = extra + 4;
            const size_t fieldEnd = std::min(field + length, extraEnd);
            if (id == 1) {
                for (uint64_t *value : {&record.size, &record.compressedSize, &record.localHeaderOffset}) {
                    if (*value != 0xffffffff)
                        continue;
                    if (fieldEnd - field < 8)
                        throw corrupt("the zip64 sizes of '" + name + "' are missing");
                    *value = littleEndian(directory, field, 8);
                    field += 8;
                }
            }
            extra += 4 + length;
        }
        if (!index_.emplace(record.name, records_.size()).second)
            throw Error(label_ + ": the record '" + name +
                        "' appears twice in the archive; a checkpoint holds each record once");
        if (flags & 1)
            throw Error(label_ + ": the archive's record '" + name + "' is encrypted; a checkpoint's records are not");
        if (record.method != 0 && record.method != 8)
            throw Error(label_ + ": the archive's record '" + name + "' is compressed with " +
                        methodName(record.method) + " (method " + std::to_string(record.method) +
                        "); only stored (0) and deflated (8) records can be read");
        // The record's data follows its 30-byte local header (and a name); it must lie in the file.
        if (record.localHeaderOffset > fileSize_ || record.compressedSize > fileSize_ - record.localHeaderOffset)
            throw corrupt("the record '" + name + "' of " + std::to_string(record.compressedSize) +
                          " bytes lies outside the file's " + std::to_string(fileSize_));
        if (record.method == 0 && record.size != record.compressedSize)
            throw corrupt("the stored record '" + name + "' declares " + std::to_string(record.size) +
                          " bytes and holds " + std::to_string(record.compressedSize));
        if (record.method != 0 && record.size > kMaxInflatedRecordBytes)
            throw Error(label_ + ": the archive's record '" + name + "' would inflate to " +
                        std::to_string(record.size) + " bytes, more than the " +
                        std::to_string(kMaxInflatedRecordBytes >> 20) + " MiB a checkpoint's record may (a zip bomb?)");
        if (record.method != 0 && record.size / kMaxDeflateRatio > record.compressedSize)
            throw corrupt("the deflated record '" + name + "' declares " + std::to_string(record.size) +
                          " bytes, more than its " + std::to_string(record.compressedSize) +
                          " deflated bytes can hold");
        records_.push_back(std::move(record));
        at += kDirectoryEntryBytes + nameLength + extraLength + commentLength;
    }
}

const ZipArchive::Record *ZipArchive::find(const std::string &name) const
{
    const auto it = index_.find(name);
    return it == index_.end() ? nullptr : &records_[it->second];
}

std::string ZipArchive::read(const Record &record)
{
    const std::string name = sde::quoted(record.name);
    const auto corrupt = [&](const std::string &what) {
        return Error(label_ + ": the archive's record '" + name + "' is corrupt: " + what);
    };

    // The local header repeats the name; the data follows it and its extra field.
    std::string header(kLocalHeaderBytes, '\0');
    in_.clear();
    in_.seekg(static_cast<std::streamoff>(record.localHeaderOffset));
    in_.read(header.data(), static_cast<std::streamsize>(header.size()));
    if (static_cast<size_t>(in_.gcount()) != header.size() || header.compare(0, 4, kLocalHeader) != 0)
        throw corrupt("no local header at byte " + std::to_string(record.localHeaderOffset));
    const uint64_t nameLength = littleEndian(header, 26, 2);
    const uint64_t extraLength = littleEndian(header, 28, 2);
    std::string localName(nameLength, '\0');
    in_.read(localName.data(), static_cast<std::streamsize>(nameLength));
    if (static_cast<uint64_t>(in_.gcount()) != nameLength || localName != record.name)
        throw corrupt("its local header names '" + sde::quoted(localName) + "'");
    const uint64_t dataOffset = record.localHeaderOffset + kLocalHeaderBytes + nameLength + extraLength;
    if (dataOffset > fileSize_ || record.compressedSize > fileSize_ - dataOffset)
        throw corrupt("its " + std::to_string(record.compressedSize) + " bytes at " + std::to_string(dataOffset) +
                      " run past the end of the file (" + std::to_string(fileSize_) + " bytes)");
    in_.clear();
    in_.seekg(static_cast<std::streamoff>(dataOffset));

    // The sizes were checked on opening: a stored record lies in the file, a deflated one
    // inflates to at most kMaxInflatedRecordBytes.
    std::string out(record.size, '\0');
    if (record.method == 0) {
        in_.read(out.data(), static_cast<std::streamsize>(out.size()));
        if (static_cast<uint64_t>(in_.gcount()) != out.size())
            throw Error(label_ + ": cannot read the archive's record '" + name + "'");
    } else {
        z_stream stream{};
        if (inflateInit2(&stream, -MAX_WBITS) != Z_OK) // raw deflate, as zip holds it
            throw Error(label_ + ": cannot start inflating the archive's record '" + name + "'");
        std::string chunk(std::min<uint64_t>(record.compressedSize, kInflateChunkBytes), '\0');
        uint64_t consumed = 0; // compressed bytes handed to zlib
        char spare = 0;        // catches output beyond the declared size
        int status = Z_OK;
        stream.next_out = reinterpret_cast<Bytef *>(out.data());
        while (status != Z_STREAM_END) {
            if (stream.avail_in == 0) {
                if (consumed == record.compressedSize) {
                    inflateEnd(&stream);
                    throw corrupt("its deflated data ends after " + std::to_string(record.compressedSize) +
                                  " bytes, inside the stream (" + std::to_string(stream.total_out) +
                                  " bytes inflated)");
                }
                const uint64_t n = std::min<uint64_t>(record.compressedSize - consumed, chunk.size());
                in_.read(chunk.data(), static_cast<std::streamsize>(n));
                if (static_cast<uint64_t>(in_.gcount()) != n) {
                    inflateEnd(&stream);
                    throw Error(label_ + ": cannot read the archive's record '" + name + "'");
                }
                consumed += n;
                stream.next_in = reinterpret_cast<Bytef *>(chunk.data());
                stream.avail_in = static_cast<uInt>(n);
            }
            if (stream.total_out < out.size()) {
                stream.next_out = reinterpret_cast<Bytef *>(out.data()) + stream.total_out;
                stream.avail_out = static_cast<uInt>(std::min<uint64_t>(out.size() - stream.total_out, 1u << 30));
            } else {
                stream.next_out = reinterpret_cast<Bytef *>(&spare);
                stream.avail_out = 1;
            }
            const uLong inBefore = stream.total_in, outBefore = stream.total_out;
            status = inflate(&stream, Z_NO_FLUSH);
            if (status == Z_BUF_ERROR && stream.avail_in > 0 && stream.total_in == inBefore &&
                stream.total_out == outBefore)
                status = Z_DATA_ERROR; // neither input nor output moved: it would never end
            if (stream.total_out > out.size()) {
                inflateEnd(&stream);
                throw corrupt("it inflates to more than the " + std::to_string(out.size()) +
                              " bytes its directory declares");
            }
            if (status != Z_OK && status != Z_STREAM_END && status != Z_BUF_ERROR) {
                const uint64_t at = consumed - stream.avail_in;
                inflateEnd(&stream);
                throw corrupt("its deflated data does not inflate (invalid at or before byte " + std::to_string(at) +
                              " of " + std::to_string(record.compressedSize) + ")");
            }
        }
        const uint64_t inflated = stream.total_out;
        inflateEnd(&stream);
        if (inflated != out.size())
            throw corrupt("it inflates to " + std::to_string(inflated) + " bytes, not the " +
                          std::to_string(out.size()) + " its directory declares");
    }
    const auto crc =
        static_cast<uint32_t>(crc32_z(crc32_z(0L, Z_NULL, 0), reinterpret_cast<const Bytef *>(out.data()), out.size()));
    if (crc != record.crc32)
        throw corrupt("its CRC-32 is " + hex32(crc) + ", not the " + hex32(record.crc32) + " its directory declares");
    return out;
}

} // namespace sde
