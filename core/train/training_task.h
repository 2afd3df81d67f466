#pragma once

#include "data/training_data.h"
#include "model/score_model.h"
#include "nets/noise_classifier.h"
#include "util/json_fields.h"

#include <map>
#include <memory>
#include <string>

namespace sde {

// What the trainer trains: a network, its objective and how the finished model is written.
// The trainer owns the loop (optimizer, EMA, checkpoints, metrics); a task knows the model.
class TrainingTask {
public:
    virtual ~TrainingTask() = default;

    // "score" or "classifier": checkpoints of one kind never resume the other.
    virtual std::string kind() const = 0;
    virtual torch::nn::Module &module() = 0;
    // The optimizer, warm-up, clipping and EMA settings (the config's optim and model sections).
    virtual const ModelConfig &config() const = 0;
    // Everything that defines the model (stored in checkpoints; a resume must match it).
    virtual Json definition() const = 0;
    // A stored definition read back through this version's parser, so that fields added since
    // it was written (with their defaults) do not count as a different model.
    virtual Json normalizedDefinition(const Json &stored) const = 0;
    virtual void to(torch::Device device) = 0;

    // The mean loss of rows `rows` of a batch in training mode, drawing the times and noise of
    // the whole batch from `generator` (a CPU generator: draws are the same on every device), so
    // that a row's loss does not depend on how the batch is split over processes and
    // micro-batches. `accuracy`, when the task has one, receives the rows' accuracy.
    virtual torch::Tensor loss(const TrainingBatch &batch, at::Generator &generator, double *accuracy,
                               BatchSlice rows) = 0;

    // Writes the usable model (with the weights the module holds now) to `path`, atomically.
    virtual void exportModel(const std::string &path, bool halfPrecision,
                             const std::map<std::string, std::string> &metadata) = 0;

    // Samples [count, C, H, W] in [0, 1] (points as [count, D, 1, 1]) from the weights the
    // module holds, for the previews of a run; undefined when the task has none. Leaves the
    // module in the training mode it had, also when it throws (sde::Error for sampler settings
    // it cannot run, e.g. fewer steps than the sampler takes).
    virtual torch::Tensor snapshot(int64_t /*count*/, uint64_t /*seed*/, int64_t /*steps*/) { return {}; }
};

// Trains a score model with the loss its config names (continuous DSM, SMLD or DDPM).
class ScoreTrainingTask : public TrainingTask {
public:
    explicit ScoreTrainingTask(const ModelConfig &config);
    // Continues from an existing network (fine-tuning).
    explicit ScoreTrainingTask(std::unique_ptr<ScoreModel> model);

    std::string kind() const override { return "score"; }
    torch::nn::Module &module() override { return *model_->network(); }
    const ModelConfig &config() const override { return model_->config(); }
    Json definition() const override { return model_->config().toJson(); }
    Json normalizedDefinition(const Json &stored) const override { return ModelConfig::fromJson(stored).toJson(); }
    void to(torch::Device device) override { model_->to(device); }
    torch::Tensor loss(const TrainingBatch &batch, at::Generator &generator, double *accuracy,
                       BatchSlice rows) override;
    void exportModel(const std::string &path, bool halfPrecision,
                     const std::map<std::string, std::string> &metadata) override;
    torch::Tensor snapshot(int64_t count, uint64_t seed, int64_t steps) override;

    const ScoreModel &model() const { return *model_; }

private:
    std::unique_ptr<ScoreModel> model_;
};

// Trains a noise-conditional classifier p_t(y | x_t): cross-entropy on x_t = mean(x0, t) +
// std(t) z of its score model's SDE, t ~ U[eps, 1).
class ClassifierTrainingTask : public TrainingTask {
public:
    // The score config inside supplies the SDE, the data layout and the optimizer settings
    // (optim section, model.ema_rate, training.batch_size).
    explicit ClassifierTrainingTask(const ClassifierConfig &classifier);

    std::string kind() const override { return "classifier"; }
    torch::nn::Module &module() override { return *network_; }
    const ModelConfig &config() const override { return network_->config().scoreConfig; }
    Json definition() const override;
    Json normalizedDefinition(const Json &stored) const override { return ClassifierConfig::fromJson(stored).toJson(); }
    void to(torch::Device device) override;
    torch::Tensor loss(const TrainingBatch &batch, at::Generator &generator, double *accuracy,
                       BatchSlice rows) override;
    void exportModel(const std::string &path, bool halfPrecision,
                     const std::map<std::string, std::string> &metadata) override;

    NoiseConditionalClassifierImpl &network() { return *network_; }

private:
    NoiseConditionalClassifier network_{nullptr};
    std::unique_ptr<Sde> sde_;
};

} // namespace sde
