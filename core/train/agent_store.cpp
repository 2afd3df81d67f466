#include "train/agent_store.h"

#if TORCH_VERSION_MAJOR < 2

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace sde {

namespace {

using Clock = std::chrono::steady_clock;

// The agent store's protocol (PyTorch 2.2 and later): the query types and answers.
constexpr uint32_t kValidationMagicNumber = 0x3C85F7CE;
enum class Query : uint8_t {
    Validate = 0,
    Set = 1,
    CompareSet = 2,
    Get = 3,
    Add = 4,
    Check = 5,
    Wait = 6,
    GetNumKeys = 7,
    DeleteKey = 8,
    CancelWait = 12,
};
constexpr uint8_t kReady = 0;        // CHECK's answer when every key is set
constexpr uint8_t kStopWaiting = 0;  // WAIT's answer once every key is set
constexpr uint8_t kWaitCanceled = 1; // CANCEL_WAIT's answer
// A value read from the store larger than this is a broken connection, not a value (the ranks'
// values are a few bytes to a few kilobytes).
constexpr uint64_t kLargestValue = uint64_t(1) << 28;
// Waits longer than this are waits without end (and stay clear of the clock's range).
constexpr auto kLongestWait = std::chrono::hours(24 * 365);
// How long the answer to CANCEL_WAIT may take before the connection counts as lost.
constexpr auto kCancelGrace = std::chrono::seconds(5);

// A request: the query type, then its fields.
class Message {
public:
    explicit Message(Query query) { this->query(query); }
    // A further query in the same message.
    Message &query(Query query)
    {
        bytes_.push_back(static_cast<uint8_t>(query));
        return *this;
    }
    template <typename T>
    Message &value(T v)
    {
        const auto *p = reinterpret_cast<const uint8_t *>(&v);
        bytes_.insert(bytes_.end(), p, p + sizeof v);
        return *this;
    }
    Message &bytes(const uint8_t *data, size_t size)
    {
        value<uint64_t>(size);
        bytes_.insert(bytes_.end(), data, data + size);
        return *this;
    }
    // Every key goes with the "/" a TCPStore client puts before it (TCPStore::keyPrefix_), so that
    // the keys are those of torch.distributed's clients of the same store.
    Message &key(const std::string &k)
    {
        const std::string stored = "/" + k;
        return bytes(reinterpret_cast<const uint8_t *>(stored.data()), stored.size());
    }
    Message &payload(const std::vector<uint8_t> &v) { return bytes(v.data(), v.size()); }
    Message &keys(const std::vector<std::string> &ks)
    {
        value<uint64_t>(ks.size());
        for (const std::string &k : ks)
            key(k);
        return *this;
    }
    const std::vector<uint8_t> &data() const { return bytes_; }

private:
    std::vector<uint8_t> bytes_;
};

// When a wait of `timeout` started now ends; never for c10d's kNoTimeout (0) and beyond a year.
Clock::time_point deadlineAfter(std::chrono::milliseconds timeout)
{
    if (timeout <= std::chrono::milliseconds::zero() || timeout > kLongestWait)
        return Clock::time_point::max();
    return Clock::now() + timeout;
}

int connectOnce(const std::string &host, uint16_t port, std::string &why)
{
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo *found = nullptr;
    const int resolved = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
    if (resolved != 0) {
        why = gai_strerror(resolved);
        return -1;
    }
    int fd = -1;
    for (addrinfo *a = found; a != nullptr && fd < 0; a = a->ai_next) {
        fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            why = std::strerror(errno);
            continue;
        }
        if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            why = std::strerror(errno);
            ::close(fd);
            fd = -1;
        }
    }
    ::freeaddrinfo(found);
    if (fd >= 0) {
        const int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return fd;
}

} // namespace

