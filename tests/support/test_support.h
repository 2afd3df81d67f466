#pragma once

#include <torch/torch.h>

#include <QString>

#include <string>

namespace sde::test {

// tests/data (fixtures and layouts copied from the reference; see data/README.md).
std::string dataDir();
// tests/data/reference/fixtures/<name>
std::string fixtureDir(const std::string &name);
// The sdestudio-cli executable built beside the tests.
std::string cliPath();

// The bin folder of a Python environment with PyTorch 2.x (its python3 and torchrun): the
// SDE_TORCH_VENV variable's, else the checkout's .venv-torch (packaging/install-torch.sh, which the
// cuda flavor's tests install); empty when neither has a torchrun.
std::string torchVenvBin();

// max |a - b| / max |b|: the error relative to the reference tensor's scale.
double relativeError(const torch::Tensor &actual, const torch::Tensor &expected);

// A fresh, empty folder under the system's temporary folder.
std::string makeTempDir();

} // namespace sde::test

// Compares two tensors within a relative tolerance and names them on failure.
#define SDE_COMPARE_TENSORS(actual, expected, tolerance, name)                                                         \
    do {                                                                                                               \
        const torch::Tensor a_ = (actual);                                                                             \
        const torch::Tensor e_ = (expected);                                                                           \
        QVERIFY2(a_.sizes().equals(e_.sizes()),                                                                        \
                 qPrintable(QString("%1: shape differs").arg(QString::fromStdString(name))));                          \
        const double err_ = sde::test::relativeError(a_, e_);                                                          \
        QVERIFY2(                                                                                                      \
            err_ <= (tolerance),                                                                                       \
            qPrintable(                                                                                                \
                QString("%1: relative error %2 > %3").arg(QString::fromStdString(name)).arg(err_).arg(tolerance)));    \
    } while (0)
