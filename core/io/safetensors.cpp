#include "io/safetensors.h"

#include "io/file_kind.h"
#include "util/error.h"
#include "util/files.h"
#include "util/json_fields.h"
#include "util/shape_text.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <set>

namespace sde {

namespace {

struct DtypeName {
    const char *name;
    torch::Dtype dtype;
};

const DtypeName kDtypes[] = {
    {"F32", torch::kFloat32}, {"F64", torch::kFloat64}, {"F16", torch::kFloat16}, {"BF16", torch::kBFloat16},
    {"I64", torch::kInt64},   {"I32", torch::kInt32},   {"I16", torch::kInt16},   {"I8", torch::kInt8},
    {"U8", torch::kUInt8},    {"BOOL", torch::kBool},
};

torch::Dtype dtypeFromName(const std::string &name, const std::string &where)
{
    for (const auto &d : kDtypes)
        if (name == d.name)
            return d.dtype;
    throw Error(where + ": unsupported dtype \"" + name + "\"");
}

// A tensor's bounds: 2^40 elements (8 TiB of float64) and 64 dimensions are beyond any model.
constexpr int64_t kMaxElements = int64_t(1) << 40;
constexpr size_t kMaxDims = 64;

const char *nameFromDtype(torch::Dtype dtype)
{
    for (const auto &d : kDtypes)
        if (d.dtype == dtype)
            return d.name;
    throw Error(std::string("cannot store a tensor of dtype ") + c10::toString(dtype) + " in safetensors");
}

// The value of `key` parsed whole by std::from_chars, or sde::Error naming the label, the key
// and what was expected.
template <typename Number>
Number metadataNumber(const std::map<std::string, std::string> &metadata, const std::string &key,
                      const std::string &label, const char *expected)
{
    const auto it = metadata.find(key);
    if (it == metadata.end())
        throw Error(label + ": the metadata lack \"" + key + "\"");
    const std::string &text = it->second;
    Number value{};
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error != std::errc() || end != text.data() + text.size())
        throw Error(label + ": metadata \"" + key + "\" is not " + expected + ": " + text.substr(0, 40));
    return value;
}

} // namespace

int64_t metadataInt64(const std::map<std::string, std::string> &metadata, const std::string &key,
                      const std::string &label)
{
    return metadataNumber<int64_t>(metadata, key, label, "an integer");
}

uint64_t metadataUint64(const std::map<std::string, std::string> &metadata, const std::string &key,
                        const std::string &label)
{
    return metadataNumber<uint64_t>(metadata, key, label, "an integer from 0 to 18446744073709551615");
}

double metadataDouble(const std::map<std::string, std::string> &metadata, const std::string &key,
                      const std::string &label)
{
    return metadataNumber<double>(metadata, key, label, "a number");
}

std::string metadataChoice(const std::map<std::string, std::string> &metadata, const std::string &key,
                           const std::vector<std::string> &choices, const std::string &fallback,
                           const std::string &label)
{
    const auto it = metadata.find(key);
    if (it == metadata.end())
        return fallback;
    if (std::find(choices.begin(), choices.end(), it->second) != choices.end())
        return it->second;
    std::string expected;
    for (size_t i = 0; i < choices.size(); ++i)
        expected += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + ("\"" + choices[i] + "\"");
    throw Error(label + ": metadata \"" + key + "\" is \"" + quoted(it->second) + "\"; expected " + expected);
}

const torch::Tensor *SafetensorsFile::find(const std::string &name) const
{
    for (const auto &[key, tensor] : tensors)
        if (key == name)
            return &tensor;
    return nullptr;
}

