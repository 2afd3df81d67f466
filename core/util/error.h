#pragma once

#include <stdexcept>
#include <string>

namespace sde {

// Every expected failure in core (a bad file, a bad config value, a wrong shape) is reported
// with this type and a message that names the file, key or shape. Callers at a boundary (the
// CLI's main, the studio's worker) catch it and show the message; c10::Error from LibTorch is
// caught there too.
class Error : public std::runtime_error {
public:
    explicit Error(const std::string &message) : std::runtime_error(message) {}
};

// The longest value a message quotes; a longer one is cut to this length, ending in "...".
constexpr size_t kMaxQuotedLength = 60;

// `text` as a message quotes it: at most kMaxQuotedLength characters.
inline std::string quoted(const std::string &text)
{
    return text.size() > kMaxQuotedLength ? text.substr(0, kMaxQuotedLength - 3) + "..." : text;
}

} // namespace sde
