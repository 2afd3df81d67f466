#pragma once

#include <string>
#include <vector>

namespace sde {

// Reads a whole file; throws sde::Error naming the path when it cannot.
std::string readFile(const std::string &path);

// Throws sde::Error naming the path unless it is an existing regular file that can be read.
void requireReadableFile(const std::string &path);

// Writes `bytes` to `path` atomically: the data goes to a temporary file in the same folder,
// is flushed to disk, and is then renamed over `path`. A crash or a full disk never leaves a
// half-written file at `path`; on failure the temporary file is removed and sde::Error thrown.
// A `path` that exists and is not a regular file (a folder, a FIFO, a device) is refused.
void writeFileAtomically(const std::string &path, const std::string &bytes);

// A file to write: its path and its bytes.
struct FileContents {
    std::string path;
    std::string bytes;
};

// Writes the files atomically, all or none: every file's data goes to a temporary first, and only
// when all are written are they renamed into place. When one cannot be written (a full disk), no
// target is touched (older files of the same names stay) and sde::Error names the file that failed.
void writeFilesAtomically(const std::vector<FileContents> &files);

// The files of one batch, written as they come (each atomically) and kept all or none: for a batch
// too large to hold in memory at once (a sampling trajectory). A write that fails removes the
// files written before it and throws sde::Error naming the file that failed and how many were
// removed. Until keep() is called, discard() and the destructor remove the files written.
class FileBatch {
public:
    FileBatch() = default;
    ~FileBatch();
    FileBatch(const FileBatch &) = delete;
    FileBatch &operator=(const FileBatch &) = delete;

    void write(const std::string &path, const std::string &bytes);
    // The files written stay.
    void keep() { written_.clear(); }
    // Removes the files written so far; returns how many were removed.
    size_t discard();

private:
    std::vector<std::string> written_;
};

// Whether a file name is one of writeFileAtomically's temporaries ("<name>.sdestudio-tmp-XXXXXX"),
// which a killed write leaves behind.
bool isTemporaryFileName(const std::string &name);

// The file name without folders ("a/b/c.pth" -> "c.pth").
std::string baseName(const std::string &path);

// Creates a folder and its parents; throws sde::Error naming it when that fails.
void makeFolder(const std::string &path);

// A folder that one run writes into, held for the run. Opening it creates it (and its parents) if
// missing and locks it: a second run into the same folder is refused while the first holds it (an
// flock on kLockFileName, so the kernel releases the lock of a killed run). It then removes the
// temporaries that killed writes left there and in its direct subfolders (only
// writeFileAtomically's), and logs each.
// Closing it (the destructor) releases the lock and removes the folders it created that are still
// empty, so a run that fails before writing anything leaves no empty folder behind.
class OutputFolder {
public:
    static constexpr const char *kLockFileName = ".sdestudio.lock";

    // Throws sde::Error naming the folder when it cannot be created or another run holds it (with
    // that run's process id when known).
    explicit OutputFolder(const std::string &path);
    ~OutputFolder();
    OutputFolder(const OutputFolder &) = delete;
    OutputFolder &operator=(const OutputFolder &) = delete;

    const std::string &path() const { return path_; }
    // Creates the subfolder `name` (removed on closing when it was created and is still empty).
    std::string subfolder(const std::string &name);
    // The temporaries removed on opening (paths).
    const std::vector<std::string> &removedTemporaries() const { return removedTemporaries_; }

private:
    // Unlocks (removing the lock file) and removes the folders it created that are empty.
    void release();

    std::string path_;
    int lockFd_ = -1;
    std::vector<std::string> created_; // folders this run created, parents first
    std::vector<std::string> removedTemporaries_;
};

} // namespace sde
