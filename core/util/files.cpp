#include "util/files.h"

#include "util/error.h"

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <spdlog/spdlog.h>
#include <sstream>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace sde {

namespace {

// writeFileAtomically's temporary is "<target>" + kTemporaryInfix + mkstemp's six characters.
constexpr const char *kTemporaryInfix = ".sdestudio-tmp-";
constexpr size_t kTemporaryRandomChars = 6;

// What a stat'ed thing is, in words, when it is not a regular file (nullptr: some other kind).
const char *kindOfNonFile(mode_t mode)
{
    if (S_ISDIR(mode))
        return "a folder";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISSOCK(mode))
        return "a socket";
    return nullptr;
}

} // namespace

void requireReadableFile(const std::string &path)
{
    // stat, not open: opening a FIFO for reading blocks until a writer comes, and reading a
    // device (/dev/zero) never ends.
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0)
        throw Error("cannot open '" + path + "': " + std::strerror(errno));
    if (!S_ISREG(info.st_mode)) {
        const char *kind = kindOfNonFile(info.st_mode);
        throw Error("'" + path + "' is " + (kind ? std::string(kind) + ", not a file" : "not a regular file"));
    }
    if (::access(path.c_str(), R_OK) != 0)
        throw Error("cannot read '" + path + "': " + std::strerror(errno));
}

std::string readFile(const std::string &path)
{
    requireReadableFile(path);
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error("cannot open '" + path + "': " + std::strerror(errno));
    std::ostringstream buffer;
    buffer << in.rdbuf();
    if (in.bad())
        throw Error("error while reading '" + path + "'");
    return buffer.str();
}

namespace {

// Refuses a target that exists and is not a regular file: renaming over a folder fails with a
// cryptic errno, and a FIFO or a device given as the output would be replaced silently.
void requireWritableTarget(const std::string &path)
{
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0)
        return; // missing (or unreachable: the write itself says why)
    if (!S_ISREG(info.st_mode)) {
        const char *kind = kindOfNonFile(info.st_mode);
        throw Error("cannot write '" + path + "': it is " +
                    (kind ? std::string(kind) + ", not a file" : "not a regular file"));
    }
}

// Writes `bytes` to a new temporary file beside `path`, flushed to disk, and returns its name.
std::string writeTemporary(const std::string &path, const std::string &bytes)
{
    requireWritableTarget(path);
    std::string temp = path + kTemporaryInfix + std::string(kTemporaryRandomChars, 'X');
    int fd = ::mkstemp(temp.data());
    if (fd < 0)
        throw Error("cannot create a temporary file beside '" + path + "': " + std::strerror(errno));
    auto failWith = [&](const std::string &what) {
        int saved = errno;
        ::close(fd);
        ::unlink(temp.c_str());
        throw Error("cannot write '" + path + "': " + what + ": " + std::strerror(saved));
    };
    size_t written = 0;
    while (written < bytes.size()) {
        ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            failWith("write failed");
        }
        written += static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0)
        failWith("flush failed");
    // mkstemp creates 0600; give the file the usual permissions of a user's document.
    mode_t mask = ::umask(0);
    ::umask(mask);
    ::fchmod(fd, 0666 & ~mask);
    if (::close(fd) != 0) {
        int saved = errno;
        ::unlink(temp.c_str());
        throw Error("cannot write '" + path + "': close failed: " + std::strerror(saved));
    }
    return temp;
}

// Renames a temporary from writeTemporary over its target; removes the temporary when that fails.
void renameTemporary(const std::string &temp, const std::string &path)
{
    if (::rename(temp.c_str(), path.c_str()) != 0) {
        int saved = errno;
        ::unlink(temp.c_str());
        throw Error("cannot write '" + path + "': " + std::strerror(saved));
    }
}

} // namespace

void writeFileAtomically(const std::string &path, const std::string &bytes)
{
    renameTemporary(writeTemporary(path, bytes), path);
}

void writeFilesAtomically(const std::vector<FileContents> &files)
{
    // All the data goes to temporaries first (where a full disk shows), and only then are they
    // renamed: a failure while writing leaves every target, including older files of the same
    // names, as it was.
    std::vector<std::string> temporaries;
    temporaries.reserve(files.size());
    for (const FileContents &file : files) {
        try {
            temporaries.push_back(writeTemporary(file.path, file.bytes));
        } catch (const Error &) {
            for (const std::string &temp : temporaries)
                ::unlink(temp.c_str());
            throw;
        }
    }
    for (size_t i = 0; i < files.size(); ++i) {
        try {
            renameTemporary(temporaries[i], files[i].path);
        } catch (const Error &e) {
            // A rename fails only when the folder changed under us; take back what this call put there.
            for (size_t k = 0; k < i; ++k)
                ::unlink(files[k].path.c_str());
            for (size_t k = i + 1; k < files.size(); ++k)
                ::unlink(temporaries[k].c_str());
            if (i == 0)
                throw;
            throw Error(std::string(e.what()) + "; the " + std::to_string(i) +
                        " file(s) renamed before it were removed");
        }
    }
}

FileBatch::~FileBatch()
{
    discard();
}

void FileBatch::write(const std::string &path, const std::string &bytes)
{
    try {
        writeFileAtomically(path, bytes);
    } catch (const Error &e) {
        const size_t removed = discard();
        if (removed == 0)
            throw;
        throw Error(std::string(e.what()) + "; the " + std::to_string(removed) +
                    " file(s) written before it were removed");
    }
    written_.push_back(path);
}