AgentStoreClient::AgentStoreClient(const std::string &host, uint16_t port, std::chrono::milliseconds timeout)
    : c10d::Store(timeout), where_(host + ":" + std::to_string(port))
{
    const auto deadline = deadlineAfter(timeout);
    std::string why;
    for (auto pause = std::chrono::milliseconds(10);; pause = std::min(pause * 2, std::chrono::milliseconds(1000))) {
        socket_ = connectOnce(host, port, why);
        if (socket_ >= 0 || deadline - Clock::now() <= pause)
            break;
        std::this_thread::sleep_for(pause);
    }
    if (socket_ < 0)
        throw std::runtime_error("could not connect to the store at " + where_ + ": " + why);
    // The validation query, then four GETNUMKEYS, whose answers show that the store took it. A
    // store of PyTorch 2.1 or older reads these nine bytes, exactly, as a SET and its key's 64-bit
    // length, 0x070707073C85F7CE bytes, more than any address space holds: its query fails at
    // once, and its query loop closes this connection and serves the others as before. With fewer
    // bytes its one thread would block, waiting for the rest of the length; with more, it would
    // close a connection with bytes unread, which reaches this end as a reset, not a close.
    constexpr int kProbes = 4;
    static_assert(sizeof(uint32_t) + kProbes == sizeof(uint64_t), "the probe must end with the length");
    Message probe(Query::Validate);
    probe.value<uint32_t>(kValidationMagicNumber);
    for (int i = 0; i < kProbes; ++i)
        probe.query(Query::GetNumKeys);
    int answers = 0;
    try {
        sendAll(probe.data());
        for (; answers < kProbes; ++answers) {
            int64_t count = -1;
            if (!receive(&count, sizeof count, deadline))
                fail("no answer to the validation query within " + std::to_string(timeout.count()) + " ms");
            if (count < 0)
                fail("an answer that no store gives (" + std::to_string(count) + " keys): is it torchrun's store?");
        }
    } catch (...) {
        // A throwing constructor runs no destructor.
        if (socket_ >= 0)
            ::close(socket_);
        socket_ = -1;
        // Closed before any answer: an older store. After one, the store itself went away.
        if (closedByStore_ && answers == 0)
            throw LegacyAgentStoreError("the store at " + where_ +
                                        " closed the connection on the validation query of PyTorch 2.2 and later: "
                                        "a launcher of PyTorch 2.1 or older");
        throw;
    }
}

AgentStoreClient::~AgentStoreClient()
{
    if (socket_ >= 0)
        ::close(socket_);
}

void AgentStoreClient::fail(const std::string &what)
{
    if (socket_ >= 0)
        ::close(socket_);
    socket_ = -1;
    throw std::runtime_error("the store at " + where_ + ": " + what);
}

void AgentStoreClient::sendAll(const std::vector<uint8_t> &message)
{
    if (socket_ < 0)
        fail("the connection was lost before");
    size_t sent = 0;
    while (sent < message.size()) {
        const ssize_t n = ::send(socket_, message.data() + sent, message.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            fail(std::string("sending failed: ") + std::strerror(errno));
        sent += static_cast<size_t>(n);
    }
}

bool AgentStoreClient::receive(void *data, size_t size, Clock::time_point deadline)
{
    if (socket_ < 0)
        fail("the connection was lost before");
    auto *out = static_cast<uint8_t *>(data);
    size_t got = 0;
    while (got < size) {
        // Rounded up: the deadline is not short of the wait asked for.
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0)
            return false;
        pollfd ready{socket_, POLLIN, 0};
        const int polled = ::poll(&ready, 1, static_cast<int>(std::min<long long>(left, 1000)));
        if (polled < 0 && errno != EINTR)
            fail(std::string("waiting for an answer failed: ") + std::strerror(errno));
        if (polled <= 0)
            continue;
        const ssize_t n = ::recv(socket_, out + got, size - got, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n == 0) {
            closedByStore_ = true;
            fail("the connection was closed (the launcher ended)");
        }
        if (n < 0)
            fail(std::string("receiving failed: ") + std::strerror(errno));
        got += static_cast<size_t>(n);
    }
    return true;
}

void AgentStoreClient::receiveOrThrow(void *data, size_t size)
{
    // An answer that is not a wait comes at once; the store's timeout bounds it all the same.
    if (!receive(data, size, deadlineAfter(timeout_)))
        fail("no answer within " + std::to_string(timeout_.count()) + " ms");
}

