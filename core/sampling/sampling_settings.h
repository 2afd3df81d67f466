#pragma once

#include "nets/inference.h"
#include "sampling/fast_samplers.h"
#include "sampling/ode_sampler.h"
#include "sampling/pc_sampler.h"
#include "util/json_fields.h"

#include <string>
#include <vector>

namespace sde {

class ScoreModel;

// Everything that decides a generated image besides the model: the sampler and its settings,
// the seed and the batch. Saved as JSON in every PNG so a run can be repeated from the image.
struct SamplingSettings {
    std::string method = "pc"; // pc | ode | one of fastSolverIds() (dpm2m, edm, ...)
    PcSamplerOptions pc;
    OdeSamplerOptions ode;
    FastSamplerOptions fast; // its solver is the method when that is a fast one
    // The network's number format; the sampler's state stays float32 (nets/inference.h).
    EvaluationPrecision precision = EvaluationPrecision::Float32;
    uint64_t seed = 0;
    int64_t batch = 1;

    // The temperature of the method in use.
    double temperature() const;

    // The config's sampling section (method, predictor, corrector, snr, denoising): the
    // reference's sampler for the model (get_sampling_fn), what `--sampler config` picks.
    static SamplingSettings fromConfig(const ModelConfig &config);
    // What a fresh start uses (the studio without saved settings, sdestudio-cli without
    // --sampler, packaging/run.sh): kDefaultFastSolver on the Karras grid with
    // kDefaultFastNfe score evaluations. In the project's quality-per-NFE table (README,
    // "Benchmarks") it is the best fast sampler at about 20 NFE on the bundled Fashion-MNIST
    // model, within 6 % of the 1000-NFE figure; the config's other settings are fromConfig's.
    static SamplingSettings fastDefault(const ModelConfig &config);
    // {"method", "seed", "batch", "precision", and a "pc", "fast" or "ode" section}; the seed is
    // stored as an unsigned JSON integer, exact up to 2^64 - 1.
    Json toJson() const;
    // Reads what toJson() wrote; throws sde::Error naming the key ("seed", "pc.steps") for a
    // missing key or a bad value: a seed that is negative, fractional or above 2^64 - 1, a step
    // count that is not an exact integer.
    static SamplingSettings fromJson(const Json &document);
};

// The fresh start's sampler (SamplingSettings::fastDefault) and its budget of score evaluations.
inline constexpr const char *kDefaultFastSolver = "dpm3m";
inline constexpr int64_t kDefaultFastNfe = 20;

// The samples a point-cloud model (ModelConfig::isPointModel, the 2D toys) draws when nothing says
// otherwise: the studio's batch for such a model and a training run's previews. A few thousand
// points show the distribution; 16 show scattered dots.
inline constexpr int64_t kPointCloudSamples = 2000;
// A training run's previews of an image model: one 4 x 4 grid.
inline constexpr int64_t kImagePreviewSamples = 16;

// Every method id: pc, ode, then fastSolverIds().
const std::vector<std::string> &samplingMethodIds();
bool isSamplingMethod(const std::string &method);

// Runs the sampler the settings name, with the network evaluating in the settings' precision.
// Throws sde::Error when the model's device cannot evaluate in that precision, or when the batch
// cannot fit in the memory available (the samplers' requireMemoryForSampling).
SampleResult runSampler(const ScoreModel &model, const SamplingSettings &settings,
                        const SamplerCallback &onStep = nullptr, const CancelToken *cancel = nullptr);
// The same with `score` in place of the model's score (guided or constrained generation); every
// method takes it.
SampleResult runSamplerWithScore(const ScoreModel &model, const SamplingSettings &settings, const ScoreFn &score,
                                 const SamplerCallback &onStep = nullptr, const CancelToken *cancel = nullptr);

// The settings as one line of text ("PC reverse_diffusion + langevin, snr 0.16, 1000 steps, seed 42";
// a precision other than float32 is named before the seed).
std::string describeSettings(const SamplingSettings &settings);

} // namespace sde
