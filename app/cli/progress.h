#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace sde::cli {

// A one-line progress bar on stderr: steps, NFE and ETA. On a terminal it redraws in place;
// otherwise it prints a line at every 10 %.
class ProgressBar {
public:
    explicit ProgressBar(std::string label);
    // total 0: unknown (adaptive solvers); shows steps and NFE only.
    void update(int64_t step, int64_t total, int64_t nfe);
    void finish(const std::string &summary);

private:
    std::string label_;
    std::chrono::steady_clock::time_point start_;
    bool terminal_;
    int lastDecile_ = -1;
    std::chrono::steady_clock::time_point lastDraw_;
};

} // namespace sde::cli
