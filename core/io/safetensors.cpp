#include "io/safetensors.h"

#include "util/error.h"
#include "util/files.h"
#include "util/json_fields.h"
#include "util/shape_text.h"

#include <algorithm>
#include <charconv>
#include <cstring>
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

const torch::Tensor *SafetensorsFile::find(const std::string &name) const
{
    for (const auto &[key, tensor] : tensors)
        if (key == name)
            return &tensor;
    return nullptr;
}

SafetensorsFile parseSafetensors(const std::string &bytes, const std::string &label)
{
    if (bytes.size() < 8)
        throw Error(label + ": the file is truncated (no safetensors header)");
    uint64_t headerSize = 0;
    std::memcpy(&headerSize, bytes.data(), 8); // little-endian on every platform we build for
    if (headerSize > kMaxSafetensorsHeaderBytes)
        throw Error(label + ": the safetensors header claims " + std::to_string(headerSize) + " bytes, more than the " +
                    std::to_string(kMaxSafetensorsHeaderBytes) + " a model's header may have; it is not a model file");
    if (headerSize > bytes.size() - 8)
        throw Error(label + ": the safetensors header claims " + std::to_string(headerSize) +
                    " bytes but the file is shorter; it is truncated or not a safetensors file");
    Json header;
    try {
        header = parseJson(bytes.substr(8, headerSize));
    } catch (const Error &e) {
        throw Error(label + ": malformed safetensors header: " + e.what());
    }
    if (!header.is_object())
        throw Error(label + ": the safetensors header is not a JSON object");
    const size_t dataStart = 8 + headerSize;
    const size_t dataSize = bytes.size() - dataStart;

    SafetensorsFile file;
    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    for (const auto &[name, entry] : header.items()) {
        const std::string where = label + ": tensor '" + name + "'";
        if (name == "__metadata__") {
            if (!entry.is_object())
                throw Error(label + ": __metadata__ is not an object");
            for (const auto &[key, value] : entry.items()) {
                if (!value.is_string())
                    throw Error(label + ": metadata '" + key + "' is not a string");
                file.metadata[key] = value.get<std::string>();
            }
            continue;
        }
        try {
            torch::Dtype dtype = dtypeFromName(json::getString(entry, "dtype"), where);
            const Json &dims = json::toArray(json::at(entry, "shape"), "shape");
            if (dims.size() > kMaxDims)
                throw Error("has " + std::to_string(dims.size()) + " dimensions, more than " +
                            std::to_string(kMaxDims));
            std::vector<int64_t> shape;
            int64_t numel = 1;
            int64_t nonEmpty = 1; // LibTorch sizes a tensor's storage from every dimension but zeros
            for (const Json &dim : dims) {
                const int64_t d = json::toInt64(dim, "shape");
                if (d < 0 || d > kMaxElements)
                    throw Error("dimension " + std::to_string(d) + " out of range");
                shape.push_back(d);
                if (d > 0 && (__builtin_mul_overflow(nonEmpty, d, &nonEmpty) || nonEmpty > kMaxElements))
                    throw Error("a shape beginning " + shapeText(shape) + " holds more than 2^40 elements");
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
            const uint64_t need = static_cast<uint64_t>(numel) * c10::elementSize(dtype);
            if (end - begin != need)
                throw Error("holds " + std::to_string(end - begin) + " bytes, its shape needs " + std::to_string(need));
            ranges.emplace_back(begin, end);
            torch::Tensor tensor = torch::empty(shape, torch::TensorOptions().dtype(dtype));
            if (need)
                std::memcpy(tensor.data_ptr(), bytes.data() + dataStart + begin, need);
            file.tensors.emplace_back(name, tensor);
        } catch (const Error &e) {
            std::string what = e.what();
            throw Error(what.rfind(label, 0) == 0 ? what : where + ": " + what);
        }
    }
    std::sort(ranges.begin(), ranges.end());
    for (size_t i = 1; i < ranges.size(); ++i)
        if (ranges[i].first < ranges[i - 1].second)
            throw Error(label + ": two tensors overlap in the data section");
    return file;
}

SafetensorsFile readSafetensors(const std::string &path)
{
    return parseSafetensors(readFile(path), path);
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
