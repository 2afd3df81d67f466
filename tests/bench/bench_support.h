#pragma once

// Peak memory for the benchmarks: the process's peak resident set (VmHWM), which writing "5" to
// /proc/self/clear_refs resets (Linux 4.0 and later).

#include <cstdlib>
#include <fstream>
#include <iostream>
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

inline long peakRssKb()
{
    return procStatusKb("VmHWM");
}

inline void resetPeakRss()
{
    std::ofstream("/proc/self/clear_refs") << "5";
}

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

// "plain,onednn" -> {"plain", "onednn"}.
inline std::vector<std::string> parseNames(const std::string &text)
{
    std::vector<std::string> out;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ','))
        out.push_back(item);
    return out;
}

// The value after option argv[i] (i moves onto it); a missing value ends the program with status 2.
inline std::string optionValue(int argc, char **argv, int &i)
{
    if (i + 1 >= argc) {
        std::cerr << argv[i] << " needs a value\n";
        std::exit(2);
    }
    return argv[++i];
}

} // namespace sde::bench
