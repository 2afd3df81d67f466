#include "test_support.h"

#include "test_paths.h"

#include <QDir>
#include <QFileInfo>
#include <QTemporaryDir>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <vector>

namespace sde::test {

std::string dataDir()
{
    return SDE_TEST_DATA_DIR;
}

std::string fixtureDir(const std::string &name)
{
    return dataDir() + "/reference/fixtures/" + name;
}

std::string cliPath()
{
    return SDE_CLI_PATH_FILE;
}

std::string torchVenvBin()
{
    const char *given = std::getenv("SDE_TORCH_VENV");
    const std::string venv = given != nullptr && *given != '\0' ? std::string(given) : dataDir() + "/../../.venv-torch";
    const std::string bin = QDir::cleanPath(QString::fromStdString(venv + "/bin")).toStdString();
    return QFileInfo(QString::fromStdString(bin + "/torchrun")).isExecutable() ? bin : std::string();
}

double relativeError(const torch::Tensor &actual, const torch::Tensor &expected)
{
    torch::Tensor a = actual.detach().to(torch::kCPU, torch::kFloat64);
    torch::Tensor e = expected.detach().to(torch::kCPU, torch::kFloat64);
    const double scale = std::max(e.abs().max().item<double>(), 1e-30);
    return (a - e).abs().max().item<double>() / scale;
}

std::string makeTempDir()
{
    // Kept for the life of the test process; QTemporaryDir removes them at exit.
    static std::vector<std::unique_ptr<QTemporaryDir>> dirs;
    dirs.push_back(std::make_unique<QTemporaryDir>());
    return dirs.back()->path().toStdString();
}

} // namespace sde::test
