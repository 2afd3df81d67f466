#include "test_support.h"

#include "test_paths.h"

#include <QDir>
#include <QTemporaryDir>

#include <fstream>
#include <memory>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

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

int freeLoopbackPort()
{
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    const bool ok = fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr *>(&address), sizeof address) == 0 &&
                    ::getsockname(fd, reinterpret_cast<sockaddr *>(&address), &length) == 0;
    if (fd >= 0)
        ::close(fd);
    return ok ? ntohs(address.sin_port) : 29500;
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