size_t FileBatch::discard()
{
    size_t removed = 0;
    for (const std::string &path : written_)
        if (::unlink(path.c_str()) == 0)
            ++removed;
    written_.clear();
    return removed;
}

bool isTemporaryFileName(const std::string &name)
{
    const size_t infix = name.rfind(kTemporaryInfix);
    if (infix == std::string::npos || infix == 0)
        return false;
    const size_t random = infix + std::strlen(kTemporaryInfix);
    if (name.size() - random != kTemporaryRandomChars)
        return false;
    for (size_t i = random; i < name.size(); ++i)
        if (!std::isalnum(static_cast<unsigned char>(name[i])))
            return false;
    return true;
}

std::string baseName(const std::string &path)
{
    size_t slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

void makeFolder(const std::string &path)
{
    std::error_code error;
    std::filesystem::create_directories(path, error);
    if (error || !std::filesystem::is_directory(path))
        throw Error("cannot create the folder '" + path + "'" + (error ? ": " + error.message() : ""));
}

namespace {

// The process id written in a lock file, or "" when it holds none.
std::string lockHolder(int fd)
{
    char text[32] = {};
    const ssize_t n = ::pread(fd, text, sizeof text - 1, 0);
    std::string pid(text, n > 0 ? static_cast<size_t>(n) : 0);
    while (!pid.empty() && !std::isdigit(static_cast<unsigned char>(pid.back())))
        pid.pop_back();
    for (char c : pid)
        if (!std::isdigit(static_cast<unsigned char>(c)))
            return "";
    return pid;
}

// Removes writeFileAtomically's temporaries in `folder` and its direct subfolders (a run's
// samples/ or checkpoints/; not deeper, as an output folder may be a large tree, and not through
// links).
void removeTemporaries(const std::string &folder, std::vector<std::string> &removed)
{
    namespace fs = std::filesystem;
    std::error_code error;
    for (fs::recursive_directory_iterator it(folder, error), end; !error && it != end; it.increment(error)) {
        if (it.depth() >= 1)
            it.disable_recursion_pending();
        const fs::path &path = it->path();
        if (it->is_regular_file(error) && !it->is_symlink(error) && isTemporaryFileName(path.filename().string()) &&
            ::unlink(path.c_str()) == 0)
            removed.push_back(path.string());
    }
}

} // namespace

OutputFolder::OutputFolder(const std::string &path) : path_(path)
{
    namespace fs = std::filesystem;
    // The folders that do not exist yet, made from the outermost down.
    std::vector<std::string> missing;
    std::error_code error;
    fs::path folder = fs::path(path).lexically_normal();
    if (!folder.has_filename())
        folder = folder.parent_path();
    for (fs::path p = folder; !p.empty() && !fs::exists(p, error); p = p.parent_path()) {
        missing.insert(missing.begin(), p.string());
        if (p == p.parent_path())
            break;
    }
    makeFolder(path);
    created_ = missing;

    const std::string lockPath = path + "/" + kLockFileName;
    // Lock, then check that the file locked is still the one at lockPath: a run that finishes
    // removes its lock file, so a lock taken on the removed file would guard nothing.
    for (;;) {
        lockFd_ = ::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (lockFd_ < 0) {
            const int saved = errno;
            release();
            throw Error("cannot lock the folder '" + path + "': " + std::strerror(saved));
        }
        if (::flock(lockFd_, LOCK_EX | LOCK_NB) != 0) {
            const int saved = errno;
            const std::string pid = lockHolder(lockFd_);
            ::close(lockFd_);
            lockFd_ = -1;
            release();
            if (saved == EWOULDBLOCK)
                throw Error("the folder '" + path + "' is in use by another run" +
                            (pid.empty() ? std::string() : " (process " + pid + ")") +
                            "; wait for it to finish or choose another folder");
            throw Error("cannot lock the folder '" + path + "': " + std::strerror(saved));
        }
        struct stat held {
        }, named{};
        if (::fstat(lockFd_, &held) == 0 && ::stat(lockPath.c_str(), &named) == 0 && held.st_ino == named.st_ino &&
            held.st_dev == named.st_dev)
            break;
        ::close(lockFd_);
        lockFd_ = -1;
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(lockFd_, 0) != 0 || ::pwrite(lockFd_, pid.data(), pid.size(), 0) < 0)
        spdlog::debug("cannot write the process id into {}: {}", lockPath, std::strerror(errno));

    removeTemporaries(path, removedTemporaries_);
    for (const std::string &file : removedTemporaries_)
        spdlog::info("removed {}, the temporary file of a write that was interrupted", file);
}

OutputFolder::~OutputFolder()
{
    release();
}

void OutputFolder::release()
{
    if (lockFd_ >= 0) {
        ::unlink((path_ + "/" + kLockFileName).c_str());
        ::close(lockFd_);
        lockFd_ = -1;
    }
    // rmdir removes only empty folders: the innermost first.
    for (auto it = created_.rbegin(); it != created_.rend(); ++it)
        ::rmdir(it->c_str());
    created_.clear();
}

std::string OutputFolder::subfolder(const std::string &name)
{
    const std::string folder = path_ + "/" + name;
    const bool existed = std::filesystem::exists(folder);
    makeFolder(folder);
    if (!existed)
        created_.push_back(folder);
    return folder;
}

} // namespace sde
