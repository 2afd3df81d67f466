#include "train/training_task.h"

#include "io/classifier_file.h"
#include "io/model_file.h"
#include "sampling/pc_sampler.h"
#include "train/losses.h"
#include "train/training_mode_guard.h"
#include "util/error.h"

namespace sde {

namespace {

// The reference's uniform dequantization: (x * 255 + U[0, 1)) / 256.
torch::Tensor dequantize(const torch::Tensor &x01, at::Generator &generator)
{
    torch::Tensor noise = torch::rand(x01.sizes(), generator, x01.options().device(torch::kCPU)).to(x01.device());
    return (x01 * 255.0 + noise) / 256.0;
}

} // namespace

ScoreTrainingTask::ScoreTrainingTask(const ModelConfig &config)
    : model_(std::make_unique<ScoreModel>(config, createScoreNetwork(config)))
{}

ScoreTrainingTask::ScoreTrainingTask(std::unique_ptr<ScoreModel> model) : model_(std::move(model))
{}

torch::Tensor ScoreTrainingTask::loss(const TrainingBatch &batch, at::Generator &generator, double * /*accuracy*/,
                                      BatchSlice rows)
{
    torch::Tensor x = batch.examples.to(model_->device());
    if (model_->config().data.uniformDequantization)
        x = dequantize(x, generator);
    return configuredLoss(*model_, model_->scaler(x), generator, rows);
}

void ScoreTrainingTask::exportModel(const std::string &path, bool halfPrecision,
                                    const std::map<std::string, std::string> &metadata)
{
    saveModelFile(path, *model_, "ema", metadata, halfPrecision);
}

torch::Tensor ScoreTrainingTask::snapshot(int64_t count, uint64_t seed, int64_t steps)
{
    // The reverse-diffusion predictor alone, on a coarse grid: a preview, not a final sample.
    PcSamplerOptions options = PcSamplerOptions::fromConfig(model_->config());
    options.steps = steps;
    options.corrector = "none";
    if (options.predictor == "none")
        options.predictor = "reverse_diffusion";
    // Fewer steps than the VP SDE's DDPM schedule allows: Euler-Maruyama follows the continuous
    // SDE and takes any number.
    if (steps < minimumPcSteps(model_->config(), options))
        options.predictor = "euler_maruyama";
    // Evaluation mode for the preview, and the mode it had afterwards, also when sampling fails.
    TrainingModeGuard mode(*model_->network());
    model_->setTraining(false);
    return pcSample(*model_, count, seed, options).samples;
}

ClassifierTrainingTask::ClassifierTrainingTask(const ClassifierConfig &classifier)
    : network_(NoiseConditionalClassifier(classifier)), sde_(createSde(classifier.scoreConfig))
{}

Json ClassifierTrainingTask::definition() const
{
    return network_->config().toJson();
}

void ClassifierTrainingTask::to(torch::Device device)
{
    network_->to(device);
}

torch::Tensor ClassifierTrainingTask::loss(const TrainingBatch &batch, at::Generator &generator, double *accuracy,
                                           BatchSlice rows)
{
    if (!batch.labels.defined())
        throw Error("the classifier trains on labelled data; this data has no labels");
    const torch::Device device = network_->parameters().front().device();
    const DataConfig &data = network_->config().scoreConfig.data;
    torch::Tensor x0 = batch.examples.to(device);
    if (data.uniformDequantization)
        x0 = dequantize(x0, generator);
    if (data.centered)
        x0 = x0 * 2.0 - 1.0;
    const int64_t b = x0.size(0);
    const auto cpu = torch::TensorOptions().dtype(torch::kFloat32);
    const double eps = network_->config().scoreConfig.samplingEps();
    if (rows.begin < 0 || rows.end > b || rows.size() < 1)
        throw Error("rows " + std::to_string(rows.begin) + " to " + std::to_string(rows.end) +
                    " are not rows of a batch of " + std::to_string(b));
    // The whole batch's draws, narrowed to the rows (see TrainingTask::loss).
    const auto share = [&](const torch::Tensor &tensor) { return tensor.narrow(0, rows.begin, rows.size()); };
    torch::Tensor t = share(torch::rand({b}, generator, cpu) * (1.0 - eps) + eps).to(device);
    torch::Tensor z = share(torch::randn(x0.sizes(), generator, cpu)).to(device);
    x0 = share(x0);
    torch::Tensor xt = sde_->meanCoefficient(t).view({-1, 1, 1, 1}) * x0 + sde_->marginalStd(t).view({-1, 1, 1, 1}) * z;
    torch::Tensor logits = network_->forward(xt, t);
    torch::Tensor labels = share(batch.labels).to(device);
    if (accuracy) {
        torch::NoGradGuard noGrad;
        *accuracy = logits.argmax(1).eq(labels).to(torch::kFloat32).mean().item<double>();
    }
    return torch::nn::functional::cross_entropy(logits, labels);
}

void ClassifierTrainingTask::exportModel(const std::string &path, bool halfPrecision,
                                         const std::map<std::string, std::string> &metadata)
{
    saveClassifierFile(path, *network_, metadata, halfPrecision);
}

} // namespace sde