std::vector<uint8_t> AgentStoreClient::receiveValue()
{
    uint64_t size = 0;
    receiveOrThrow(&size, sizeof size);
    if (size > kLargestValue)
        fail("an answer of " + std::to_string(size) + " bytes");
    std::vector<uint8_t> value(size);
    receiveOrThrow(value.data(), value.size());
    return value;
}

void AgentStoreClient::setTimeout(const std::chrono::milliseconds &timeout)
{
    const std::lock_guard<std::mutex> lock(mutex_);
    timeout_ = timeout;
}

void AgentStoreClient::set(const std::string &key, const std::vector<uint8_t> &value)
{
    const std::lock_guard<std::mutex> lock(mutex_);
    sendAll(Message(Query::Set).key(key).payload(value).data());
}

std::vector<uint8_t> AgentStoreClient::compareSet(const std::string &key, const std::vector<uint8_t> &currentValue,
                                                  const std::vector<uint8_t> &newValue)
{
    const std::lock_guard<std::mutex> lock(mutex_);
    sendAll(Message(Query::CompareSet).key(key).payload(currentValue).payload(newValue).data());
    return receiveValue();
}

std::vector<uint8_t> AgentStoreClient::get(const std::string &key)
{
    const std::lock_guard<std::mutex> lock(mutex_);
    waitLocked({key}, timeout_);
    sendAll(Message(Query::Get).key(key).data());
    return receiveValue();
}

int64_t AgentStoreClient::add(const std::string &key, int64_t value)
{
    const std::lock_guard<std::mutex> lock(mutex_);
    sendAll(Message(Query::Add).key(key).value<int64_t>(value).data());
    int64_t sum = 0;
    receiveOrThrow(&sum, sizeof sum);
    return sum;
}

bool AgentStoreClient::deleteKey(const std::string &key)
{
    const std::lock_guard<std::mutex> lock(mutex_);
    sendAll(Message(Query::DeleteKey).key(key).data());
    int64_t deleted = 0;
    receiveOrThrow(&deleted, sizeof deleted);
    return deleted == 1;
}

bool AgentStoreClient::check(const std::vector<std::string> &keys)
{
    const std::lock_guard<std::mutex> lock(mutex_);
    sendAll(Message(Query::Check).keys(keys).data());
    uint8_t answer = 0;
    receiveOrThrow(&answer, sizeof answer);
    return answer == kReady;
}

int64_t AgentStoreClient::getNumKeys()
{
    const std::lock_guard<std::mutex> lock(mutex_);
    sendAll(Message(Query::GetNumKeys).data());
    int64_t count = 0;
    receiveOrThrow(&count, sizeof count);
    return count;
}

void AgentStoreClient::wait(const std::vector<std::string> &keys)
{
    wait(keys, timeout_);
}

void AgentStoreClient::wait(const std::vector<std::string> &keys, const std::chrono::milliseconds &timeout)
{
    const std::lock_guard<std::mutex> lock(mutex_);
    waitLocked(keys, timeout);
}

void AgentStoreClient::waitLocked(const std::vector<std::string> &keys, std::chrono::milliseconds timeout)
{
    sendAll(Message(Query::Wait).keys(keys).data());
    uint8_t answer = 0;
    if (receive(&answer, sizeof answer, deadlineAfter(timeout))) {
        if (answer != kStopWaiting)
            fail("an unexpected answer to a wait (" + std::to_string(answer) + ")");
        return;
    }
    // The server still holds the wait: cancel it, so that its late answer does not stand for the
    // next query's. The keys may have come meanwhile: then STOP_WAITING arrives first.
    sendAll(Message(Query::CancelWait).data());
    const auto graceEnd = Clock::now() + kCancelGrace;
    do {
        if (!receive(&answer, sizeof answer, graceEnd))
            fail("no answer to cancelling a wait");
    } while (answer == kStopWaiting);
    if (answer != kWaitCanceled)
        fail("an unexpected answer to cancelling a wait (" + std::to_string(answer) + ")");
    std::string list;
    for (const std::string &k : keys)
        list += (list.empty() ? "" : ", ") + k;
    throw std::runtime_error("the store at " + where_ + ": waiting for " + list + " timed out after " +
                             std::to_string(timeout.count()) + " ms");
}

} // namespace sde

#endif
