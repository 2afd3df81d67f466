#pragma once

#include "util/error.h"

#include <QString>

#include <functional>

namespace sde::test {

// The message of the sde::Error that `run` throws, or "no error" when it throws none.
inline QString errorOf(const std::function<void()> &run)
{
    try {
        run();
    } catch (const Error &e) {
        return QString::fromStdString(e.what());
    }
    return "no error";
}

} // namespace sde::test