namespace {

// One tensor as the header declares it: checked, not yet read.
struct TensorEntry {
    std::string name;
    torch::Dtype dtype;
    std::vector<int64_t> shape;
    uint64_t begin = 0; // within the data section
    uint64_t size = 0;  // bytes
};

struct Header {
    std::vector<TensorEntry> tensors;
    std::map<std::string, std::string> metadata;
};

// The header's length from the file's first 8 bytes, checked against the file's size.
uint64_t headerLength(const std::string &first, uint64_t fileSize, const std::string &label)
{
    if (first.size() < 8)
        throw Error(label + ": the file is truncated (no safetensors header)");
    uint64_t headerSize = 0;
    std::memcpy(&headerSize, first.data(), 8); // little-endian on every platform we build for
    if (headerSize > kMaxSafetensorsHeaderBytes)
        throw Error(label + ": the safetensors header claims " + std::to_string(headerSize) + " bytes, more than the " +
                    std::to_string(kMaxSafetensorsHeaderBytes) + " a model's header may have; it is not a model file");
    if (headerSize > fileSize - 8)
        throw Error(label + ": the safetensors header claims " + std::to_string(headerSize) +
                    " bytes but the file is shorter; it is truncated or not a safetensors file");
    return headerSize;
}

// Parses and checks the JSON header before anything is allocated: dtypes, shapes, data ranges
// within the `dataSize` bytes after the header, sizes matching shapes, no two ranges overlapping.
Header parseHeader(const std::string &text, uint64_t dataSize, const std::string &label)
{
    Json header;
    try {
        header = parseJson(text);
    } catch (const Error &e) {
        throw Error(label + ": malformed safetensors header: " + e.what());
    }
    if (!header.is_object())
        throw Error(label + ": the safetensors header is not a JSON object");

    Header out;
    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    for (const auto &[name, entry] : header.items()) {
        const std::string where = label + ": tensor '" + name + "'";
        if (name == "__metadata__") {
            if (!entry.is_object())
                throw Error(label + ": __metadata__ is not an object");
            for (const auto &[key, value] : entry.items()) {
                if (!value.is_string())
                    throw Error(label + ": metadata '" + key + "' is not a string");
                out.metadata[key] = value.get<std::string>();
            }
            continue;
        }
        try {
            TensorEntry tensor;
            tensor.name = name;
            tensor.dtype = dtypeFromName(json::getString(entry, "dtype"), where);
            const Json &dims = json::toArray(json::at(entry, "shape"), "shape");
            if (dims.size() > kMaxDims)
                throw Error("has " + std::to_string(dims.size()) + " dimensions, more than " +
                            std::to_string(kMaxDims));
            int64_t numel = 1;
            int64_t nonEmpty = 1; // LibTorch sizes a tensor's storage from every dimension but zeros
            for (const Json &dim : dims) {
                const int64_t d = json::toInt64(dim, "shape");
                if (d < 0 || d > kMaxElements)
                    throw Error("dimension " + std::to_string(d) + " out of range");
                tensor.shape.push_back(d);
                if (d > 0 && (__builtin_mul_overflow(nonEmpty, d, &nonEmpty) || nonEmpty > kMaxElements))
                    throw Error("a shape beginning " + shapeText(tensor.shape) + " holds more than 2^40 elements");
                numel *= d; // at most nonEmpty
            }
            const Json &offsets = json::toArray(json::at(entry, "data_offsets"), "data_offsets");
            if (offsets.size() != 2)
                throw Error("data_offsets must hold 2 numbers, not " + std::to_string(offsets.size()));
            const uint64_t begin = json::toUint64(offsets[0], "data_offsets"),
                           end = json::toUint64(offsets[1], "data_offsets");
            if (end < begin || end > dataSize)
                throw Error("data range [" + std::to_string(begin) + ", " + std::to_string(end) +
                            ") lies outside the " + std::to_string(dataSize) + " data bytes (truncated file?)");
            const uint64_t need = static_cast<uint64_t>(numel) * c10::elementSize(tensor.dtype);
            if (end - begin != need)
                throw Error("holds " + std::to_string(end - begin) + " bytes, its shape needs " + std::to_string(need));
            tensor.begin = begin;
            tensor.size = need;
            ranges.emplace_back(begin, end);
            out.tensors.push_back(std::move(tensor));
        } catch (const Error &e) {
            std::string what = e.what();
            throw Error(what.rfind(label, 0) == 0 ? what : where + ": " + what);
        }
    }
    std::sort(ranges.begin(), ranges.end());
    for (size_t i = 1; i < ranges.size(); ++i)
        if (ranges[i].first < ranges[i - 1].second)
            throw Error(label + ": two tensors overlap in the data section");
    return out;
}

// An empty CPU tensor for the entry; a failed allocation is refused naming the tensor. Its data
// lie within the file, so it is never larger than the file.
torch::Tensor allocate(const TensorEntry &entry, const std::string &label)
{
    try {
        return torch::empty(entry.shape, torch::TensorOptions().dtype(entry.dtype));
    } catch (const std::exception &) { // c10::Error or std::bad_alloc
        throw Error(label + ": tensor '" + entry.name + "': cannot allocate its " + std::to_string(entry.size) +
                    " bytes");
    }
}

// Refuses a file that is plainly another kind (a JSON file, a zip archive, an image), naming it.
void requireSafetensorsKind(const std::string &head, const std::string &label)
{
    const FileKind kind = fileKindOf(head.substr(0, kFileKindHeadBytes));
    if (kind != FileKind::Safetensors && kind != FileKind::Unknown)
        throw Error("'" + label + "' is " + fileKindName(kind) + ", not a safetensors file");
}

} // namespace

SafetensorsFile parseSafetensors(const std::string &bytes, const std::string &label)
{
    requireSafetensorsKind(bytes, label);
    const uint64_t headerSize = headerLength(bytes.substr(0, 8), bytes.size(), label);
    Header header = parseHeader(bytes.substr(8, headerSize), bytes.size() - 8 - headerSize, label);
    const char *data = bytes.data() + 8 + headerSize;
    SafetensorsFile file;
    file.metadata = std::move(header.metadata);
    for (const TensorEntry &entry : header.tensors) {
        torch::Tensor tensor = allocate(entry, label);
        if (entry.size)
            std::memcpy(tensor.data_ptr(), data + entry.begin, entry.size);
        file.tensors.emplace_back(entry.name, tensor);
    }
    return file;
}

