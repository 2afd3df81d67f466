#include "io/torch_checkpoint.h"

#include "util/error.h"
#include "util/files.h"

#include <caffe2/serialize/inline_container.h>

#include <cstring>
#include <fstream>

namespace sde {

std::string stripModulePrefix(const std::string &key)
{
    static const std::string prefix = "module.";
    return key.compare(0, prefix.size(), prefix) == 0 ? key.substr(prefix.size()) : key;
}

namespace {

std::string firstBytes(const std::string &path, size_t n)
{
    std::ifstream in(path, std::ios::binary);
    std::string bytes(n, '\0');
    in.read(bytes.data(), static_cast<std::streamsize>(n));
    bytes.resize(static_cast<size_t>(in.gcount()));
    return bytes;
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

} // namespace

TorchCheckpoint readTorchCheckpoint(const std::string &path)
{
    requireReadableFile(path);
    std::string head = firstBytes(path, 4);
    if (head.size() < 4)
        throw Error(path + ": the file is empty or truncated, not a PyTorch checkpoint");
    if (head.compare(0, 2, "PK") != 0) {
        if (static_cast<uint8_t>(head[0]) == 0x80)
            throw Error(path + ": this is a legacy (pre-1.6) torch.save file; re-save it with torch.save(..., "
                               "_use_new_zipfile_serialization=True)");
        throw Error(path + ": not a PyTorch checkpoint (a .pth file is a zip archive)");
    }

    std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader;
    std::string pickle;
    try {
        reader = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
        if (!reader->hasRecord("data.pkl"))
            throw Error(path + ": the archive has no data.pkl; it is not a torch.save checkpoint");
        auto [data, size] = reader->getRecord("data.pkl");
        pickle.assign(static_cast<const char *>(data.get()), size);
    } catch (const c10::Error &e) {
        throw Error(path + ": the checkpoint archive is corrupt or truncated (" + e.what_without_backtrace() + ")");
    }

    StorageLoader loader = [&](const std::string &key, torch::Dtype dtype, int64_t numel) {
        const std::string record = "data/" + key;
        try {
            if (!reader->hasRecord(record))
                throw Error(path + ": the storage " + record + " is missing from the archive");
            auto [data, size] = reader->getRecord(record);
            const size_t need = static_cast<size_t>(numel) * c10::elementSize(dtype);
            if (size < need)
                throw Error(path + ": the storage " + record + " holds " + std::to_string(size) + " bytes, " +
                            std::to_string(need) + " expected");
            torch::Tensor out = torch::empty({numel}, torch::TensorOptions().dtype(dtype));
            std::memcpy(out.data_ptr(), data.get(), need);
            return out;
        } catch (const c10::Error &e) {
            throw Error(path + ": cannot read " + record + " (" + e.what_without_backtrace() + ")");
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

} // namespace sde
