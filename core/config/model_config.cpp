#include "config/model_config.h"

#include "nets/score_network.h"
#include "sde/sde_catalogue.h"
#include "util/error.h"
#include "util/failure_message.h"
#include "util/files.h"
#include "util/nearest_name.h"
#include "util/number_text.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>

namespace sde {

namespace {

// Typed readers over one section: each takes the reference default when the key is missing (or
// null) and names "config key section.key" in its error.
class Section {
public:
    Section(const Json &document, std::string name) : name_(std::move(name))
    {
        if (const Json *section = json::find(document, name_)) {
            if (!section->is_object())
                throw Error("config section \"" + name_ + "\" must be an object");
            json_ = section;
        }
    }

    bool boolean(const char *key, bool fallback) const
    {
        const Json *value = find(key);
        return value ? json::toBool(*value, name(key)) : fallback;
    }
    double number(const char *key, double fallback) const
    {
        const Json *value = find(key);
        return value ? json::toDouble(*value, name(key)) : fallback;
    }
    int64_t integer(const char *key, int64_t fallback) const
    {
        const Json *value = find(key);
        return value ? json::toInt64(*value, name(key)) : fallback;
    }
    std::string text(const char *key, const std::string &fallback) const
    {
        const Json *value = find(key);
        return value ? json::toString(*value, name(key)) : fallback;
    }
    std::string lowerText(const char *key, const std::string &fallback) const
    {
        std::string s = text(key, fallback);
        std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
        return s;
    }
    std::vector<int64_t> integers(const char *key, const std::vector<int64_t> &fallback) const
    {
        const Json *value = find(key);
        if (!value)
            return fallback;
        std::vector<int64_t> out;
        for (const Json &item : json::toArray(*value, name(key)))
            out.push_back(json::toInt64(item, name(key) + "[" + std::to_string(out.size()) + "]"));
        return out;
    }
    std::vector<double> numbers(const char *key, const std::vector<double> &fallback) const
    {
        const Json *value = find(key);
        if (!value)
            return fallback;
        std::vector<double> out;
        for (const Json &item : json::toArray(*value, name(key)))
            out.push_back(json::toDouble(item, name(key) + "[" + std::to_string(out.size()) + "]"));
        return out;
    }

    // The section's keys that no reader above asked for, in the file's order.
    std::vector<std::string> unread() const
    {
        std::vector<std::string> keys;
        if (json_)
            for (auto it = json_->begin(); it != json_->end(); ++it)
                if (!read_.count(it.key()))
                    keys.push_back(it.key());
        return keys;
    }
    const std::string &sectionName() const { return name_; }
    std::vector<std::string> asked() const { return {read_.begin(), read_.end()}; }

private:
    const Json *find(const char *key) const
    {
        read_.insert(key);
        const Json *value = json_ ? json::find(*json_, key) : nullptr;
        return value && !value->is_null() ? value : nullptr;
    }
    std::string name(const char *key) const { return "config key " + name_ + "." + key; }

