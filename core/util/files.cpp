#include "util/files.h"

#include "util/error.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace sde {

namespace {

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

void writeFileAtomically(const std::string &path, const std::string &bytes)
{
    std::string temp = path + ".tmp-XXXXXX";
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
    if (::rename(temp.c_str(), path.c_str()) != 0) {
        int saved = errno;
        ::unlink(temp.c_str());
        throw Error("cannot write '" + path + "': " + std::strerror(saved));
    }
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

} // namespace sde