namespace {

// The checked header of the safetensors file open in `in`, read without its data.
Header readHeader(std::ifstream &in, const std::string &path, uint64_t &dataStart)
{
    in.seekg(0, std::ios::end);
    const auto end = in.tellg();
    if (!in || end < 0)
        throw Error("cannot read '" + path + "'");
    const uint64_t fileSize = static_cast<uint64_t>(end);
    in.seekg(0);
    std::string head(std::min<uint64_t>(fileSize, kFileKindHeadBytes), '\0');
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    if (static_cast<size_t>(in.gcount()) != head.size())
        throw Error("error while reading '" + path + "'");
    requireSafetensorsKind(head, path);
    const uint64_t headerSize = headerLength(head.substr(0, 8), fileSize, path);
    std::string text(headerSize, '\0');
    in.seekg(8);
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    if (static_cast<uint64_t>(in.gcount()) != headerSize)
        throw Error("error while reading '" + path + "'");
    dataStart = 8 + headerSize;
    return parseHeader(text, fileSize - dataStart, path);
}

} // namespace

SafetensorsFile readSafetensors(const std::string &path)
{
    // The header first, then each tensor from its offset: a large file is never held whole.
    requireReadableFile(path);
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error("cannot open '" + path + "': " + std::strerror(errno));
    uint64_t dataStart = 0;
    Header header = readHeader(in, path, dataStart);
    SafetensorsFile file;
    file.metadata = std::move(header.metadata);
    for (const TensorEntry &entry : header.tensors) {
        torch::Tensor tensor = allocate(entry, path);
        if (entry.size) {
            in.clear();
            in.seekg(static_cast<std::streamoff>(dataStart + entry.begin));
            in.read(static_cast<char *>(tensor.data_ptr()), static_cast<std::streamsize>(entry.size));
            if (static_cast<uint64_t>(in.gcount()) != entry.size)
                throw Error(path + ": tensor '" + entry.name +
                            "': the file ends inside its data (was it cut short "
                            "while being read?)");
        }
        file.tensors.emplace_back(entry.name, tensor);
    }
    return file;
}

std::map<std::string, std::string> readSafetensorsMetadata(const std::string &path)
{
    requireReadableFile(path);
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error("cannot open '" + path + "': " + std::strerror(errno));
    uint64_t dataStart = 0;
    return readHeader(in, path, dataStart).metadata;
}

std::string serializeSafetensors(const std::vector<std::pair<std::string, torch::Tensor>> &tensors,
                                 const std::map<std::string, std::string> &metadata)
{
    Json header = Json::object();
    if (!metadata.empty()) {
        Json meta = Json::object();
        for (const auto &[key, value] : metadata)
            meta[key] = value;
        header["__metadata__"] = meta;
    }
    std::set<std::string> names;
    std::vector<torch::Tensor> contiguous;
    uint64_t offset = 0;
    for (const auto &[name, tensor] : tensors) {
        if (!names.insert(name).second)
            throw Error("two tensors named '" + name + "'");
        torch::Tensor cpu = tensor.detach().to(torch::kCPU).contiguous();
        Json entry = Json::object();
        entry["dtype"] = nameFromDtype(cpu.scalar_type());
        entry["shape"] = cpu.sizes().vec();
        const uint64_t size = static_cast<uint64_t>(cpu.numel()) * cpu.element_size();
        entry["data_offsets"] = {offset, offset + size};
        header[name] = entry;
        offset += size;
        contiguous.push_back(cpu);
    }
    std::string text = dumpJson(header);
    text.append((8 - text.size() % 8) % 8, ' '); // the data section starts 8-byte aligned
    std::string out;
    out.reserve(8 + text.size() + offset);
    uint64_t headerSize = text.size();
    out.append(reinterpret_cast<const char *>(&headerSize), 8);
    out += text;
    for (const torch::Tensor &t : contiguous)
        out.append(static_cast<const char *>(t.data_ptr()), static_cast<size_t>(t.numel()) * t.element_size());
    return out;
}

void writeSafetensors(const std::string &path, const std::vector<std::pair<std::string, torch::Tensor>> &tensors,
                      const std::map<std::string, std::string> &metadata)
{
    writeFileAtomically(path, serializeSafetensors(tensors, metadata));
}

void convertFloat32ToFloat16(std::vector<std::pair<std::string, torch::Tensor>> &tensors)
{
    for (auto &entry : tensors)
        if (entry.second.scalar_type() == torch::kFloat32)
            entry.second = entry.second.to(torch::kFloat16);
}

} // namespace sde