    std::string name_;
    const Json *json_ = nullptr;
    mutable std::set<std::string> read_; // what the readers asked for
};

// The largest sigma_max taken: 10^6, about 740 times the reference's largest.
constexpr double kMostSigmaMax = 1e6;

[[noreturn]] void outOfRange(const std::string &key, const std::string &value, const std::string &rule)
{
    throw Error("config key " + key + " = " + value + " is out of range: " + rule);
}

std::string show(double v)
{
    return numberText(v);
}

void requireOneOf(const std::string &key, const std::string &value, const std::vector<std::string> &allowed)
{
    std::string list;
    for (const std::string &option : allowed) {
        if (value == option)
            return;
        list += list.empty() ? option : std::string(", ") + option;
    }
    outOfRange(key, "\"" + value + "\"", "must be one of " + list);
}

// The keys the reference's configs carry that SDE Studio reads nowhere, by section ("" is the
// top level; "eval" is the reference's alone, read over whole). The keys SDE Studio reads are
// those its Section readers ask for: together they load a reference config without a word.
const std::map<std::string, std::vector<std::string>> &referenceOnlyKeys()
{
    static const std::map<std::string, std::vector<std::string>> keys = {
        {"", {"data", "model", "training", "sampling", "optim", "eval", "seed", "device"}},
        {"data", {"tfrecords_path", "category", "channels"}},
        {"model", {"sigma_begin", "attention_type"}},
        {"training",
         {"log_freq", "eval_freq", "snapshot_freq", "snapshot_freq_for_preemption", "snapshot_sampling",
          "n_jitted_steps"}},
        {"sampling", {}},
        {"optim", {}},
    };
    return keys;
}

// Names in a warning each (the first five, after a line counting them all, when there are more)
// the keys of `unread` (of `section`; "" for the top level) that neither a reader asked for nor
// the reference carries, with the nearest of `known` and the reference's keys when one is near:
// a slip such as "sampling.snrr" otherwise left the sampler at its default.
void warnOfUnknownKeys(const std::string &section, const std::vector<std::string> &unread,
                       std::vector<std::string> known)
{
    const std::vector<std::string> &referenceOnly = referenceOnlyKeys().at(section);
    known.insert(known.end(), referenceOnly.begin(), referenceOnly.end());
    const std::string prefix = section.empty() ? "" : section + ".";
    // A few named, the rest counted: a file of thousands of keys is not thousands of lines.
    constexpr size_t kMostNamed = 5;
    std::vector<std::string> unknown;
    for (const std::string &key : unread)
        if (std::find(referenceOnly.begin(), referenceOnly.end(), key) == referenceOnly.end())
            unknown.push_back(key);
    if (unknown.size() > kMostNamed) {
        spdlog::warn("config section {} holds {} keys that neither SDE Studio nor the reference reads; they are "
                     "ignored (the first {} follow)",
                     section.empty() ? std::string("(top level)") : section, unknown.size(), kMostNamed);
        unknown.resize(kMostNamed);
    }
    for (const std::string &key : unknown) {
        const std::optional<std::string> nearest = nearestName(key, known);
        spdlog::warn("config key {} is not one SDE Studio or the reference reads; it is ignored{}",
                     printable(quoted(prefix + key)),
                     nearest ? " (did you mean " + prefix + *nearest + "?)" : std::string());
    }
}

} // namespace

ModelConfig ModelConfig::fromJson(const Json &document)
{
    if (!document.is_object())
        throw Error("a model config must be a JSON object with sections data, model, training");
    if (!document.contains("model"))
        throw Error("config has no \"model\" section");
    ModelConfig c;
    c.source = document;

    // The reference seeds its runs with it; SDE Studio's training takes its seed from --seed (or
    // the Train tab), its streams being its own. Checked, so that a config stays one the reference runs.
    if (const Json *seed = json::find(document, "seed"))
        if (!seed->is_null())
            json::toUint64(*seed, "config key seed");

    Section data(document, "data");
    c.data.dataset = data.text("dataset", c.data.dataset);
    c.data.imageSize = data.integer("image_size", c.data.imageSize);
    c.data.numChannels = data.integer("num_channels", c.data.numChannels);
    c.data.centered = data.boolean("centered", c.data.centered);
    c.data.uniformDequantization = data.boolean("uniform_dequantization", c.data.uniformDequantization);
    c.data.randomFlip = data.boolean("random_flip", c.data.randomFlip);

    Section model(document, "model");
    NetworkConfig &m = c.model;
    m.name = model.lowerText("name", m.name);
    m.nf = model.integer("nf", m.nf);
    m.chMult = model.integers("ch_mult", m.chMult);
    m.numResBlocks = model.integer("num_res_blocks", m.numResBlocks);
    m.attnResolutions = model.integers("attn_resolutions", m.attnResolutions);
    // Keys the reference's configs carry that our networks have one value for: read, so that a
    // config asking for another is refused instead of silently given the usual network.
    if (const int64_t convSize = model.integer("conv_size", 3); convSize != 3)
        outOfRange("model.conv_size", std::to_string(convSize),
                   "must be 3 (NCSN++, DDPM++ and DDPM use 3 x 3 convolutions, as in the reference)");
    requireOneOf("model.normalization", model.lowerText("normalization", "groupnorm"), {"groupnorm"});
    m.dropout = model.number("dropout", m.dropout);
    m.resampWithConv = model.boolean("resamp_with_conv", m.resampWithConv);
    m.conditional = model.boolean("conditional", m.conditional);
    m.fir = model.boolean("fir", m.fir);
    m.firKernel = model.numbers("fir_kernel", m.firKernel);
    m.skipRescale = model.boolean("skip_rescale", m.skipRescale);
    m.resblockType = model.lowerText("resblock_type", m.resblockType);
    m.progressive = model.lowerText("progressive", m.progressive);
    m.progressiveInput = model.lowerText("progressive_input", m.progressiveInput);
    m.progressiveCombine = model.lowerText("progressive_combine", m.progressiveCombine);
    m.embeddingType = model.lowerText("embedding_type", m.embeddingType);
    m.fourierScale = model.number("fourier_scale", m.fourierScale);
    m.initScale = model.number("init_scale", m.initScale);
    m.scaleBySigma = model.boolean("scale_by_sigma", m.scaleBySigma);
    m.nonlinearity = model.lowerText("nonlinearity", m.nonlinearity);
    m.sigmaMin = model.number("sigma_min", m.sigmaMin);
    m.sigmaMax = model.number("sigma_max", m.sigmaMax);
    m.betaMin = model.number("beta_min", m.betaMin);
    m.betaMax = model.number("beta_max", m.betaMax);
    m.numScales = model.integer("num_scales", m.numScales);
    m.emaRate = model.number("ema_rate", m.emaRate);

    Section training(document, "training");
    c.training.sde = training.lowerText("sde", c.training.sde);
    c.training.continuous = training.boolean("continuous", c.training.continuous);
    c.training.reduceMean = training.boolean("reduce_mean", c.training.reduceMean);
    c.training.likelihoodWeighting = training.boolean("likelihood_weighting", c.training.likelihoodWeighting);
    c.training.batchSize = training.integer("batch_size", c.training.batchSize);
    c.training.nIters = training.integer("n_iters", c.training.nIters);

    Section sampling(document, "sampling");
    c.sampling.method = sampling.lowerText("method", c.sampling.method);
    c.sampling.predictor = sampling.lowerText("predictor", c.sampling.predictor);
    c.sampling.corrector = sampling.lowerText("corrector", c.sampling.corrector);
    c.sampling.snr = sampling.number("snr", c.sampling.snr);
    c.sampling.nStepsEach = sampling.integer("n_steps_each", c.sampling.nStepsEach);
    c.sampling.noiseRemoval = sampling.boolean("noise_removal", c.sampling.noiseRemoval);
    c.sampling.probabilityFlow = sampling.boolean("probability_flow", c.sampling.probabilityFlow);

    Section optim(document, "optim");
    c.optim.optimizer = optim.text("optimizer", c.optim.optimizer);
    c.optim.lr = optim.number("lr", c.optim.lr);
    c.optim.beta1 = optim.number("beta1", c.optim.beta1);
    c.optim.eps = optim.number("eps", c.optim.eps);
    c.optim.weightDecay = optim.number("weight_decay", c.optim.weightDecay);
    c.optim.warmup = optim.integer("warmup", c.optim.warmup);
    c.optim.gradClip = optim.number("grad_clip", c.optim.gradClip);
    // Read so that a config asking for AMSGrad is refused instead of trained with plain Adam.
    if (optim.boolean("amsgrad", false))
        outOfRange("optim.amsgrad", "true",
                   "must be false (SDE Studio trains with Adam, as the reference's configs do)");

    // Unknown keys, once every reader has asked for its own.
    std::vector<std::string> topLevel;
    for (auto it = document.begin(); it != document.end(); ++it)
        topLevel.push_back(it.key());
    warnOfUnknownKeys("", topLevel, {});
    for (const Section *section : {&data, &model, &training, &sampling, &optim}) {
        // A reader's key counts as known in nearest-name suggestions whether or not the file has it.
        std::vector<std::string> known = section->asked();
        warnOfUnknownKeys(section->sectionName(), section->unread(), known);
    }

    c.validate();
    return c;
}

Json ModelConfig::toJson() const
{
    Json out = source.is_object() ? source : Json::object();
    Json &d = out["data"];
    d["dataset"] = data.dataset;
    d["image_size"] = data.imageSize;
    d["num_channels"] = data.numChannels;
    d["centered"] = data.centered;
    d["uniform_dequantization"] = data.uniformDequantization;
    d["random_flip"] = data.randomFlip;
    Json &m = out["model"];
    m["name"] = model.name;
    m["nf"] = model.nf;
    m["ch_mult"] = model.chMult;
    m["num_res_blocks"] = model.numResBlocks;
    m["attn_resolutions"] = model.attnResolutions;
    m["dropout"] = model.dropout;
    m["resamp_with_conv"] = model.resampWithConv;
    m["conditional"] = model.conditional;
    m["fir"] = model.fir;
    m["fir_kernel"] = model.firKernel;
    m["skip_rescale"] = model.skipRescale;
    m["resblock_type"] = model.resblockType;
    m["progressive"] = model.progressive;
    m["progressive_input"] = model.progressiveInput;
    m["progressive_combine"] = model.progressiveCombine;
    m["embedding_type"] = model.embeddingType;
    m["fourier_scale"] = model.fourierScale;
    m["init_scale"] = model.initScale;
    m["scale_by_sigma"] = model.scaleBySigma;
    m["nonlinearity"] = model.nonlinearity;
    m["sigma_min"] = model.sigmaMin;
    m["sigma_max"] = model.sigmaMax;
    m["beta_min"] = model.betaMin;
    m["beta_max"] = model.betaMax;
    m["num_scales"] = model.numScales;
    m["ema_rate"] = model.emaRate;
    Json &t = out["training"];
    t["sde"] = training.sde;
    t["continuous"] = training.continuous;
    t["reduce_mean"] = training.reduceMean;
    t["likelihood_weighting"] = training.likelihoodWeighting;
    t["batch_size"] = training.batchSize;
    t["n_iters"] = training.nIters;
    Json &s = out["sampling"];
    s["method"] = sampling.method;
    s["predictor"] = sampling.predictor;
    s["corrector"] = sampling.corrector;
    s["snr"] = sampling.snr;
    s["n_steps_each"] = sampling.nStepsEach;
    s["noise_removal"] = sampling.noiseRemoval;
    s["probability_flow"] = sampling.probabilityFlow;
    Json &o = out["optim"];
    o["optimizer"] = optim.optimizer;
    o["lr"] = optim.lr;
    o["beta1"] = optim.beta1;
    o["eps"] = optim.eps;
    o["weight_decay"] = optim.weightDecay;
    o["warmup"] = optim.warmup;
    o["grad_clip"] = optim.gradClip;
    return out;
}

void ModelConfig::validate() const
{
    const NetworkConfig &m = model;
    requireOneOf("model.name", m.name, {"ncsnpp", "ddpm", "toy_mlp"});
    requireOneOf("training.sde", training.sde, sdeNames());
    if (m.name == "toy_mlp") {
        // Points of a 2D (or few-dimensional) distribution, stored as [D, 1, 1] images.
        if (data.imageSize != 1)
            outOfRange("data.image_size", std::to_string(data.imageSize),
                       "the toy_mlp network takes points: image_size must be 1");
        if (data.numChannels < 1 || data.numChannels > 64)
            outOfRange("data.num_channels", std::to_string(data.numChannels),
                       "the point dimension must be between 1 and 64");
        if (m.nf < 4 || m.nf > 4096)
            outOfRange("model.nf", std::to_string(m.nf), "must be between 4 and 4096");
        if (m.numResBlocks < 0 || m.numResBlocks > 64)
            outOfRange("model.num_res_blocks", std::to_string(m.numResBlocks), "must be between 0 and 64");
    } else if (data.imageSize < 4 || data.imageSize > 4096)
        outOfRange("data.image_size", std::to_string(data.imageSize), "must be between 4 and 4096");
    validateSdeAndSampling();
    validateTraining();
    if (m.name == "toy_mlp")
        return;
    if (data.numChannels < 1 || data.numChannels > 64)
        outOfRange("data.num_channels", std::to_string(data.numChannels), "must be between 1 and 64");
    if (m.nf < 4 || m.nf > 4096)
        outOfRange("model.nf", std::to_string(m.nf), "must be between 4 and 4096");
    if (m.chMult.empty() || m.chMult.size() > 12)
        outOfRange("model.ch_mult", std::to_string(m.chMult.size()) + " levels", "needs 1 to 12 levels");
    for (int64_t mult : m.chMult)
        if (mult < 1 || mult > 64)
            outOfRange("model.ch_mult", std::to_string(mult), "each multiplier must be between 1 and 64");
    int64_t levels = static_cast<int64_t>(m.chMult.size());
    if (data.imageSize % (int64_t(1) << (levels - 1)) != 0)
        outOfRange("data.image_size", std::to_string(data.imageSize),
                   "must be divisible by 2^(len(ch_mult)-1) = " + std::to_string(int64_t(1) << (levels - 1)));
    if (m.numResBlocks < 1 || m.numResBlocks > 64)
        outOfRange("model.num_res_blocks", std::to_string(m.numResBlocks), "must be between 1 and 64");
    if (!(m.dropout >= 0.0 && m.dropout < 1.0))
        outOfRange("model.dropout", show(m.dropout), "must be in [0, 1)");
    // Attention sits at the listed resolutions; one the network never reaches would be ignored.
    std::string resolutions;
    for (int64_t level = 0; level < levels; ++level)
        resolutions += (level ? ", " : "") + std::to_string(data.imageSize >> level);
    for (int64_t resolution : m.attnResolutions) {
        bool reached = false;
        for (int64_t level = 0; level < levels; ++level)
            reached = reached || resolution == (data.imageSize >> level);
        if (!reached)
            outOfRange("model.attn_resolutions", std::to_string(resolution),
                       "each must be a resolution the network has (" + resolutions + ")");
    }
    if (m.name == "ddpm") {
        // The original DDPM network uses GroupNorm with 32 groups everywhere.
        for (int64_t mult : m.chMult)
            if ((m.nf * mult) % 32 != 0)
                outOfRange("model.nf", std::to_string(m.nf),
                           "the ddpm network needs nf * ch_mult divisible by 32 (GroupNorm with 32 groups)");
        if (!m.conditional)
            outOfRange("model.conditional", "false", "the ddpm network is always noise-conditional");
    } else {
        requireOneOf("model.resblock_type", m.resblockType, {"biggan", "ddpm"});
        requireOneOf("model.progressive", m.progressive, {"none", "output_skip", "residual"});
        requireOneOf("model.progressive_input", m.progressiveInput, {"none", "input_skip", "residual"});
        requireOneOf("model.progressive_combine", m.progressiveCombine, {"sum", "cat"});
        requireOneOf("model.embedding_type", m.embeddingType, {"fourier", "positional"});
        if (m.embeddingType == "fourier" && !training.continuous)
            outOfRange("model.embedding_type", "\"fourier\"",
                       "Fourier features are only used for continuous training (training.continuous = true)");
        // With positional embedding NCSN++ looks its sigma up at the time label (the reference's
        // self.sigmas[time_cond]); the VP-type SDEs label time t as 999 t when trained in
        // continuous time, and sub-VP always (ScoreModel::networkLabels): the table needs 1000 rows.
        const SdeDescription &kind = sde::sdeDescription(training.sde);
        const bool labels999 = kind.kind != Sde::Kind::Ve && (training.continuous || kind.kind == Sde::Kind::SubVp);
        if (m.embeddingType == "positional" && labels999 && m.numScales < 1000)
            outOfRange("model.num_scales", std::to_string(m.numScales),
                       "must be at least 1000 for NCSN++ with positional embedding under the " + kind.title +
                           " in continuous time (its sigma is looked up at the time label 999 t)");
        if (m.fir) {
            if (m.firKernel.empty() || m.firKernel.size() > 16)
                outOfRange("model.fir_kernel", std::to_string(m.firKernel.size()) + " taps", "needs 1 to 16 taps");
            double sum = 0.0;
            for (double k : m.firKernel)
                sum += k;
            if (!(std::fabs(sum) > 0.0) || !std::isfinite(sum))
                outOfRange("model.fir_kernel", "sum " + show(sum), "the taps must have a non-zero finite sum");
        }
        if (!(m.fourierScale > 0.0) || !std::isfinite(m.fourierScale))
            outOfRange("model.fourier_scale", show(m.fourierScale), "must be positive");
    }
    // The reference's default_init: a variance scale, 0 meaning its smallest (1e-10).
    if (!(m.initScale >= 0.0) || !std::isfinite(m.initScale))
        outOfRange("model.init_scale", show(m.initScale), "must be 0 or positive");
}

void ModelConfig::validateTraining() const
{
    if (training.batchSize < 1 || training.batchSize > kMostTrainingBatch)
        outOfRange("training.batch_size", std::to_string(training.batchSize),
                   "must be between 1 and " + std::to_string(kMostTrainingBatch));
    if (training.nIters < 1 || training.nIters > kMostTrainingSteps)
        outOfRange("training.n_iters", std::to_string(training.nIters),
                   "must be between 1 and " + std::to_string(kMostTrainingSteps));
    // The reference's keys SDE Studio keeps but does not use (the CLI and the studio have their
    // own intervals); checked so that a config written here stays one the reference runs.
    if (const Json *section = json::find(source, "training"); section && section->is_object())
        for (const char *key : {"log_freq", "eval_freq", "snapshot_freq", "snapshot_freq_for_preemption"}) {
            const Json *value = json::find(*section, key);
            if (!value || value->is_null())
                continue;
            const std::string name = std::string("training.") + key;
            const int64_t every = json::toInt64(*value, "config key " + name);
            if (every < 1 || every > kMostTrainingSteps)
                outOfRange(name, std::to_string(every), "must be between 1 and " + std::to_string(kMostTrainingSteps));
        }

    requireOneOf("optim.optimizer", optim.optimizer, {"Adam"});
    if (!(optim.lr > 0.0 && optim.lr <= 1.0))
        outOfRange("optim.lr", show(optim.lr), "the learning rate must be positive, at most 1");
    if (!(optim.beta1 >= 0.0 && optim.beta1 < 1.0))
        outOfRange("optim.beta1", show(optim.beta1), "must be in [0, 1)");
    if (!(optim.eps > 0.0 && optim.eps <= 1.0))
        outOfRange("optim.eps", show(optim.eps), "must be positive, at most 1");
    if (!(optim.weightDecay >= 0.0 && optim.weightDecay <= 1.0))
        outOfRange("optim.weight_decay", show(optim.weightDecay), "must be between 0 and 1");
    if (optim.warmup < 0 || optim.warmup > kMostTrainingSteps)
        outOfRange("optim.warmup", std::to_string(optim.warmup),
                   "must be between 0 and " + std::to_string(kMostTrainingSteps));
    // As in the reference, a negative bound turns clipping off.
    if (!std::isfinite(optim.gradClip))
        outOfRange("optim.grad_clip", show(optim.gradClip), "must be a finite number (negative: no clipping)");
}

void ModelConfig::validateSdeAndSampling() const
{
    const SdeDescription &kind = sde::sdeDescription(training.sde);
    const NetworkConfig &m = model;
    requireOneOf("model.nonlinearity", m.nonlinearity, {"swish", "elu", "relu", "lrelu"});
    if (!(m.sigmaMin > 0.0) || !std::isfinite(m.sigmaMin))
        outOfRange("model.sigma_min", show(m.sigmaMin), "must be positive");
    if (!(m.sigmaMax > m.sigmaMin) || !std::isfinite(m.sigmaMax))
        outOfRange("model.sigma_max", show(m.sigmaMax), "must be larger than sigma_min = " + show(m.sigmaMin));
    // float32 noise of sigma_max must stay finite through the network (the reference's largest is
    // 1348, LSUN church at 256 x 256).
    if (m.sigmaMax > kMostSigmaMax)
        outOfRange("model.sigma_max", show(m.sigmaMax), "must be at most " + show(kMostSigmaMax));
    if (!(m.betaMin > 0.0) || !std::isfinite(m.betaMin))
        outOfRange("model.beta_min", show(m.betaMin), "must be positive");
    if (!(m.betaMax > m.betaMin) || !std::isfinite(m.betaMax))
        outOfRange("model.beta_max", show(m.betaMax), "must be larger than beta_min = " + show(m.betaMin));
    if (m.numScales < 2 || m.numScales > 100000)
        outOfRange("model.num_scales", std::to_string(m.numScales), "must be between 2 and 100000");
    if (kind.ddpmSchedule && m.betaMax / static_cast<double>(m.numScales) >= 1.0)
        outOfRange("model.beta_max", show(m.betaMax), "beta_max / num_scales must be below 1 (a DDPM beta)");
    if (!(m.emaRate >= 0.0 && m.emaRate < 1.0))
        outOfRange("model.ema_rate", show(m.emaRate), "must be in [0, 1)");
    if (!training.continuous && !kind.discreteTraining)
        outOfRange("training.continuous", "false", "the " + kind.title + " is only trained with continuous time");
    if (!(sampling.snr > 0.0 && sampling.snr <= kMostSnr))
        outOfRange("sampling.snr", show(sampling.snr), "must be in (0, " + show(kMostSnr) + "]");
    if (sampling.nStepsEach < 0 || sampling.nStepsEach > 1000)
        outOfRange("sampling.n_steps_each", std::to_string(sampling.nStepsEach), "must be between 0 and 1000");
}

std::string ModelConfig::architectureName() const
{
    if (model.name == "ddpm")
        return "DDPM";
    if (model.name == "toy_mlp")
        return "MLP (2D toy)";
    // The reference builds both with models/ncsnpp.py; DDPM++ is the variant without FIR
    // resampling and without the progressive input path.
    return (!model.fir && model.progressiveInput == "none") ? "DDPM++" : "NCSN++";
}

std::string ModelConfig::sdeDescription() const
{
    const SdeDescription &d = sde::sdeDescription(training.sde);
    return d.title + " (" + d.parameterText(model) + ", N = " + std::to_string(model.numScales) + ")";
}

double ModelConfig::samplingEps() const
{
    return sde::sdeDescription(training.sde).samplingEps;
}

ModelConfig loadConfigFile(const std::string &path)
{
    try {
        ModelConfig config = ModelConfig::fromJson(parseJson(readFile(path)));
        requireNetworkWithinSize(config);
        return config;
    } catch (const Error &e) {
        std::string what = e.what();
        if (what.find(path) != std::string::npos)
            throw;
        throw Error("config '" + path + "': " + what);
    }
}

} // namespace sde
