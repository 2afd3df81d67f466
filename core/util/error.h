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
    // A NUL byte (from a file's value) is written as "\0": what() would end the message there.
    explicit Error(const std::string &message) : std::runtime_error(withoutNul(message)) {}

private:
    static std::string withoutNul(const std::string &message)
    {
        if (message.find('\0') == std::string::npos)
            return message;
        std::string out;
        for (char c : message)
            out += c == '\0' ? std::string("\\0") : std::string(1, c);
        return out;
    }
};

// The longest value a message quotes; a longer one is cut to this length, ending in "...".
constexpr size_t kMaxQuotedLength = 60;

// `text` as a message quotes it: at most kMaxQuotedLength bytes, cut before a UTF-8 character
// rather than inside one.
inline std::string quoted(const std::string &text)
{
    if (text.size() <= kMaxQuotedLength)
        return text;
    size_t cut = kMaxQuotedLength - 3;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) // a continuation byte
        --cut;
    return text.substr(0, cut) + "...";
}

} // namespace sde
