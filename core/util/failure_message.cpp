#include "util/failure_message.h"

#include "util/error.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <cstdint>
#include <new>
#include <regex>
#include <vector>

namespace sde {

namespace {

// A run longer than kLongestRun characters keeps its first kRunHead and last kRunTail: what it
// loses is always more than the marker that replaces it.
constexpr size_t kLongestRun = 300;
constexpr size_t kRunHead = 120;
constexpr size_t kRunTail = 80;

// Where the characters of text[from, to) start: a UTF-8 lead byte with the continuation bytes it
// announces is one character, and so is any other byte (ASCII, or a stray continuation byte).
std::vector<size_t> characterStarts(const std::string &text, size_t from, size_t to)
{
    std::vector<size_t> starts;
    int expected = 0;
    for (size_t j = from; j < to; ++j) {
        const auto byte = static_cast<unsigned char>(text[j]);
        if (expected > 0 && (byte & 0xc0) == 0x80) {
            --expected;
            continue;
        }
        starts.push_back(j);
        expected = (byte & 0xe0) == 0xc0 ? 1 : (byte & 0xf0) == 0xe0 ? 2 : (byte & 0xf8) == 0xf0 ? 3 : 0;
    }
    return starts;
}

// The length of the well-formed UTF-8 sequence that starts at text[at] (a byte of 0x80 or more):
// 2 to 4, or 0 when it is none (a stray continuation byte, a cut sequence, an overlong form, a
// surrogate or a code point above U+10FFFF).
size_t utf8SequenceLength(const std::string &text, size_t at)
{
    const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
    const unsigned char lead = byte(at);
    size_t length = 0;
    uint32_t point = 0, smallest = 0;
    if ((lead & 0xe0) == 0xc0) {
        length = 2, point = lead & 0x1f, smallest = 0x80;
    } else if ((lead & 0xf0) == 0xe0) {
        length = 3, point = lead & 0x0f, smallest = 0x800;
    } else if ((lead & 0xf8) == 0xf0) {
        length = 4, point = lead & 0x07, smallest = 0x10000;
    } else {
        return 0;
    }
    if (at + length > text.size())
        return 0;
    for (size_t k = 1; k < length; ++k) {
        if ((byte(at + k) & 0xc0) != 0x80)
            return 0;
        point = (point << 6) | (byte(at + k) & 0x3f);
    }
    if (point < smallest || point > 0x10ffff || (point >= 0xd800 && point <= 0xdfff))
        return 0;
    return length;
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
        const size_t end = text.find_first_of(" \n", i);
        const size_t stop = end == std::string::npos ? text.size() : end;
        const std::vector<size_t> starts =
            stop - i > kLongestRun ? characterStarts(text, i, stop) : std::vector<size_t>{};
        if (starts.size() <= kLongestRun) {
            out.append(text, i, stop - i);
        } else {
            const size_t head = starts[kRunHead], tail = starts[starts.size() - kRunTail];
            out.append(text, i, head - i);
            out += " [... " + std::to_string(starts.size() - kRunHead - kRunTail) + " characters left out ...] ";
            out.append(text, tail, stop - tail);
        }
        i = stop;
    }
    return out;
}

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
        else if (byte < 0x80)
            out += c;
        else if (const size_t length = utf8SequenceLength(text, i)) {
            out.append(text, i, length);
            i += length - 1;
        } else // a byte of no UTF-8 sequence (a Latin-1 or UTF-16 file's) would garble the terminal
            out += std::string("\\x") + kHex[byte >> 4] + kHex[byte & 15];
    }
    // Cut after escaping, so that the characters counted are the ones shown.
    return elideLongRuns(out);
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

std::string openFailureMessage(const std::string &thing, const std::string &path, const std::exception &failure)
{
    // Named in the text shown (a long path may be cut there, a memory message replaces the
    // library's): quoted, or followed by ": ", as the readers name files.
    const std::string why = failureMessage(failure);
    const bool named = !path.empty() &&
                       (why.find("'" + path + "'") != std::string::npos || why.find(path + ": ") != std::string::npos);
    return "Could not open " + thing + (named ? "" : " " + path) + ": " + why;
}

} // namespace sde
