#include "io/torch_checkpoint.h"

#include "util/error.h"
#include "util/files.h"

#include <caffe2/serialize/inline_container.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

namespace sde {

std::string stripModulePrefix(const std::string &key)
{
    static const std::string prefix = "module.";
    return key.compare(0, prefix.size(), prefix) == 0 ? key.substr(prefix.size()) : key;
}

namespace {

std::string firstBytes(std::istream &in, size_t n)
{
    std::string bytes(n, '\0');
    in.clear();
    in.seekg(0);
    in.read(bytes.data(), static_cast<std::streamsize>(n));
    bytes.resize(static_cast<size_t>(in.gcount()));
    return bytes;
}

// The most bytes one compressed record of a checkpoint's archive may inflate to. torch.save stores
// every record as it is (the data.pkl of a large model is a few MB); a deflated record comes from
// another tool, and one that inflates to gigabytes is refused before anything is allocated.
constexpr uint64_t kMaxInflatedRecordBytes = uint64_t(256) << 20;

uint64_t littleEndian(const std::string &bytes, size_t at, int width)
{
    uint64_t value = 0;
    for (int i = width - 1; i >= 0; --i)
        value = (value << 8) | static_cast<uint8_t>(bytes[at + static_cast<size_t>(i)]);
    return value;
}

// `size` bytes of the file at `offset`, or sde::Error when the file is shorter.
std::string bytesAt(std::istream &in, uint64_t offset, uint64_t size, const std::string &path)
{
    std::string bytes(size, '\0');
    in.clear();
    in.seekg(static_cast<std::streamoff>(offset));
    in.read(bytes.data(), static_cast<std::streamsize>(size));
    if (static_cast<uint64_t>(in.gcount()) != size)
        throw Error(path + ": the checkpoint archive is corrupt or truncated (it ends inside its directory)");
    return bytes;
}

// Reads the archive's central directory (zip64 included) and checks the sizes each record
// declares before LibTorch's reader allocates them: a stored record lies inside the file, a
// deflated one inflates to at most kMaxInflatedRecordBytes.
void checkArchiveSizes(std::istream &in, const std::string &path)
{
    const auto corrupt = [&path](const std::string &what) {
        return Error(path + ": the checkpoint archive is corrupt or truncated (" + what + ")");
    };
    in.clear();
    in.seekg(0, std::ios::end);
    const auto end = in.tellg();
    if (!in || end < 0)
        throw Error(path + ": cannot read the file");
    const uint64_t fileSize = static_cast<uint64_t>(end);

    // The end-of-central-directory record: 22 bytes and a comment of up to 65535 at the end.
    const uint64_t tailSize = std::min<uint64_t>(fileSize, 22 + 65535);
    const std::string tail = bytesAt(in, fileSize - tailSize, tailSize, path);
    size_t eocd = tail.size() < 22 ? std::string::npos : tail.rfind(std::string("PK\x05\x06", 4), tail.size() - 22);
    if (eocd == std::string::npos)
        throw corrupt("no end of central directory");
    uint64_t entries = littleEndian(tail, eocd + 10, 2);
    uint64_t directorySize = littleEndian(tail, eocd + 12, 4);
    uint64_t directoryOffset = littleEndian(tail, eocd + 16, 4);
    if (entries == 0xffff || directorySize == 0xffffffff || directoryOffset == 0xffffffff) {
        // Zip64: a 20-byte locator just before points at the 56-byte zip64 end record.
        if (eocd < 20 || tail.compare(eocd - 20, 4, std::string("PK\x06\x07", 4)) != 0)
            throw corrupt("no zip64 end of central directory locator");
        const uint64_t recordOffset = littleEndian(tail, eocd - 20 + 8, 8);
        if (recordOffset > fileSize || fileSize - recordOffset < 56)
            throw corrupt("the zip64 end of central directory lies outside the file");
        const std::string record = bytesAt(in, recordOffset, 56, path);
        if (record.compare(0, 4, std::string("PK\x06\x06", 4)) != 0)
            throw corrupt("no zip64 end of central directory");
        entries = littleEndian(record, 32, 8);
        directorySize = littleEndian(record, 40, 8);
        directoryOffset = littleEndian(record, 48, 8);
    }
    // Every entry of the directory takes at least 46 bytes, and the directory lies in the file.
    if (directorySize > fileSize || directoryOffset > fileSize - directorySize || entries > directorySize / 46)
        throw corrupt("its directory of " + std::to_string(entries) + " records, " + std::to_string(directorySize) +
                      " bytes at " + std::to_string(directoryOffset) + ", does not fit in the file's " +
                      std::to_string(fileSize) + " bytes");
    const std::string directory = bytesAt(in, directoryOffset, directorySize, path);

    size_t at = 0;
    for (uint64_t i = 0; i < entries; ++i) {
        if (directory.size() - at < 46 || directory.compare(at, 4, std::string("PK\x01\x02", 4)) != 0)
            throw corrupt("directory entry " + std::to_string(i) + " is malformed");
        const uint64_t method = littleEndian(directory, at + 10, 2);
        uint64_t compressed = littleEndian(directory, at + 20, 4);
        uint64_t size = littleEndian(directory, at + 24, 4);
        const size_t nameLength = littleEndian(directory, at + 28, 2);
        const size_t extraLength = littleEndian(directory, at + 30, 2);
        const size_t commentLength = littleEndian(directory, at + 32, 2);
        uint64_t offset = littleEndian(directory, at + 42, 4);
        if (directory.size() - at - 46 < nameLength + extraLength + commentLength)
            throw corrupt("directory entry " + std::to_string(i) + " runs past the directory");
        const std::string name = directory.substr(at + 46, std::min<size_t>(nameLength, 200));
        // The zip64 extra field (id 1) holds, in this order, the 64-bit sizes and offset whose
        // 32-bit fields read 0xffffffff.
        for (size_t extra = at + 46 + nameLength; extra + 4 <= at + 46 + nameLength + extraLength;) {
            const uint64_t id = littleEndian(directory, extra, 2);
            const size_t length = littleEndian(directory, extra + 2, 2);
            size_t field = extra + 4;
            const size_t fieldEnd = std::min(field + length, at + 46 + nameLength + extraLength);
            if (id == 1) {
                for (uint64_t *value : {&size, &compressed, &offset}) {
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
        // The record's data follows its 30-byte local header (and a name); it must lie in the file.
        if (offset > fileSize || compressed > fileSize - offset)
            throw corrupt("the record '" + name + "' of " + std::to_string(compressed) +
                          " bytes lies outside the file's " + std::to_string(fileSize));
        if (method == 0 && size != compressed)
            throw corrupt("the stored record '" + name + "' declares " + std::to_string(size) + " bytes and holds " +
                          std::to_string(compressed));
        if (method != 0 && size > kMaxInflatedRecordBytes)
            throw Error(path + ": the archive's record '" + name + "' would inflate to " + std::to_string(size) +
                        " bytes, more than the " + std::to_string(kMaxInflatedRecordBytes >> 20) +
                        " MiB a checkpoint's record may (a zip bomb?)");
        at += 46 + nameLength + extraLength + commentLength;
    }
}

std::vector<std::pair<std::string, torch::Tensor>> tensorDict(const PyRef &dict, const std::string &what,
                                                              const std::string &path)
{
    if (!dict || dict->kind != PyValue::Kind::Dict)
        throw Error(path + ": '" + what + "' is " + (dict ? dict->describe() : "missing") + ", not a state dict");
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (const auto &[key, value] : dict->dict) {
        if (key->kind != PyValue::Kind::String)
            throw Error(path + ": '" + what + "' has a key that is " + key->describe() + ", not a name");
        if (value->kind != PyValue::Kind::Tensor)
            throw Error(path + ": '" + what + "' entry '" + key->text + "' is " + value->describe() + ", not a tensor");
        out.emplace_back(key->text, value->tensor);
    }
    return out;
}

bool isTensorDict(const PyRef &value)
{
    if (value->kind != PyValue::Kind::Dict || value->dict.empty())
        return false;
    for (const auto &[key, item] : value->dict)
        if (key->kind != PyValue::Kind::String || item->kind != PyValue::Kind::Tensor)
            return false;
    return true;
}

// The checkpoint in `in` (a file or bytes in memory); `path` names it in errors.
TorchCheckpoint readCheckpointFrom(std::istream &in, const std::string &path)
{
    std::string head = firstBytes(in, 4);
    if (head.size() < 4)
        throw Error(path + ": the file is empty or truncated, not a PyTorch checkpoint");
    if (head.compare(0, 2, "PK") != 0) {
        if (static_cast<uint8_t>(head[0]) == 0x80)
            throw Error(path + ": this is a legacy (pre-1.6) torch.save file; re-save it with torch.save(..., "
                               "_use_new_zipfile_serialization=True)");
        throw Error(path + ": not a PyTorch checkpoint (a .pth file is a zip archive)");
    }

    checkArchiveSizes(in, path);
    in.clear();
    in.seekg(0);
    std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader;
    std::string pickle;
    try {
        reader = std::make_unique<caffe2::serialize::PyTorchStreamReader>(&in);
        if (!reader->hasRecord("data.pkl"))
            throw Error(path + ": the archive has no data.pkl; it is not a torch.save checkpoint");
        auto [data, size] = reader->getRecord("data.pkl");
        pickle.assign(static_cast<const char *>(data.get()), size);
    } catch (const Error &) {
        throw;
    } catch (const c10::Error &e) {
        throw Error(path + ": the checkpoint archive is corrupt or truncated (" + e.what_without_backtrace() + ")");
    } catch (const std::exception &e) {
        // LibTorch's reader throws more than c10::Error: std::out_of_range "stoull" for a version
        // record whose number does not fit in 64 bits.
        throw Error(path + ": the checkpoint archive cannot be read (LibTorch's reader: " + e.what() + ")");
    }

    StorageLoader loader = [&](const std::string &key, torch::Dtype dtype, int64_t numel) {
        const std::string record = "data/" + key;
        try {
            if (!reader->hasRecord(record))
                throw Error(path + ": the storage " + record + " is missing from the archive");
            auto [data, size] = reader->getRecord(record);
            const size_t elementSize = c10::elementSize(dtype);
            if (static_cast<uint64_t>(numel) > size / elementSize)
                throw Error(path + ": the storage " + record + " holds " + std::to_string(size) +
                            " bytes, too few for " + std::to_string(numel) + " elements of " +
                            std::to_string(elementSize) + " bytes");
            const size_t need = static_cast<size_t>(numel) * elementSize;
            torch::Tensor out = torch::empty({numel}, torch::TensorOptions().dtype(dtype));
            if (need > 0) // an empty storage may have no data pointer, which memcpy must not get
                std::memcpy(out.data_ptr(), data.get(), need);
            return out;
        } catch (const Error &) {
            throw;
        } catch (const c10::Error &e) {
            throw Error(path + ": cannot read " + record + " (" + e.what_without_backtrace() + ")");
        } catch (const std::exception &e) {
            throw Error(path + ": cannot read " + record + " (" + e.what() + ")");
        }
    };

    PyRef root = unpickle(pickle, loader, path);
    TorchCheckpoint checkpoint;
    checkpoint.path = path;

    if (isTensorDict(root)) { // torch.save(model.state_dict())
        checkpoint.model = tensorDict(root, "state dict", path);
        return checkpoint;
    }
    if (root->kind != PyValue::Kind::Dict || !root->get("model"))
        throw Error(path + ": the checkpoint holds " + root->describe() +
                    " without a 'model' entry; expected the reference's {'model', 'ema', 'optimizer', 'step'}");
    checkpoint.model = tensorDict(root->get("model"), "model", path);

    if (PyRef ema = root->get("ema"); ema && ema->kind == PyValue::Kind::Dict) {
        PyRef decay = ema->get("decay");
        PyRef updates = ema->get("num_updates");
        PyRef shadow = ema->get("shadow_params");
        if (!shadow || shadow->kind != PyValue::Kind::List)
            throw Error(path + ": 'ema' has no list 'shadow_params'");
        for (size_t i = 0; i < shadow->items.size(); ++i) {
            if (shadow->items[i]->kind != PyValue::Kind::Tensor)
                throw Error(path + ": ema.shadow_params[" + std::to_string(i) + "] is " + shadow->items[i]->describe() +
                            ", not a tensor");
            checkpoint.shadowParams.push_back(shadow->items[i]->tensor);
        }
        checkpoint.hasEma = true;
        if (decay && decay->kind == PyValue::Kind::Float)
            checkpoint.emaDecay = decay->real;
        if (updates && updates->kind == PyValue::Kind::Int)
            checkpoint.emaNumUpdates = updates->integer;
    }
    if (PyRef step = root->get("step"); step && step->kind == PyValue::Kind::Int)
        checkpoint.step = step->integer;
    if (PyRef optimizer = root->get("optimizer"); optimizer && optimizer->kind == PyValue::Kind::Dict)
        checkpoint.optimizer = optimizer;
    return checkpoint;
}

} // namespace

TorchCheckpoint readTorchCheckpoint(const std::string &path)
{
    requireReadableFile(path);
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error(path + ": cannot read the file");
    return readCheckpointFrom(in, path);
}

TorchCheckpoint parseTorchCheckpoint(const std::string &bytes, const std::string &label)
{
    std::istringstream in(bytes, std::ios::binary);
    return readCheckpointFrom(in, label);
}

} // namespace sde
