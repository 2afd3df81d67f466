#pragma once

#include "sampling/sampling_settings.h"
#include "util/files.h"
#include "util/json_fields.h"

#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

namespace sde {

class ScoreModel;

// What made one generated image: written into its PNG as two text chunks, `parameters` (one
// readable line, as other studios write it) and `sdestudio` (JSON: software, operation, model
// file, weights and config, the sampling settings of that one image with batch 1, NFE, inputs),
// so that the CLI and the studio can make the same image again from the file.
struct GenerationRecord {
    std::string operation = "sample"; // sample | inpaint | colorize | ...
    std::string modelFile;            // the model's name (modelName: "fashion-mnist", "checkpoint_8.pth")
    std::string weights = "ema";
    SamplingSettings settings; // of this one image (its own seed, batch 1)
    int64_t nfe = 0;
    Json inputs = Json::object(); // the input files by role ({"image": "a.png", "mask": "m.png"})

    std::map<std::string, std::string> pngText(const ScoreModel &model) const;
};

// Saves image [C, H, W] in [0, 1] as a PNG carrying the record, atomically.
void saveGeneratedImage(const std::string &path, const torch::Tensor &image, const GenerationRecord &record,
                        const ScoreModel &model);

// Image i of a batch [B, C, H, W] as the PNG <folder>/<operation>-<seed + i>.png, its record
// carrying seed + i and batch 1 (so each file makes its image again alone).
std::vector<FileContents> generatedBatchFiles(const std::string &folder, const torch::Tensor &images,
                                              const GenerationRecord &record, const ScoreModel &model);
// Writes generatedBatchFiles all or none (writeFilesAtomically). Returns the paths.
std::vector<std::string> saveGeneratedBatch(const std::string &folder, const torch::Tensor &images,
                                            const GenerationRecord &record, const ScoreModel &model);

// The sampling settings stored in a PNG written by saveGeneratedImage, and the operation.
// Throws sde::Error naming the file when it has none or they cannot be read.
struct StoredGeneration {
    std::string operation;
    std::string modelFile;
    SamplingSettings settings;
};
StoredGeneration readGeneratedImageSettings(const std::string &path);
// The same from the text chunks of a PNG (readPngText, parsePngText); `label` names the file.
StoredGeneration parseGeneratedImageSettings(const std::map<std::string, std::string> &text, const std::string &label);

} // namespace sde
