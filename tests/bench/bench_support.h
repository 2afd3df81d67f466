#pragma once

// Peak memory for the benchmarks: the process's peak resident set (VmHWM), which writing "5" to
// /proc/self/clear_refs resets (Linux 4.0 and later).

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace sde::bench {

inline long procStatusKb(const std::string &field)
{
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind(field + ":", 0) == 0)
            return std::stol(line.substr(field.size() + 1));
    return -1;
}

inline long peakRssKb() { return procStatusKb("VmHWM"); }

inline void resetPeakRss() { std::ofstream("/proc/self/clear_refs") << "5"; }

// "1,8,64" -> {1, 8, 64}.
inline std::vector<int64_t> parseList(const std::string &text)
{
    std::vector<int64_t> out;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ','))
        out.push_back(std::stoll(item));
    return out;
}

} // namespace sde::bench
