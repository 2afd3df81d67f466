#include "nets/score_network.h"

#include "config/model_config.h"
#include "nets/ddpm.h"
#include "nets/layers.h"
#include "nets/ncsnpp.h"
#include "nets/toy_mlp.h"
#include "util/error.h"

#include <algorithm>
#include <cmath>
#include <mutex>

namespace sde {

// models/utils.py get_sigmas: np.exp(np.linspace(np.log(sigma_max), np.log(sigma_min), num_scales)), [N]
torch::Tensor smldSigmas(const NetworkConfig &m)
{
    return torch::exp(torch::linspace(std::log(m.sigmaMax), std::log(m.sigmaMin), m.numScales,
                                      torch::TensorOptions().dtype(torch::kFloat64)));
}

bool hasAttention(const std::vector<int64_t> &attnResolutions, int64_t resolution)
{
    return std::find(attnResolutions.begin(), attnResolutions.end(), resolution) != attnResolutions.end();
}

namespace {

ScoreNetwork buildNetwork(const ModelConfig &config)
{
    if (config.model.name == "ncsnpp")
        return std::make_shared<NcsnppImpl>(config);
    if (config.model.name == "ddpm")
        return std::make_shared<DdpmImpl>(config);
    if (config.model.name == "toy_mlp")
        return std::make_shared<ToyMlpImpl>(config);
    throw Error("unknown network \"" + config.model.name + "\" (expected ncsnpp, ddpm or toy_mlp)");
}

} // namespace

void requireNetworkWithinSize(const ModelConfig &config)
{
    config.validate();
    // A config read from a file is checked when it is read and again when its network is built:
    // remember the last one that passed (the layout-only build costs milliseconds to a second).
    static std::mutex checkedMutex;
    static std::string lastChecked;
    const std::string key = config.toJson().dump();
    {
        std::lock_guard<std::mutex> lock(checkedMutex);
        if (key == lastChecked)
            return;
    }
    int64_t count = 0;
    {
        LayoutOnlyScope layoutOnly;
        try {
            count = parameterCount(*buildNetwork(config));
        } catch (const GroupNormChannelsError &e) {
            // NCSN++ takes min(channels / 4, 32) GroupNorm groups, DDPM 32: some nf * ch_mult
            // (or a sum of two, where skips are concatenated) gives a layer they do not divide.
            throw Error("config key model.nf = " + std::to_string(config.model.nf) +
                        " is out of range: with this ch_mult the network has a layer of " + std::to_string(e.channels) +
                        " channels, which " + std::to_string(e.groups) +
                        " GroupNorm groups do not divide (an nf that is a multiple of 32 always works)");
        }
    }
    if (count > kMostNetworkParameters)
        throw Error("the network would hold " + std::to_string(count) + " parameters (" +
                    std::to_string(count * 4 / 1'000'000'000) + " GB of float32 weights); at most " +
                    std::to_string(kMostNetworkParameters) +
                    " are allowed (model.nf, model.ch_mult and model.num_res_blocks set its size)");
    std::lock_guard<std::mutex> lock(checkedMutex);
    lastChecked = key;
}

// models/utils.py create_model (less its DataParallel wrapper: the checkpoint loader drops the
// `module.` prefix instead).
ScoreNetwork createScoreNetwork(const ModelConfig &config)
{
    if (LayoutOnlyScope::active())
        config.validate();
    else
        requireNetworkWithinSize(config); // validates too
    return buildNetwork(config);
}

namespace {

// nn.Module.state_dict's order: own parameters, own buffers, then each child recursively.
void collectState(const torch::nn::Module &module, const std::string &prefix,
                  std::vector<std::pair<std::string, torch::Tensor>> &out)
{
    for (const auto &item : module.named_parameters(/*recurse=*/false))
        out.emplace_back(prefix + item.key(), item.value());
    for (const auto &item : module.named_buffers(/*recurse=*/false))
        out.emplace_back(prefix + item.key(), item.value());
    for (const auto &child : module.named_children())
        collectState(*child.value(), prefix + child.key() + ".", out);
}

} // namespace

std::vector<std::pair<std::string, torch::Tensor>> stateDict(const torch::nn::Module &module)
{
    std::vector<std::pair<std::string, torch::Tensor>> out;
    collectState(module, "", out);
    return out;
}

std::vector<TensorLayout> networkLayout(const ModelConfig &config, int64_t *parameterCount)
{
    LayoutOnlyScope layoutOnly;
    ScoreNetwork network = createScoreNetwork(config);
    std::vector<TensorLayout> layout;
    for (const auto &[name, tensor] : stateDict(*network))
        layout.push_back({name, tensor.sizes().vec(), tensor.scalar_type()});
    if (parameterCount)
        *parameterCount = sde::parameterCount(*network);
    return layout;
}

} // namespace sde
