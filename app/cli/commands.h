#pragma once

#include <string>
#include <vector>

namespace sde::cli {

// Each command returns the process exit code; errors are thrown as sde::Error and reported by
// main with exit code 1.
int runInfo(const std::vector<std::string> &args);
int runConvert(const std::vector<std::string> &args);
int runScore(const std::vector<std::string> &args);
int runSample(const std::vector<std::string> &args);
int runBpd(const std::vector<std::string> &args);
int runInpaint(const std::vector<std::string> &args);
int runColorize(const std::vector<std::string> &args);
int runInterpolate(const std::vector<std::string> &args);
int runTrain(const std::vector<std::string> &args);

} // namespace sde::cli
