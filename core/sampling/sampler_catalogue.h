#pragma once

#include "sampling/ode_solver.h" // kSmallestOdeTolerance

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace sde {

struct SamplingSettings;

// What kind of value a sampler's knob takes. Integer, Real and Flag values travel as double
// (Flag: 0 or 1; every integer knob stays far below 2^53), Choice values as one of its ids.
enum class KnobKind { Integer, Real, Flag, Choice };

// One setting of one sampler, described once: the Sampler dock builds its row from it, the CLI
// its option and help (`--` + the key with dashes), the PNG record its key, and core checks a
// value against its range before any run.
struct SamplerKnob {
    std::string key;        // the record's key and the CLI option's stem: "corrector_steps" is --corrector-steps
    std::string optionStem; // the CLI option's stem when it is not the key ("denoise" for noise_removal)
    std::string title;      // a label for people: "Corrector steps"
    KnobKind kind = KnobKind::Real;
    std::string help; // one line: what it does, in the paper's words
    double defaultValue = 0.0;
    double minimum = 0.0; // the valid range, for Integer and Real knobs
    double maximum = 0.0;
    bool minimumOpen = false;      // the minimum itself is not valid (a positive tolerance, say)
    bool zeroMeansDefault = false; // 0 is valid too and means "the model's or the SDE's default"
    int decimals = 0;              // digits the dock shows
    bool configDefault = false;    // a model's config sets it (the sampling section); defaultValue is the reference's
    bool addsNoise = false;        // above 0 the sampler draws noise (DDIM's eta, EDM's churn)
    std::vector<std::string> choices;      // for Choice knobs, in the order the dock lists them
    std::vector<std::string> choiceTitles; // what the dock shows for each choice; empty: the ids
    std::string defaultChoice;
    // The knob only matters when this holds (e.g. the ODE's step count with a fixed-step solver);
    // unset: always.
    std::function<bool(const SamplingSettings &)> applies;
    // Reads and writes the knob's field of the settings.
    std::function<double(const SamplingSettings &)> number;
    std::function<void(SamplingSettings &, double)> setNumber;
    std::function<std::string(const SamplingSettings &)> choice;
    std::function<void(SamplingSettings &, const std::string &)> setChoice;

    // "--corrector-steps"; a Flag knob also has "--no-" + the stem to turn it off.
    std::string optionName() const;
    // Why `value` is not valid for this knob ("must be between 0 and 1"), or nothing when it is.
    std::optional<std::string> problem(double value) const;
    std::optional<std::string> problem(const std::string &value) const;
    // The range as people read it: "between 0 and 1", "in (0, 100]", "0 (the default) or 2 to 100000".
    std::string rangeText() const;
    bool appliesTo(const SamplingSettings &settings) const { return !applies || applies(settings); }
};

// One sampler: its id (SamplingSettings::method), its knobs, and the facts the front ends show.
struct SamplerDescription {
    std::string id;      // "pc", "ode", "dpm2m", ...
    std::string title;   // "DPM-Solver++(2M)"
    std::string summary; // one sentence, with the paper it follows
    std::string section; // the key under which PNG records keep its knobs: "pc", "ode" or "fast"
    std::vector<SamplerKnob> knobs;
    // Score evaluations per step, and the extra ones at the end (0, 0: decided while it runs).
    int64_t nfePerStep = 1;
    int64_t extraNfe = 0;
    bool adaptive = false;     // it chooses its own steps (RK45, the adaptive reverse SDE)
    bool drawsNoise = false;   // with its default settings (ddim with eta > 0 and edm with churn also do)
    bool usesTimeGrid = false; // walks FastSamplerOptions::grid (timeGridIds())
    bool anySde = true;        // takes VE, VP and sub-VP alike
};

// Every sampler, in the order the studio lists them: pc, ode, dpm2m, dpm3m, dpm2s, edm, ddim,
// adaptive.
const std::vector<SamplerDescription> &samplerCatalogue();
// The sampler with this id, or nullptr.
const SamplerDescription *findSampler(const std::string &id);
// The sampler with this id; throws sde::Error listing the ids for an unknown one.
const SamplerDescription &samplerDescription(const std::string &id);
// The knob of `sampler` with this key, or nullptr.
const SamplerKnob *findKnob(const SamplerDescription &sampler, const std::string &key);

// Whether a run with these settings draws noise: a stochastic sampler, or a deterministic one
// with a noise knob (addsNoise) above 0. Inpainting follows the kept pixels more closely then.
bool drawsNoise(const SamplingSettings &settings);

// Every knob of every sampler, once per option name, in catalogue order (the CLI's options).
std::vector<const SamplerKnob *> distinctKnobs();

// The smallest end time (eps) a sampler takes, 0 meaning the SDE's default. The VP and sub-VP
// marginal std is the reference's sqrt(1 - exp(2 log a(t))) in float32 (kept for parity), which is
// exactly 0 below t of about 3e-7, and the score divides by it; at 1e-5, the reference's own
// smallest end time (VE sampling, likelihoods), it is within 5% of the exact value.
constexpr double kSmallestEndTime = 1e-5;
// The most images one run makes (the CLI's --batch, the studio's Batch field, a record's batch).
constexpr int64_t kLargestBatch = 4096;

// The largest end time: the reverse process runs from T = 1 down to eps, and the fast samplers
// need a span to step over.
constexpr double kLargestEndTime = 0.5;

// The smallest exponent of the Karras grid sigma^(1/rho). Near 0.01 the highest level's
// sigma^(1/rho) overflows a double (sigma_max reaches 1348 in the 256-pixel VE configs); at 0.1
// it is 1e31, ten times below, and all but the last levels already lie next to sigma_max.
constexpr double kSmallestRho = 0.1;

// The most steps (noise levels, grid points, fixed ODE steps) of any sampler.
constexpr int64_t kMostSteps = 100000;

// The smallest tolerances of the adaptive reverse-SDE sampler, whose error estimate compares two
// stochastic steps: tighter ones need millions of steps (Jolicoeur-Martineau et al. 2021 use 1e-2).
constexpr double kSmallestSdeTolerance = 1e-4;

// Checks every knob of the settings' sampler that applies, the batch, and that the seeds
// seed .. seed + batch - 1 fit in 64 bits; throws sde::Error
// "<name> must be ..." with `nameOf(knob)` as the name (the key by default; the CLI passes the
// option name). The one place a sampler's settings are validated: the samplers, the CLI, the
// dock and records read from PNGs all call it.
void checkSamplingSettings(const SamplingSettings &settings,
                           const std::function<std::string(const SamplerKnob &)> &nameOf = nullptr);

} // namespace sde
