#include "util/failure_message.h"

#include "util/error.h"

#include <c10/util/Exception.h>

#include <new>
#include <regex>

namespace sde {

std::string printable(const std::string &text)
{
    static const char *kHex = "0123456789abcdef";
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        const auto byte = static_cast<unsigned char>(c);
        if (c == '\n') {
            // A message's own lists go on indented lines; a line break from a value is indented too,
            // so no later line can pass for a line of its own ("error: ...").
            out += '\n';
            if (i + 1 < text.size() && text[i + 1] != ' ')
                out += "  ";
        } else if (c == '\t')
            out += "\\t";
        else if (c == '\r')
            out += "\\r";
        else if (byte < 0x20 || byte == 0x7f)
            out += std::string("\\x") + kHex[byte >> 4] + kHex[byte & 15];
        else
            out += c;
    }
    return out;
}

namespace {

bool isOutOfMemory(const std::string &library)
{
    return library.find("can't allocate memory") != std::string::npos ||
           library.find("out of memory") != std::string::npos;
}

// LibTorch's CPU allocator says "you tried to allocate N bytes"; CUDA's "Tried to allocate 1.50 GiB".
std::string outOfMemoryMessage(const std::string &library)
{
    std::string message = "not enough memory for this request";
    std::smatch size;
    if (std::regex_search(library, size, std::regex("allocate ([0-9]+) bytes")))
        message += " (it needed a block of " + size[1].str() + " bytes)";
    else if (std::regex_search(library, size, std::regex("allocate ([0-9.]+ [KMGT]iB)")))
        message += " (it needed a block of " + size[1].str() + ")";
    return message + "; try a smaller batch, a smaller image or fewer frames";
}

} // namespace

std::string failureMessage(const std::exception &failure)
{
    if (dynamic_cast<const Error *>(&failure))
        return failure.what();
    if (dynamic_cast<const std::bad_alloc *>(&failure))
        return outOfMemoryMessage("");
    if (const auto *library = dynamic_cast<const c10::Error *>(&failure)) {
        const std::string text = library->what_without_backtrace();
        return isOutOfMemory(text) ? outOfMemoryMessage(text) : text;
    }
    return failure.what();
}

} // namespace sde
