#include "data/training_data.h"

#include "util/error.h"

#include <algorithm>
#include <utility>

namespace sde {

std::vector<std::string> TrainingData::takeWarnings()
{
    std::lock_guard<std::mutex> lock(warningsMutex_);
    return std::exchange(warnings_, {});
}

void TrainingData::warn(const std::string &message)
{
    std::lock_guard<std::mutex> lock(warningsMutex_);
    warnings_.push_back(message);
}

uint64_t mixSeed(uint64_t seed, uint64_t a, uint64_t b)
{
    auto splitmix = [](uint64_t x) {
        x += 0x9e3779b97f4a7c15ULL;
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
        return x ^ (x >> 31);
    };
    return splitmix(splitmix(splitmix(seed) ^ a) ^ (b * 0x632be59bd9b4e019ULL));
}

at::Generator seededGenerator(uint64_t seed, uint64_t a, uint64_t b)
{
    at::Generator generator = at::detail::createCPUGenerator();
    // The CPU generator keeps 64 bits of seed; keep it positive for printing.
    generator.set_current_seed(mixSeed(seed, a, b) >> 1);
    return generator;
}

int64_t IndexedTrainingData::indexAt(int64_t position, uint64_t seed)
{
    const int64_t n = size();
    const int64_t epoch = position / n;
    if (epoch != cachedEpoch_) {
        permutation_ =
            torch::randperm(n, seededGenerator(seed, 0x5045524dULL /* "PERM" */, static_cast<uint64_t>(epoch)),
                            torch::TensorOptions().dtype(torch::kLong));
        cachedEpoch_ = epoch;
    }
    return permutation_.data_ptr<int64_t>()[position % n];
}

TrainingBatch IndexedTrainingData::batch(int64_t step, int64_t batchSize, uint64_t seed)
{
    const int64_t n = size();
    if (n <= 0)
        throw Error(description() + ": there are no examples to train on");
    TrainingBatch out;
    out.step = step;
    std::vector<torch::Tensor> examples;
    std::vector<int64_t> labels;
    // Positions past a batch's own are taken when examples are skipped; the next batch still
    // starts at its own position so that skipping never shifts the order of later steps.
    int64_t position = step * batchSize;
    int64_t misses = 0;
    while (static_cast<int64_t>(examples.size()) < batchSize) {
        int64_t label = -1;
        torch::Tensor item = example(indexAt(position++, seed), &label);
        if (!item.defined()) {
            if (++misses > n)
                throw Error(description() + ": none of the examples could be read");
            continue;
        }
        examples.push_back(item);
        labels.push_back(label);
    }
    out.examples = torch::stack(examples);
    if (randomFlip_) {
        at::Generator generator = seededGenerator(seed, 0x464c4950ULL /* "FLIP" */, static_cast<uint64_t>(step));
        torch::Tensor flip = torch::rand({batchSize}, generator) < 0.5;
        out.examples = torch::where(flip.view({-1, 1, 1, 1}), out.examples.flip({3}), out.examples);
    }
    if (classCount() > 0)
        out.labels = torch::tensor(labels, torch::kLong);
    return out;
}

BatchPrefetcher::BatchPrefetcher(TrainingData &data, int64_t batchSize, uint64_t seed, int64_t firstStep, int depth,
                                 bool pinMemory)
    : data_(data), batchSize_(batchSize), seed_(seed), nextStep_(firstStep),
      depth_(static_cast<size_t>(std::max(1, depth))), pinMemory_(pinMemory)
{
    thread_ = std::thread([this] { run(); });
}

BatchPrefetcher::~BatchPrefetcher()
{
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    changed_.notify_all();
    thread_.join();
}

void BatchPrefetcher::run()
{
    int64_t step = nextStep_;
    for (;;) {
        {
            std::unique_lock<std::mutex> lock(mutex_);
            changed_.wait(lock, [&] { return stopping_ || ready_.size() < depth_; });
            if (stopping_)
                return;
        }
        TrainingBatch batch;
        try {
            batch = data_.batch(step++, batchSize_, seed_);
            if (pinMemory_) {
                batch.examples = batch.examples.contiguous().pin_memory();
                if (batch.labels.defined())
                    batch.labels = batch.labels.contiguous().pin_memory();
            }
        } catch (...) {
            std::lock_guard<std::mutex> lock(mutex_);
            error_ = std::current_exception();
            changed_.notify_all();
            return;
        }
        std::lock_guard<std::mutex> lock(mutex_);
        ready_.push_back(std::move(batch));
        changed_.notify_all();
    }
}

TrainingBatch BatchPrefetcher::next()
{
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return !ready_.empty() || error_; });
    if (ready_.empty())
        std::rethrow_exception(error_);
    TrainingBatch batch = std::move(ready_.front());
    ready_.pop_front();
    changed_.notify_all();
    return batch;
}

} // namespace sde
