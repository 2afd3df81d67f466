#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace sde::cli {

// A one-line progress bar on stderr: steps, NFE and ETA. On a terminal it redraws in place;
// otherwise it prints a line at every 10 %.
class ProgressBar {
public:
    // `firstStep`: where a resumed run starts, so the ETA counts only this run's steps.
    explicit ProgressBar(std::string label, int64_t firstStep = 0);
    // total 0: unknown (adaptive solvers); shows steps and NFE only.
    void update(int64_t step, int64_t total, int64_t nfe);
    // As above with free text in place of the NFE ("loss 0.0312").
    void update(int64_t step, int64_t total, const std::string &detail);
    void finish(const std::string &summary);

private:
    std::string label_;
    int64_t firstStep_;
    std::chrono::steady_clock::time_point start_;
    bool terminal_;
    int lastDecile_ = -1;
    std::chrono::steady_clock::time_point lastDraw_;
};

} // namespace sde::cli
