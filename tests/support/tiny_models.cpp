#include "tiny_models.h"

#include "config/presets.h"

namespace sde::test {

ModelConfig shrunkConfig(const ModelConfig &config)
{
    ModelConfig tiny = config;
    if (!tiny.isPointModel()) {
        tiny.data.imageSize = 8;
        tiny.model.chMult = {1, 2};
        if (!tiny.model.attnResolutions.empty())
            tiny.model.attnResolutions = {4};
        tiny.model.nf = tiny.model.name == "ddpm" ? 32 : 8;
    }
    tiny.model.numResBlocks = 1;
    // Few noise scales, except where NCSN++'s positional embedding looks its sigma up at the time
    // label 999 t (continuous VP and sub-VP; ModelConfig::validate explains).
    const bool labels999 =
        tiny.training.sde != "vesde" && (tiny.training.continuous || tiny.training.sde == "subvpsde");
    if (!(tiny.model.name == "ncsnpp" && tiny.model.embeddingType == "positional" && labels999))
        tiny.model.numScales = 50;
    tiny.training.batchSize = 4;
    tiny.training.nIters = 1;
    tiny.optim.warmup = 0;
    tiny.validate();
    return tiny;
}

TrainingBatch RandomImages::batch(int64_t step, int64_t batchSize, uint64_t seed)
{
    at::Generator generator = seededGenerator(seed, 0x494d4753ULL /* "IMGS" */, static_cast<uint64_t>(step));
    std::vector<int64_t> shape = shape_;
    shape.insert(shape.begin(), batchSize);
    TrainingBatch out;
    out.step = step;
    out.examples = torch::rand(shape, generator);
    return out;
}

ModelConfig toyConfig()
{
    ModelConfig config = loadPreset("vp/cifar10_ddpmpp_continuous");
    config.model.name = "toy_mlp";
    config.model.nf = 32;
    config.model.numResBlocks = 1;
    config.model.emaRate = 0.99;
    config.data.imageSize = 1;
    config.data.numChannels = 2;
    config.data.centered = false;
    config.data.randomFlip = false;
    config.training.batchSize = 64;
    config.optim.lr = 1e-3;
    config.optim.warmup = 10;
    config.validate();
    return config;
}

ModelConfig tinyImageConfig()
{
    ModelConfig config = loadPreset("vp/cifar10_ddpmpp_continuous");
    config.data.imageSize = 8;
    config.data.numChannels = 1;
    config.model.nf = 8;
    config.model.chMult = {1, 2};
    config.model.numResBlocks = 1;
    config.model.attnResolutions = {4};
    config.model.dropout = 0.1;
    config.training.batchSize = 4;
    config.optim.warmup = 2;
    config.validate();
    return config;
}

TrainerOptions optionsIn(const std::string &folder, int64_t steps)
{
    TrainerOptions options;
    options.outDir = folder;
    options.steps = steps;
    options.checkpointEvery = 1000;
    options.logEvery = 1;
    options.seed = 5;
    return options;
}

} // namespace sde::test
