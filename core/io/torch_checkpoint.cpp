#include "io/torch_checkpoint.h"

#include "io/zip_archive.h"
#include "util/error.h"
#include "util/files.h"

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

// The format versions of torch.save's archive that LibTorch 1.13 reads (its
// kMinSupportedFileFormatVersion and kMaxSupportedFileFormatVersion); torch.save writes 3.
constexpr uint64_t kMinArchiveVersion = 1;
constexpr uint64_t kMaxArchiveVersion = 10;
// A version or byteorder record longer than this is not one.
constexpr uint64_t kMaxSmallRecordBytes = 64;

// The top-level folder every record of a torch.save archive lies in ("archive/"), taken from the
// first record as LibTorch does; a record outside it is refused, so that no two folders compete.
std::string archiveFolder(const ZipArchive &archive, const std::string &path)
{
    if (archive.records().empty())
        throw Error(path + ": the checkpoint archive holds no records; it is not a torch.save checkpoint");
    const std::string &first = archive.records().front().name;
    const size_t slash = first.find('/');
    if (slash == std::string::npos || slash == 0)
        throw Error(path + ": the archive's record '" + sde::quoted(first) +
                    "' is not in a folder; torch.save puts every record in one top-level folder");
    const std::string folder = first.substr(0, slash + 1);
    for (const ZipArchive::Record &record : archive.records()) {
        if (record.name.compare(0, folder.size(), folder) == 0)
            continue;
        const size_t otherSlash = record.name.find('/');
        if (otherSlash == std::string::npos || otherSlash == 0)
            throw Error(path + ": the archive's record '" + sde::quoted(record.name) + "' is not in the folder '" +
                        sde::quoted(folder) + "'; torch.save puts every record in one top-level folder");
        throw Error(path + ": the archive holds records in two top-level folders, '" + sde::quoted(folder) + "' and '" +
                    sde::quoted(record.name.substr(0, otherSlash + 1)) +
                    "'; torch.save puts every record in one top-level folder");
    }
    return folder;
}

// The text of a small record (the version, the byte order), or sde::Error when it is long.
std::string smallRecord(ZipArchive &archive, const ZipArchive::Record &record, const std::string &what,
                        const std::string &path)
{
    if (record.size > kMaxSmallRecordBytes)
        throw Error(path + ": the archive's " + what + " record holds " + std::to_string(record.size) +
                    " bytes, more than the " + std::to_string(kMaxSmallRecordBytes) + " such a record may");
    return archive.read(record);
}

// The archive's format version ("3\n"), which LibTorch reads first: refused unless it is a number
// within the versions LibTorch 1.13 reads.
void requireKnownVersion(ZipArchive &archive, const std::string &folder, const std::string &path)
{
    const ZipArchive::Record *record = archive.find(folder + ".data/version");
    if (!record)
        record = archive.find(folder + "version");
    if (!record)
        throw Error(path + ": the archive has no version record; it is not a torch.save checkpoint");
    const std::string text = smallRecord(archive, *record, "version", path);
    const size_t begin = text.find_first_not_of(" \t\r\n");
    const size_t end = text.find_last_not_of(" \t\r\n");
    const std::string number = begin == std::string::npos ? std::string() : text.substr(begin, end - begin + 1);
    uint64_t version = 0;
    const bool digits =
        !number.empty() && number.size() <= 18 && number.find_first_not_of("0123456789") == std::string::npos;
    if (digits)
        version = std::stoull(number);
    if (!digits || version < kMinArchiveVersion || version > kMaxArchiveVersion)
        throw Error(path + ": the archive's version record reads '" + sde::quoted(number) +
                    "'; expected a number from " + std::to_string(kMinArchiveVersion) + " to " +
                    std::to_string(kMaxArchiveVersion));
}

// torch.save records the byte order of the machine that saved it (sys.byteorder) since PyTorch
// 2.0; storages are read here as little-endian, so a checkpoint saved big-endian is refused.
void requireLittleEndian(ZipArchive &archive, const std::string &folder, const std::string &path)
{
    const ZipArchive::Record *record = archive.find(folder + "byteorder");
    if (!record)
        return; // older checkpoints have none; they were saved little-endian
    const std::string order = smallRecord(archive, *record, "byteorder", path);
    if (order != "little")
        throw Error(path + ": the archive's byteorder record reads '" + sde::quoted(order) +
                    "'; only checkpoints saved little-endian ('little') can be read");
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

    ZipArchive archive(in, path);
    const std::string folder = archiveFolder(archive, path);
    requireKnownVersion(archive, folder, path);
    requireLittleEndian(archive, folder, path);
    const ZipArchive::Record *data = archive.find(folder + "data.pkl");
    if (!data)
        throw Error(path + ": the archive has no data.pkl; it is not a torch.save checkpoint");
    const std::string pickle = archive.read(*data);

    StorageLoader loader = [&](const std::string &key, torch::Dtype dtype, int64_t numel) {
        const std::string name = "data/" + key;
        const ZipArchive::Record *record = archive.find(folder + name);
        if (!record)
            throw Error(path + ": the storage " + sde::quoted(name) + " is missing from the archive");
        const size_t elementSize = c10::elementSize(dtype);
        if (static_cast<uint64_t>(numel) > record->size / elementSize)
            throw Error(path + ": the storage " + sde::quoted(name) + " holds " + std::to_string(record->size) +
                        " bytes, too few for " + std::to_string(numel) + " elements of " + std::to_string(elementSize) +
                        " bytes");
        const std::string bytes = archive.read(*record);
        const size_t need = static_cast<size_t>(numel) * elementSize;
        torch::Tensor out = torch::empty({numel}, torch::TensorOptions().dtype(dtype));
        if (need > 0) // an empty storage may have no data pointer, which memcpy must not get
            std::memcpy(out.data_ptr(), bytes.data(), need);
        return out;
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
