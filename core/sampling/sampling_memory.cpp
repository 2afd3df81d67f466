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

} // namespace

int64_t samplingBytesPerImage(const ModelConfig &config)
{
    const int64_t side = config.data.imageSize, channels = config.data.numChannels;
    const int64_t image = channels * side * side;
    int64_t values = 8 * image; // the sampler's state
    if (!config.isPointModel()) {
        const NetworkConfig &m = config.model;
        int64_t skips = m.nf * side * side, largest = m.nf * side * side;
        for (size_t level = 0; level < m.chMult.size(); ++level) {
            const int64_t resolution = side >> level;
            const int64_t map = m.nf * m.chMult[level] * resolution * resolution;
            skips += m.numResBlocks * map;
            largest = std::max(largest, map);
        }
        int64_t attention = 0;
        for (int64_t resolution : m.attnResolutions)
            attention = std::max(attention, resolution * resolution * resolution * resolution);
        values += skips + 2 * largest + attention;
    }
    return values * int64_t(sizeof(float));
}

std::optional<int64_t> availableMemoryBytes()
{
    std::ifstream meminfo("/proc/meminfo");
    std::string line;
    while (std::getline(meminfo, line)) {
        if (line.rfind("MemAvailable:", 0) != 0)
            continue;
        std::istringstream fields(line.substr(13));
        int64_t kib = 0;
        if (fields >> kib && kib > 0)
            return kib * 1024;
        return std::nullopt;
    }
    return std::nullopt;
}

void requireMemoryForSampling(const ModelConfig &config, int64_t batch, const torch::Device &device)
{
    if (device.is_cuda() || batch < 1)
        return;
    const std::optional<int64_t> available = availableMemoryBytes();
    if (!available)
        return;
    const double needed = double(batch) * double(samplingBytesPerImage(config));
    if (needed > double(*available))
        throw Error("a batch of " + std::to_string(batch) + " images of this model needs at least " +
                    gibText(needed) + " while sampling; " + gibText(double(*available)) +
                    " are available: sample a smaller batch, or several");
}

} // namespace sde
