#pragma once

#include "io/pickle.h"

#include <string>
#include <utility>
#include <vector>

namespace sde {

// What the reference's save_checkpoint writes: torch.save({'optimizer', 'model', 'ema', 'step'})
// as a zip archive. Also accepted: a bare state dict saved with torch.save(model.state_dict()).
struct TorchCheckpoint {
    std::string path;
    // The model's state dict as saved (keys usually start with "module.").
    std::vector<std::pair<std::string, torch::Tensor>> model;
    bool hasEma = false;
    double emaDecay = 0.0;
    int64_t emaNumUpdates = -1; // -1: None
    // The EMA weights of the trainable parameters, in model.parameters() order.
    std::vector<torch::Tensor> shadowParams;
    int64_t step = -1; // -1: not saved
    PyRef optimizer;   // Adam's state dict as saved, or null
};

// Reads a .pth file without Python or LibTorch's reader. Throws sde::Error naming the file for a
// missing, truncated or corrupt archive (see ZipArchive: its directory is checked before any
// record is read, every record read is checked against its CRC-32), a legacy (pre-1.6) file,
// records outside one top-level folder, a version record LibTorch 1.13 would not read, a
// byteorder record other than "little", or a pickle that names code (see unpickle()). A storage
// must hold the elements its tensors ask for.
TorchCheckpoint readTorchCheckpoint(const std::string &path);
// The same from the bytes of a .pth file held in memory; `label` names it in errors.
TorchCheckpoint parseTorchCheckpoint(const std::string &bytes, const std::string &label);

// The state dict keys without the "module." prefix DataParallel adds.
std::string stripModulePrefix(const std::string &key);

} // namespace sde
