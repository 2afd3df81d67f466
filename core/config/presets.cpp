#include "config/presets.h"

#include "util/build_info.h"
#include "util/error.h"
#include "util/nearest_name.h"

#include <algorithm>
#include <cstdlib>
#include <dirent.h>
#include <optional>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace sde {

namespace {

bool isDirectory(const std::string &path)
{
    struct stat info {};
    return ::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

std::string executableDir()
{
    char buffer[4096];
    ssize_t n = ::readlink("/proc/self/exe", buffer, sizeof buffer - 1);
    if (n <= 0)
        return {};
    std::string path(buffer, static_cast<size_t>(n));
    return path.substr(0, path.find_last_of('/'));
}

// Presets lie at most a few folders deep (vp/ddpm/cifar10); the bound ends a symlink loop.
constexpr int kMostPresetDepth = 8;

// Walks each folder once (by device and inode), so links to a folder above cannot multiply the walk.
void collectPresets(const std::string &root, const std::string &prefix, std::vector<std::string> &out,
                    std::set<std::pair<dev_t, ino_t>> &walked, int depth = 0)
{
    struct stat info {};
    if (depth > kMostPresetDepth || ::stat(root.c_str(), &info) != 0 ||
        !walked.emplace(info.st_dev, info.st_ino).second)
        return;
    DIR *dir = ::opendir(root.c_str());
    if (!dir)
        return;
    while (dirent *entry = ::readdir(dir)) {
        std::string name = entry->d_name;
        if (name == "." || name == "..")
            continue;
        std::string full = root + "/" + name;
        if (isDirectory(full)) {
            collectPresets(full, prefix + name + "/", out, walked, depth + 1);
        } else if (name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0) {
            out.push_back(prefix + name.substr(0, name.size() - 5));
        }
    }
    ::closedir(dir);
}

} // namespace

std::string presetsDir()
{
    std::vector<std::string> candidates;
    if (const char *env = std::getenv("SDE_PRESETS_DIR"))
        candidates.push_back(env);
    std::string exeDir = executableDir();
    if (!exeDir.empty()) {
        candidates.push_back(exeDir + "/../share/sdestudio/presets");
        candidates.push_back(exeDir + "/presets");
    }
    candidates.push_back(SDE_INSTALL_PRESETS_DIR);
    candidates.push_back(SDE_SOURCE_PRESETS_DIR);
    for (const std::string &dir : candidates)
        if (isDirectory(dir))
            return dir;
    throw Error("the model presets folder was not found (set SDE_PRESETS_DIR to models/presets)");
}

std::vector<std::string> presetNames()
{
    std::vector<std::string> names;
    std::set<std::pair<dev_t, ino_t>> walked;
    collectPresets(presetsDir(), "", names, walked);
    std::sort(names.begin(), names.end());
    return names;
}

ModelConfig loadPreset(const std::string &name)
{
    std::vector<std::string> names = presetNames();
    if (std::find(names.begin(), names.end(), name) == names.end()) {
        // One line: the nearest name, and where the whole list is (a line a preset would bury the error).
        std::string message = "unknown preset \"" + name + "\"";
        if (const auto nearest = nearestName(name, names))
            message += "; the nearest is \"" + *nearest + "\"";
        throw Error(message + "; the " + std::to_string(names.size()) + " presets are the .json files under '" +
                    presetsDir() + "', named by their path without .json");
    }
    return loadConfigFile(presetsDir() + "/" + name + ".json");
}

ModelConfig resolveConfig(const std::string &nameOrPath)
{
    struct stat info {};
    // A path that exists and is not a folder is a config file; loadConfigFile refuses a FIFO or a
    // device by name instead of reading it (a preset name is never such a path).
    if (::stat(nameOrPath.c_str(), &info) == 0 && !S_ISDIR(info.st_mode))
        return loadConfigFile(nameOrPath);
    if (nameOrPath.size() > 5 && nameOrPath.compare(nameOrPath.size() - 5, 5, ".json") == 0)
        throw Error("config file '" + nameOrPath + "' does not exist");
    return loadPreset(nameOrPath);
}

} // namespace sde
