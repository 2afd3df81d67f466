#include "util/failure_message.h"

#include "util/error.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <new>
#include <regex>

namespace sde {

namespace {

constexpr size_t kLongestRun = 240;
constexpr size_t kRunHead = 120;
constexpr size_t kRunTail = 80;

bool isContinuationByte(char c)
{
    return (static_cast<unsigned char>(c) & 0xc0) == 0x80;
}

} // namespace

std::string elideLongRuns(const std::string &text)
{
    std::string out;
    size_t i = 0;
    while (i < text.size()) {
        if (text[i] == ' ' || text[i] == '\n') {
            out += text[i++];
            continue;
        }
        const size_t end = std::min(text.find(' ', i), text.find('\n', i));
        const size_t stop = end == std::string::npos ? text.size() : end;
        size_t characters = 0;
        for (size_t j = i; j < stop; ++j)
            characters += isContinuationByte(text[j]) ? 0 : 1;
        if (characters <= kLongestRun) {
            out.append(text, i, stop - i);
        } else {
            // The byte where character kRunHead starts, and where the last kRunTail begin.
            size_t head = i, seen = 0;
            while (head < stop && (isContinuationByte(text[head]) || seen < kRunHead))
                seen += isContinuationByte(text[head++]) ? 0 : 1;
            size_t tail = stop, kept = 0;
            while (kept < kRunTail) {
                --tail;
                kept += isContinuationByte(text[tail]) ? 0 : 1;
            }
            out.append(text, i, head - i);
            out += " [... " + std::to_string(characters - kRunHead - kRunTail) + " characters left out ...] ";
            out.append(text, tail, stop - tail);
        }
        i = stop;
    }
    return out;
}

std::string printable(const std::string &input)
{
    static const char *kHex = "0123456789abcdef";
    const std::string text = elideLongRuns(input);
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

// failureMessage before its long runs are cut.
std::string untrimmedFailureMessage(const std::exception &failure)
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

} // namespace

std::string failureMessage(const std::exception &failure)
{
    return elideLongRuns(untrimmedFailureMessage(failure));
}

} // namespace sde
