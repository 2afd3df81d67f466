#pragma once

#include <exception>
#include <string>

namespace sde {

// `text` as a terminal shows it safely: control characters written as escapes ("\t", "\r",
// "\x1b"), and every line after the first indented by two spaces unless it already is (a message's
// own lists are), so a value taken from a file (a key, a path, a string field) cannot forge a line
// of its own ("error: ...") or drive the terminal; bytes that form no UTF-8 sequence (a Latin-1
// or UTF-16 file's) are escaped too ("\xff"). Other bytes, well-formed UTF-8 included, pass
// unchanged. Long runs are then cut (elideLongRuns), counting the escapes as shown.
std::string printable(const std::string &text);

// `text` with every run of more than 300 characters without a space or a line break (a path, a
// value from a file) cut to its first 120 and last 80 characters around "[... N characters left
// out ...]", so that the message around it stays readable. A character is a UTF-8 sequence, or
// any other byte on its own (a stray continuation byte too); a cut never splits a sequence. Text
// without such a run comes back unchanged, and so does text already cut.
std::string elideLongRuns(const std::string &text);

// What a failed run says to the user, its long runs cut (elideLongRuns): an sde::Error's message;
// LibTorch's message without its backtrace; and, for a failed allocation (std::bad_alloc,
// LibTorch's "can't allocate memory" or CUDA's "out of memory"), "not enough memory for this
// request" with the block's size when the library gave it and what to try instead. The CLI's
// main and the studio's workers show it.
std::string failureMessage(const std::exception &failure);

// What the studio says when a file it was asked to open fails: "Could not open THING PATH: why",
// why being failureMessage(failure), or "Could not open THING: why" when the reader's message
// names the path already (most do), so that the path is not said twice. THING: "the model",
// "the image", "the classifier".
std::string openFailureMessage(const std::string &thing, const std::string &path, const std::exception &failure);

} // namespace sde
