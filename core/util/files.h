#pragma once

#include <string>

namespace sde {

// Reads a whole file; throws sde::Error naming the path when it cannot.
std::string readFile(const std::string &path);

// Throws sde::Error naming the path unless it is an existing regular file that can be read.
void requireReadableFile(const std::string &path);

// Writes `bytes` to `path` atomically: the data goes to a temporary file in the same folder,
// is flushed to disk, and is then renamed over `path`. A crash or a full disk never leaves a
// half-written file at `path`; on failure the temporary file is removed and sde::Error thrown.
void writeFileAtomically(const std::string &path, const std::string &bytes);

// The file name without folders ("a/b/c.pth" -> "c.pth").
std::string baseName(const std::string &path);

// Creates a folder and its parents; throws sde::Error naming it when that fails.
void makeFolder(const std::string &path);

} // namespace sde
