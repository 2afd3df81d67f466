#pragma once

// A client of the c10d TCPStore that torchrun's agent serves to its workers
// (TORCHELASTIC_USE_AGENT_STORE), for a LibTorch whose own TCPStore client predates the agent's
// protocol. PyTorch's stores since 2.2 (pytorch/pytorch#107607; the tests use the 2.11 wheel's,
// 2.15's was tried too) expect every connection to open with a validation message (the query
// type VALIDATE and a magic number) and number their queries from there, so LibTorch 1.13's
// client, which starts with SET, is never answered. This client speaks that protocol
// (torch/csrc/distributed/c10d/TCPStoreBackend.hpp and the stores' request parsers): a query type
// byte, then keys and values each as a 64-bit length and its bytes, integers in the host's byte
// order; every key with the "/" TCPStore's clients put before it. It is a c10d::Store, so
// ProcessGroupGloo and PrefixStore use it as they use a TCPStore. Not for LibTorch 2.x, whose
// TCPStore speaks the protocol itself. The agents of PyTorch 2.1 and older speak the protocol of
// LibTorch 1.13's own client: the constructor tells them apart (LegacyAgentStoreError).

#include <torch/version.h>

#if TORCH_VERSION_MAJOR < 2

#include <torch/csrc/distributed/c10d/Store.hpp>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace sde {

// Thrown by AgentStoreClient's constructor when the store closed the connection on the
// validation query: a launcher of PyTorch 2.1 or older, whose store LibTorch 1.13's own TCPStore
// client speaks to. The store serves its other clients as before.
class LegacyAgentStoreError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class AgentStoreClient : public c10d::Store {
public:
    // Connects to host:port, retrying until `timeout` (the agent may still be starting), and
    // validates the connection, the store showing it took it within the same `timeout`. Throws
    // LegacyAgentStoreError when the store closed the connection instead, std::runtime_error naming the
    // address when no connection could be made or the store did not answer. `timeout` also bounds
    // each wait (get, wait) as in a TCPStore; 0 (kNoTimeout) waits without end.
    AgentStoreClient(const std::string &host, uint16_t port, std::chrono::milliseconds timeout);
    ~AgentStoreClient() override;
    AgentStoreClient(const AgentStoreClient &) = delete;
    AgentStoreClient &operator=(const AgentStoreClient &) = delete;

    // Between queries (a query in flight keeps the timeout it started with).
    void setTimeout(const std::chrono::milliseconds &timeout) override;
    void set(const std::string &key, const std::vector<uint8_t> &value) override;
    std::vector<uint8_t> compareSet(const std::string &key, const std::vector<uint8_t> &currentValue,
                                    const std::vector<uint8_t> &newValue) override;
    // Waits for the key (up to the store's timeout), then reads it, as TCPStore::get does.
    std::vector<uint8_t> get(const std::string &key) override;
    int64_t add(const std::string &key, int64_t value) override;
    bool deleteKey(const std::string &key) override;
    bool check(const std::vector<std::string> &keys) override;
    int64_t getNumKeys() override;
    void wait(const std::vector<std::string> &keys) override;
    // Throws std::runtime_error ("... timed out ...") when the keys are not all set within
    // `timeout`; the server is told to stop waiting, and the connection stays usable.
    void wait(const std::vector<std::string> &keys, const std::chrono::milliseconds &timeout) override;

private:
    void sendAll(const std::vector<uint8_t> &message);
    // Reads exactly `size` bytes by `deadline`; false when the deadline passed first.
    bool receive(void *data, size_t size, std::chrono::steady_clock::time_point deadline);
    void receiveOrThrow(void *data, size_t size);
    // A value answered: its 64-bit length, then its bytes.
    std::vector<uint8_t> receiveValue();
    void waitLocked(const std::vector<std::string> &keys, std::chrono::milliseconds timeout);
    [[noreturn]] void fail(const std::string &what);

    std::string where_; // host:port, for messages
    int socket_ = -1;
    bool closedByStore_ = false; // set when the store closed the connection
    std::mutex mutex_;           // one query and its answer at a time
};

} // namespace sde

#endif
