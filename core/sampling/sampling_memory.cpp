#include "sampling/sampling_memory.h"

#include "util/error.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

namespace sde {

namespace {

std::string gibText(double bytes)
{
    char text[32];
    std::snprintf(text, sizeof text, "%.1f GiB", bytes / double(int64_t(1) << 30));
    return text;
}

// The first whole number in a file ("max" and unreadable files: nothing).
std::optional<int64_t> numberInFile(const char *path)
{
    std::ifstream file(path);
    int64_t value = 0;
    if (file >> value && value >= 0)
        return value;
    return std::nullopt;
}

} // namespace

int64_t samplingBytesPerImage(const ModelConfig &config)
{
    const int64_t side = config.data.imageSize, channels = config.data.numChannels;
    int64_t values = 2 * channels * side * side; // the sampler's state
    if (!config.isPointModel()) {
        const NetworkConfig &m = config.model;
        int64_t skips = m.nf * side * side, largest = m.nf * side * side;
        for (size_t level = 0; level < m.chMult.size(); ++level) {
            const int64_t resolution = side >> level;
            const int64_t map = m.nf * m.chMult[level] * resolution * resolution;
            skips += m.numResBlocks * map;
            largest = std::max(largest, map);
        }
        values += skips + 2 * largest;
    }
    return values * int64_t(sizeof(float));
}

std::optional<int64_t> availableMemoryBytes()
{
    std::optional<int64_t> available;
    std::ifstream meminfo("/proc/meminfo");
    std::string line;
    while (std::getline(meminfo, line)) {
        if (line.rfind("MemAvailable:", 0) != 0)
            continue;
        std::istringstream fields(line.substr(13));
        int64_t kib = 0;
        if (fields >> kib && kib > 0)
            available = kib * 1024;
        break;
    }
    // A cgroup v2 limit (a container's): what is left of it.
    const std::optional<int64_t> limit = numberInFile("/sys/fs/cgroup/memory.max");
    const std::optional<int64_t> used = numberInFile("/sys/fs/cgroup/memory.current");
    if (limit && used) {
        const int64_t left = std::max<int64_t>(0, *limit - *used);
        available = available ? std::min(*available, left) : left;
    }
    return available;
}

void requireMemoryForSampling(const ModelConfig &config, int64_t batch, const c10::Device &device)
{
    if (device.is_cuda() || batch < 1)
        return;
    const std::optional<int64_t> available = availableMemoryBytes();
    if (!available)
        return;
    const double needed = double(batch) * double(samplingBytesPerImage(config));
    if (needed > double(*available))
        throw Error("a batch of " + std::to_string(batch) + " images of this model needs at least " + gibText(needed) +
                    " while sampling; " + gibText(double(*available)) +
                    " are available: sample a smaller batch, or several");
}

} // namespace sde
