#pragma once

#include <charconv>
#include <string>

namespace sde {

// The shortest text that reads back to the same double, as messages and descriptions show a
// number: 50 -> "50", 0.16 -> "0.16", 1e-5 -> "1e-05", NaN -> "nan".
inline std::string numberText(double value)
{
    char buffer[32];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
    return std::string(buffer, result.ptr);
}

} // namespace sde
