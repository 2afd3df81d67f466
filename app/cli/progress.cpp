#include "progress.h"

#include <cstdio>
#include <unistd.h>

namespace sde::cli {

namespace {

std::string duration(double seconds)
{
    char buffer[32];
    const long s = static_cast<long>(seconds + 0.5);
    if (s >= 3600)
        std::snprintf(buffer, sizeof buffer, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
    else if (s >= 60)
        std::snprintf(buffer, sizeof buffer, "%ldm%02lds", s / 60, s % 60);
    else
        std::snprintf(buffer, sizeof buffer, "%lds", s);
    return buffer;
}

} // namespace

ProgressBar::ProgressBar(std::string label, int64_t firstStep)
    : label_(std::move(label)), firstStep_(firstStep), start_(std::chrono::steady_clock::now()),
      terminal_(::isatty(STDERR_FILENO) != 0)
{}

void ProgressBar::update(int64_t step, int64_t total, int64_t nfe)
{
    update(step, total, "NFE " + std::to_string(nfe));
}

void ProgressBar::update(int64_t step, int64_t total, const std::string &detail)
{
    const auto now = std::chrono::steady_clock::now();
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    std::string line = label_ + "  step " + std::to_string(step);
    int decile = -1;
    if (total > 0) {
        const double fraction = static_cast<double>(step) / static_cast<double>(total);
        const int width = 30, filled = static_cast<int>(fraction * width);
        line += "/" + std::to_string(total) + " [" + std::string(filled, '#') + std::string(width - filled, '.') + "]";
        const double done = static_cast<double>(step - firstStep_) / static_cast<double>(total - firstStep_);
        if (step > firstStep_ && step < total)
            line += " ETA " + duration(elapsed / done - elapsed);
        decile = static_cast<int>(fraction * 10);
    }
    line += "  " + detail + "  " + duration(elapsed);
    if (terminal_) {
        if (std::chrono::duration<double>(now - lastDraw_).count() < 0.1 && step != total)
            return;
        lastDraw_ = now;
        std::fprintf(stderr, "\r\033[K%s", line.c_str());
    } else if (decile != lastDecile_ || total == 0) {
        if (total == 0 && step % 20 != 0)
            return;
        lastDecile_ = decile;
        std::fprintf(stderr, "%s\n", line.c_str());
    }
    std::fflush(stderr);
}

void ProgressBar::finish(const std::string &summary)
{
    if (terminal_)
        std::fprintf(stderr, "\r\033[K");
    std::fprintf(stderr, "%s  %s in %s\n", label_.c_str(), summary.c_str(),
                 duration(std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count()).c_str());
    std::fflush(stderr);
}

} // namespace sde::cli
