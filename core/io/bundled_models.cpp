#include "io/bundled_models.h"

#include "config/presets.h"
#include "util/error.h"
#include "util/files.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <sstream>

namespace sde {

namespace fs = std::filesystem;

namespace {

std::string cardSummary(const std::string &cardPath)
{
    std::istringstream lines(readFile(cardPath));
    std::string line, summary;
    bool pastTitle = false;
    while (std::getline(lines, line)) {
        if (!pastTitle) {
            pastTitle = line.rfind("# ", 0) == 0;
            continue;
        }
        if (line.empty()) {
            if (!summary.empty())
                break;
            continue;
        }
        summary += (summary.empty() ? "" : " ") + line;
    }
    return summary;
}

} // namespace

std::string bundledModelsDir()
{
    std::error_code error;
    if (const char *env = std::getenv("SDE_MODELS_DIR"))
        return fs::is_directory(env, error) ? std::string(env) : std::string();
    try {
        const fs::path candidate = fs::path(presetsDir()).parent_path() / "bundled";
        if (fs::is_directory(candidate, error))
            return candidate.lexically_normal().string();
    } catch (const Error &) {
    }
    return {};
}

std::vector<BundledModel> bundledModels()
{
    std::vector<BundledModel> out;
    const std::string dir = bundledModelsDir();
    if (dir.empty())
        return out;
    std::error_code error;
    for (const auto &entry : fs::directory_iterator(dir, error)) {
        if (!entry.is_directory(error))
            continue;
        BundledModel model;
        model.name = entry.path().filename().string();
        for (const auto &[file, kind] :
             {std::pair{"model.safetensors", "score"}, std::pair{"classifier.safetensors", "classifier"}}) {
            if (fs::is_regular_file(entry.path() / file, error)) {
                model.path = (entry.path() / file).string();
                model.kind = kind;
            }
        }
        if (model.path.empty())
            continue;
        const fs::path card = entry.path() / "MODEL_CARD.md";
        if (fs::is_regular_file(card, error)) {
            model.cardPath = card.string();
            model.summary = cardSummary(model.cardPath);
        }
        out.push_back(model);
    }
    std::sort(out.begin(), out.end(), [](const BundledModel &a, const BundledModel &b) { return a.name < b.name; });
    return out;
}

std::string modelName(const std::string &weightsPath)
{
    // Told from the path alone (no disk access: the studio's recent menu names every entry).
    const fs::path path = fs::path(weightsPath).lexically_normal();
    const std::string file = path.filename().string();
    const std::string folder = path.parent_path().filename().string();
    if ((file == "model.safetensors" || file == "classifier.safetensors") && !folder.empty() && folder != "." &&
        folder != "..")
        return folder;
    return file.empty() ? weightsPath : file;
}

std::string resolveModelPath(const std::string &nameOrPath)
{
    std::error_code error;
    if (fs::exists(nameOrPath, error))
        return nameOrPath;
    const auto models = bundledModels();
    for (const auto &model : models)
        if (model.name == nameOrPath)
            return model.path;
    std::string names;
    for (const auto &model : models)
        names += (names.empty() ? "" : ", ") + model.name;
    throw Error("'" + nameOrPath + "' is neither a file nor a bundled model" +
                (names.empty() ? std::string(" (no bundled models were found)") : " (bundled: " + names + ")"));
}

} // namespace sde
