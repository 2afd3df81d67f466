#pragma once

#include <torch/torch.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sde {

// One training batch: examples [B, C, H, W] in [0, 1] (points of a toy model as [B, D, 1, 1]
// in their own coordinates) and, where the data has them, class labels [B] (int64).
struct TrainingBatch {
    int64_t step = 0;
    torch::Tensor examples;
    torch::Tensor labels;
};

// Rows [begin, end) of a batch: the share of one process and micro-batch in data-parallel
// training (train/data_parallel.h).
struct BatchSlice {
    int64_t begin = 0;
    int64_t end = 0;
    int64_t size() const { return end - begin; }
    // All rows of a batch of `rows`.
    static BatchSlice all(int64_t rows) { return {0, rows}; }
};

// A source of training batches whose batch for a step is a function of (seed, step) alone: the
// data order, flips and crops are drawn from generators seeded from both, so a run resumed at
// step k sees exactly the batches an uninterrupted run would have seen.
class TrainingData {
public:
    virtual ~TrainingData() = default;

    virtual std::string description() const = 0;
    // The shape of one example: {C, H, W}.
    virtual std::vector<int64_t> exampleShape() const = 0;
    // The number of classes when the examples have labels, else 0.
    virtual int64_t classCount() const { return 0; }

    virtual TrainingBatch batch(int64_t step, int64_t batchSize, uint64_t seed) = 0;

    // Problems met since the last call (a skipped file, named), for the caller to report.
    std::vector<std::string> takeWarnings();

protected:
    void warn(const std::string &message);

private:
    std::mutex warningsMutex_;
    std::vector<std::string> warnings_;
};

// A finite set of examples read by index. Batches walk a fresh random permutation each epoch
// (position p of the stream is example perm_e[p mod N] with e = p / N); an example that cannot
// be read is skipped (with a warning naming it, once) and the next position is used instead.
class IndexedTrainingData : public TrainingData {
public:
    // `randomFlip`: flip each example horizontally with probability 1/2.
    explicit IndexedTrainingData(bool randomFlip) : randomFlip_(randomFlip) {}

    virtual int64_t size() const = 0;
    // Example `index` as [C, H, W] in [0, 1], and its label (-1 without); an undefined tensor
    // when it cannot be read (after warning).
    virtual torch::Tensor example(int64_t index, int64_t *label) = 0;

    TrainingBatch batch(int64_t step, int64_t batchSize, uint64_t seed) override;

private:
    int64_t indexAt(int64_t position, uint64_t seed);

    bool randomFlip_;
    int64_t cachedEpoch_ = -1;
    torch::Tensor permutation_;
};

// A well-mixed 64-bit seed from a run's seed and a stream's numbers (splitmix64).
uint64_t mixSeed(uint64_t seed, uint64_t a, uint64_t b = 0);
// A CPU generator seeded with mixSeed(seed, a, b).
at::Generator seededGenerator(uint64_t seed, uint64_t a, uint64_t b = 0);

// Computes the batches of the coming steps on a thread of its own, `depth` ahead, so that
// reading and decoding never stall a training step. Errors of the loader reach next().
class BatchPrefetcher {
public:
    // `pinMemory`: the worker also copies each batch into page-locked memory (for an asynchronous
    // copy to a CUDA device; needs a CUDA build with a GPU).
    BatchPrefetcher(TrainingData &data, int64_t batchSize, uint64_t seed, int64_t firstStep, int depth = 3,
                    bool pinMemory = false);
    ~BatchPrefetcher();
    BatchPrefetcher(const BatchPrefetcher &) = delete;
    BatchPrefetcher &operator=(const BatchPrefetcher &) = delete;

    // The batch of the next step, in order.
    TrainingBatch next();

private:
    void run();

    TrainingData &data_;
    int64_t batchSize_;
    uint64_t seed_;
    int64_t nextStep_;
    size_t depth_;
    bool pinMemory_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::deque<TrainingBatch> ready_;
    std::exception_ptr error_;
    bool stopping_ = false;
    std::thread thread_;
};

} // namespace sde
