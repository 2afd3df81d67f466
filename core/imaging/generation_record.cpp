#include "imaging/generation_record.h"

#include "imaging/image_io.h"
#include "model/score_model.h"
#include "util/build_info.h"
#include "util/error.h"
#include "util/files.h"

namespace sde {

std::map<std::string, std::string> GenerationRecord::pngText(const ScoreModel &model) const
{
    Json record = Json::object();
    record["software"] = std::string("SDE Studio ") + SDE_VERSION;
    record["operation"] = operation;
    record["model"] = Json::object();
    record["model"]["file"] = modelFile;
    record["model"]["weights"] = weights;
    record["model"]["config"] = model.config().toJson();
    record["sampling"] = settings.toJson();
    record["nfe"] = nfe;
    if (!inputs.empty())
        record["inputs"] = inputs;
    const std::string parameters = operation + ": " + describeSettings(settings) + "; model " + modelFile + " (" +
                                   weights + " weights); NFE " + std::to_string(nfe);
    return {{"parameters", parameters}, {"sdestudio", dumpJson(record)}};
}

void saveGeneratedImage(const std::string &path, const torch::Tensor &image, const GenerationRecord &record,
                        const ScoreModel &model)
{
    savePng(path, image, record.pngText(model));
}

std::vector<FileContents> generatedBatchFiles(const std::string &folder, const torch::Tensor &images,
                                              const GenerationRecord &record, const ScoreModel &model)
{
    const torch::Tensor cpu = images.to(torch::kCPU);
    std::vector<FileContents> files;
    for (int64_t i = 0; i < cpu.size(0); ++i) {
        GenerationRecord one = record;
        one.settings.seed = record.settings.seed + static_cast<uint64_t>(i);
        one.settings.batch = 1;
        files.push_back({folder + "/" + record.operation + "-" + std::to_string(one.settings.seed) + ".png",
                         encodePng(cpu[i], one.pngText(model))});
    }
    return files;
}

std::vector<std::string> saveGeneratedBatch(const std::string &folder, const torch::Tensor &images,
                                            const GenerationRecord &record, const ScoreModel &model)
{
    const std::vector<FileContents> files = generatedBatchFiles(folder, images, record, model);
    writeFilesAtomically(files);
    std::vector<std::string> paths;
    for (const FileContents &file : files)
        paths.push_back(file.path);
    return paths;
}

StoredGeneration readGeneratedImageSettings(const std::string &path)
{
    return parseGeneratedImageSettings(readPngText(path), path);
}

StoredGeneration parseGeneratedImageSettings(const std::map<std::string, std::string> &text, const std::string &path)
{
    auto it = text.find("sdestudio");
    if (it == text.end())
        throw Error("'" + path + "' holds no SDE Studio generation settings (no \"sdestudio\" text chunk)");
    try {
        const Json record = parseJson(it->second);
        StoredGeneration stored;
        stored.operation = json::find(record, "operation") ? json::getString(record, "operation") : "sample";
        if (const Json *model = json::find(record, "model"); model && json::find(*model, "file"))
            stored.modelFile = json::toString(json::at(*model, "file"), "model.file");
        stored.settings = SamplingSettings::fromJson(json::at(record, "sampling"));
        return stored;
    } catch (const std::exception &e) {
        throw Error("'" + path + "': its generation settings cannot be read: " + e.what());
    }
}

} // namespace sde
