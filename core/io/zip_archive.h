#pragma once

#include <cstdint>
#include <istream>
#include <string>
#include <unordered_map>
#include <vector>

namespace sde {

// The most bytes one compressed record of a checkpoint's archive may inflate to. torch.save stores
// every record as it is (the data.pkl of a large model is a few MB); a deflated record comes from
// another tool, and one that inflates to gigabytes is refused before anything is allocated.
constexpr uint64_t kMaxInflatedRecordBytes = uint64_t(256) << 20;

// The zip container of a torch.save checkpoint, read without LibTorch's reader so that every
// figure it declares is checked before it is used. Opening reads the central directory (zip64
// included) and refuses, naming the file and the record: an end record whose comment does not end
// the file, a spanned archive, a directory that does not fit in the file, a record named twice, an
// encrypted record, a compression method other than stored (0) and deflate (8), a stored record
// whose two sizes differ, a deflated one that would inflate past kMaxInflatedRecordBytes or past
// what its deflated bytes can hold (1032 bytes each), and data lying outside the file. Errors read
// "<label>: ..." (sde::Error).
class ZipArchive {
public:
    struct Record {
        std::string name;
        uint16_t method = 0; // 0 stored, 8 deflated
        uint32_t crc32 = 0;
        uint64_t compressedSize = 0;
        uint64_t size = 0;
        uint64_t localHeaderOffset = 0;
    };

    // Reads the directory of the archive in `in` (kept open by the caller while this is used).
    ZipArchive(std::istream &in, std::string label);
    ZipArchive(const ZipArchive &) = delete;
    ZipArchive &operator=(const ZipArchive &) = delete;

    // The records in the directory's order.
    const std::vector<Record> &records() const { return records_; }
    // The record named exactly `name`, or nullptr.
    const Record *find(const std::string &name) const;
    // The record's bytes: its local header is checked against the directory, deflated data is
    // inflated (refused when it is corrupt, ends early or inflates to another size than declared)
    // and the CRC-32 of the bytes must be the one the directory declares.
    std::string read(const Record &record);

private:
    std::istream &in_;
    std::string label_;
    uint64_t fileSize_ = 0;
    std::vector<Record> records_;
    std::unordered_map<std::string, size_t> index_;
};

} // namespace sde
