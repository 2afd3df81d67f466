#pragma once

#include "util/json_fields.h"

#include <string>
#include <vector>

namespace sde {

// The configuration of a score model, field for field as the reference's ml_collections
// configs name them (`configs/*.py` there, JSON here). Only what the engine reads is typed;
// the whole document is kept in `source` so that a converted checkpoint carries it unchanged.
struct DataConfig {
    std::string dataset = "CIFAR10";
    int64_t imageSize = 32;
    int64_t numChannels = 3;
    bool centered = false; // data in [-1, 1] instead of [0, 1]
    bool uniformDequantization = false;
    bool randomFlip = true;
};

struct NetworkConfig {
    std::string name = "ncsnpp"; // ncsnpp (NCSN++ / DDPM++), ddpm, or toy_mlp (2D points)
    int64_t nf = 128;
    std::vector<int64_t> chMult{1, 2, 2, 2};
    int64_t numResBlocks = 4;
    std::vector<int64_t> attnResolutions{16};
    double dropout = 0.1;
    bool resampWithConv = true;
    bool conditional = true;
    bool fir = true;
    std::vector<double> firKernel{1, 3, 3, 1};
    bool skipRescale = true;
    std::string resblockType = "biggan";       // biggan | ddpm
    std::string progressive = "none";          // none | output_skip | residual
    std::string progressiveInput = "residual"; // none | input_skip | residual
    std::string progressiveCombine = "sum";    // sum | cat
    std::string embeddingType = "fourier";     // fourier | positional
    double fourierScale = 16.0;
    double initScale = 0.0;
    bool scaleBySigma = true;
    std::string nonlinearity = "swish";
    double sigmaMin = 0.01;
    double sigmaMax = 50.0;
    double betaMin = 0.1;
    double betaMax = 20.0;
    int64_t numScales = 1000;
    double emaRate = 0.999;
};

// The valid ranges of the training fields, checked by ModelConfig::validate:
//   training.batch_size 1 to kMostTrainingBatch; training.n_iters 1 to kMostTrainingSteps (and the
//   reference's log_freq, eval_freq, snapshot_freq, snapshot_freq_for_preemption, when present);
//   optim.optimizer "Adam"; optim.lr in (0, 1]; optim.beta1 in [0, 1); optim.eps in (0, 1];
//   optim.weight_decay in [0, 1]; optim.warmup 0 to kMostTrainingSteps; optim.grad_clip finite
//   (negative: no clipping); model.ema_rate in [0, 1).
constexpr int64_t kMostTrainingBatch = 65536;
constexpr int64_t kMostTrainingSteps = 1'000'000'000'000'000'000; // 10^18: any count, not a wrapped one

struct TrainingConfig {
    std::string sde = "vesde"; // vesde | vpsde | subvpsde
    bool continuous = true;
    bool reduceMean = false;
    bool likelihoodWeighting = false;
    int64_t batchSize = 128;
    int64_t nIters = 1300001;
};

// sampling.snr's range, (0, kMostSnr]: the config's, and the Langevin corrector's knob (--snr, the
// Sampler dock) alike.
constexpr double kMostSnr = 100.0;

struct SamplingConfig {
    std::string method = "pc"; // pc | ode
    std::string predictor = "reverse_diffusion";
    std::string corrector = "langevin";
    double snr = 0.16;
    int64_t nStepsEach = 1;
    bool noiseRemoval = true;
    bool probabilityFlow = false;
};

struct OptimConfig {
    std::string optimizer = "Adam";
    double lr = 2e-4;
    double beta1 = 0.9;
    double eps = 1e-8;
    double weightDecay = 0.0;
    int64_t warmup = 5000;
    double gradClip = 1.0;
};

struct ModelConfig {
    DataConfig data;
    NetworkConfig model;
    TrainingConfig training;
    SamplingConfig sampling;
    OptimConfig optim;
    Json source; // the document it was read from (sections data/model/training/...)

    // Reads a config in the reference's layout; missing optional fields take the reference's
    // defaults. Throws sde::Error naming the key and the value when something is out of range.
    // Keys the reference's configs carry and SDE Studio does not use (eval.*, training.log_freq,
    // data.tfrecords_path, ...) are read over; "seed" is checked (0 to 2^64 - 1) but training's
    // seed is its own option; any other key, one no reader asks for, is named in a warning
    // (spdlog), with the nearest known key when one is near. Such a key stays in `source`, so a
    // model trained from the config carries it and warns again when loaded. optim.amsgrad true is
    // refused (training is plain Adam).
    static ModelConfig fromJson(const Json &document);
    // The document, with the typed fields written back over `source`.
    Json toJson() const;

    // Checks every value the engine depends on; the message names the key.
    void validate() const;

    // "NCSN++", "DDPM++" or "DDPM": the paper's name for the network this config builds.
    std::string architectureName() const;
    // "VE SDE (sigma 0.01 to 50, N = 1000)" style text.
    std::string sdeDescription() const;

    // The sampling end time the reference uses for this SDE (1e-5 for VE, 1e-3 for VP/sub-VP).
    double samplingEps() const;

    // A model of points (the toy_mlp network: image_size 1, the point's coordinates as channels).
    bool isPointModel() const { return model.name == "toy_mlp"; }

private:
    void validateSdeAndSampling() const;
    void validateTraining() const;
};

// Reads a config from a JSON file: ModelConfig::fromJson of the parsed document. Throws sde::Error
// naming the file for a missing file, a JSON syntax error (with line and column), a bad value or a
// network beyond kMostNetworkParameters (requireNetworkWithinSize). Presets and command-line
// configs: config/presets.h.
ModelConfig loadConfigFile(const std::string &path);

} // namespace sde
