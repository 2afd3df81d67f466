#include "sampling/sampler_catalogue.h"

#include "config/model_config.h"
#include "sampling/correctors.h"
#include "sampling/fast_samplers.h"
#include "sampling/predictors.h"
#include "sampling/sampling_settings.h"
#include "util/error.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

namespace sde {

namespace {

std::string numberText(double value)
{
    std::ostringstream out;
    out << value;
    return out.str();
}

// Field access for the three option structs; `Field` is a pointer to a member of the struct
// that SamplingSettings keeps under `Part`.
template <typename Part, typename Value>
SamplerKnob bind(SamplerKnob knob, Part SamplingSettings::*part, Value Part::*field)
{
    knob.number = [part, field](const SamplingSettings &s) { return static_cast<double>(s.*part.*field); };
    knob.setNumber = [part, field](SamplingSettings &s, double v) { s.*part.*field = static_cast<Value>(v); };
    return knob;
}

template <typename Part>
SamplerKnob bindChoice(SamplerKnob knob, Part SamplingSettings::*part, std::string Part::*field)
{
    knob.choice = [part, field](const SamplingSettings &s) { return s.*part.*field; };
    knob.setChoice = [part, field](SamplingSettings &s, const std::string &v) { s.*part.*field = v; };
    return knob;
}

SamplerKnob integer(std::string key, std::string title, std::string help, double defaultValue, double minimum,
                    double maximum)
{
    SamplerKnob k;
    k.key = std::move(key);
    k.title = std::move(title);
    k.kind = KnobKind::Integer;
    k.help = std::move(help);
    k.defaultValue = defaultValue;
    k.minimum = minimum;
    k.maximum = maximum;
    return k;
}

SamplerKnob real(std::string key, std::string title, std::string help, double defaultValue, double minimum,
                 double maximum, bool minimumOpen, int decimals)
{
    SamplerKnob k = integer(std::move(key), std::move(title), std::move(help), defaultValue, minimum, maximum);
    k.kind = KnobKind::Real;
    k.minimumOpen = minimumOpen;
    k.decimals = decimals;
    return k;
}

SamplerKnob flag(std::string key, std::string title, std::string help, bool defaultValue)
{
    SamplerKnob k = integer(std::move(key), std::move(title), std::move(help), defaultValue ? 1.0 : 0.0, 0.0, 1.0);
    k.kind = KnobKind::Flag;
    return k;
}

SamplerKnob choiceKnob(std::string key, std::string title, std::string help, std::vector<std::string> choices,
                       std::string defaultChoice)
{
    SamplerKnob k;
    k.key = std::move(key);
    k.title = std::move(title);
    k.kind = KnobKind::Choice;
    k.help = std::move(help);
    k.choices = std::move(choices);
    k.defaultChoice = std::move(defaultChoice);
    return k;
}

// The knobs every sampler has: where the reverse process ends, and the prior's temperature.
template <typename Part>
void addCommonKnobs(std::vector<SamplerKnob> &knobs, Part SamplingSettings::*part)
{
    SamplerKnob eps =
        bind(real("eps", "End time", "the last time of the reverse process; 0: the SDE's (1e-5 VE, 1e-3 VP and sub-VP)",
                  0.0, 0.0, kLargestEndTime, false, 6),
             part, &Part::eps);
    eps.zeroMeansDefault = true;
    eps.minimum = kSmallestEndTime;
    knobs.push_back(eps);
    knobs.push_back(bind(real("temperature", "Temperature", "scale of the prior sample (1: the model's distribution)",
                              1.0, 0.0, 100.0, true, 2),
                         part, &Part::temperature));
}

SamplerDescription pcSampler()
{
    SamplerDescription d;
    d.id = "pc";
    d.title = "Predictor-corrector (reverse SDE)";
    d.summary = "the reverse SDE by predictor-corrector steps (Song et al. 2021, get_pc_sampler)";
    d.section = "pc";
    d.drawsNoise = true;
    auto &k = d.knobs;
    k.push_back(bindChoice(choiceKnob("predictor", "Predictor", "one step of the reverse SDE per noise level",
                                      predictorIds(), "reverse_diffusion"),
                           &SamplingSettings::pc, &PcSamplerOptions::predictor));
    k.push_back(bindChoice(
        choiceKnob("corrector", "Corrector", "score-based MCMC steps at each noise level", correctorIds(), "langevin"),
        &SamplingSettings::pc, &PcSamplerOptions::corrector));
    SamplerKnob snr = bind(
        real("snr", "SNR", "signal-to-noise ratio of the Langevin corrector's step size", 0.16, 0.0, kMostSnr, true, 3),
        &SamplingSettings::pc, &PcSamplerOptions::snr);
    snr.applies = [](const SamplingSettings &s) { return s.pc.corrector != "none"; };
    k.push_back(snr);
    SamplerKnob correctorSteps =
        bind(integer("corrector_steps", "Corrector steps", "corrector steps per noise level", 1, 0, 1000),
             &SamplingSettings::pc, &PcSamplerOptions::correctorSteps);
    correctorSteps.applies = snr.applies;
    k.push_back(correctorSteps);
    SamplerKnob steps = bind(integer("steps", "Steps", "noise levels N; 0: the model's num_scales", 0, 2, kMostSteps),
                             &SamplingSettings::pc, &PcSamplerOptions::steps);
    steps.zeroMeansDefault = true;
    k.push_back(steps);
    SamplerKnob denoise =
        bind(flag("noise_removal", "Denoise", "finish with the noise-free mean of the last step", true),
             &SamplingSettings::pc, &PcSamplerOptions::noiseRemoval);
    denoise.optionStem = "denoise";
    k.push_back(denoise);
    k.push_back(bind(flag("probability_flow", "Probability flow",
                          "predict along the probability-flow ODE instead of the reverse SDE", false),
                     &SamplingSettings::pc, &PcSamplerOptions::probabilityFlow));
    // Every pc knob but the step count (and the common ones below) defaults to the config's.
    for (SamplerKnob &knob : k)
        knob.configDefault = knob.key != "steps";
    addCommonKnobs(k, &SamplingSettings::pc);
    return d;
}

SamplerDescription odeSampler()
{
    SamplerDescription d;
    d.id = "ode";
    d.title = "Probability-flow ODE";
    d.summary = "the probability-flow ODE from T to eps (Song et al. 2021, get_ode_sampler)";
    d.section = "ode";
    d.adaptive = true;
    d.nfePerStep = 0;
    auto &k = d.knobs;
    SamplerKnob solver =
        choiceKnob("solver", "Solver", "rk45 (adaptive, the reference's), euler or heun", odeMethodIds(), "rk45");
    solver.choice = [](const SamplingSettings &s) { return odeMethodId(s.ode.ode.method); };
    solver.setChoice = [](SamplingSettings &s, const std::string &v) { s.ode.ode.method = odeMethodFromName(v); };
    k.push_back(solver);
    const auto isRk45 = [](const SamplingSettings &s) { return s.ode.ode.method == OdeMethod::Rk45; };
    SamplerKnob rtol = real("rtol", "rtol", "RK45's relative tolerance", 1e-5, kSmallestOdeTolerance, 1.0, false, 7);
    rtol.number = [](const SamplingSettings &s) { return s.ode.ode.rtol; };
    rtol.setNumber = [](SamplingSettings &s, double v) { s.ode.ode.rtol = v; };
    rtol.applies = isRk45;
    k.push_back(rtol);
    SamplerKnob atol = real("atol", "atol", "RK45's absolute tolerance", 1e-5, kSmallestOdeTolerance, 1.0, false, 7);
    atol.number = [](const SamplingSettings &s) { return s.ode.ode.atol; };
    atol.setNumber = [](SamplingSettings &s, double v) { s.ode.ode.atol = v; };
    atol.applies = isRk45;
    k.push_back(atol);
    SamplerKnob steps =
        integer("steps", "Steps (Euler, Heun)", "fixed steps of the euler and heun solvers", 100, 1, kMostSteps);
    steps.number = [](const SamplingSettings &s) { return static_cast<double>(s.ode.ode.steps); };
    steps.setNumber = [](SamplingSettings &s, double v) { s.ode.ode.steps = static_cast<int64_t>(v); };
    steps.applies = [isRk45](const SamplingSettings &s) { return !isRk45(s); };
    k.push_back(steps);
    SamplerKnob denoise = bind(flag("noise_removal", "Denoise", "one noise-free reverse-diffusion step at eps", false),
                               &SamplingSettings::ode, &OdeSamplerOptions::noiseRemoval);
    denoise.optionStem = "denoise";
    k.push_back(denoise);
    addCommonKnobs(k, &SamplingSettings::ode);
    return d;
}

bool isSolver(const SamplingSettings &s, std::initializer_list<const char *> ids)
{
    for (const char *id : ids)
        if (s.method == id)
            return true;
    return false;
}

SamplerDescription fastSampler(std::string id, std::string title, std::string summary, int64_t nfePerStep,
                               int64_t extraNfe)
{
    SamplerDescription d;
    d.id = std::move(id);
    d.title = std::move(title);
    d.summary = std::move(summary);
    d.section = "fast";
    d.nfePerStep = nfePerStep;
    d.extraNfe = extraNfe;
    d.usesTimeGrid = d.id == "dpm2m" || d.id == "dpm3m" || d.id == "dpm2s";
    d.adaptive = d.id == "adaptive";
    d.drawsNoise = d.id == "adaptive";
    auto &k = d.knobs;
    if (!d.adaptive)
        k.push_back(
            bind(integer("steps", "Steps", "time points of the grid (--nfe sets it from a budget)", 20, 2, kMostSteps),
                 &SamplingSettings::fast, &FastSamplerOptions::steps));
    if (d.usesTimeGrid) {
        SamplerKnob grid =
            bindChoice(choiceKnob("grid", "Time grid",
                                  "where the steps lie: karras (the sigma^(1/rho) grid of EDM, better at "
                                  "10 NFE or fewer) or logsnr (uniform in log-SNR)",
                                  timeGridIds(), "karras"),
                       &SamplingSettings::fast, &FastSamplerOptions::grid);
        for (const std::string &id : grid.choices)
            grid.choiceTitles.push_back(timeGridTitle(id));
        k.push_back(grid);
    }
    if (d.id == "ddim") {
        SamplerKnob eta = bind(
            real("eta", "Eta", "0 is deterministic, 1 adds the noise of ancestral sampling", 0.0, 0.0, 1.0, false, 2),
            &SamplingSettings::fast, &FastSamplerOptions::eta);
        eta.addsNoise = true;
        k.push_back(eta);
    }
    if (d.id == "edm") {
        SamplerKnob churn = bind(
            real("churn", "Churn", "EDM's stochastic churn S_churn (0: deterministic)", 0.0, 0.0, 1000.0, false, 2),
            &SamplingSettings::fast, &FastSamplerOptions::churn);
        churn.addsNoise = true;
        k.push_back(churn);
    }
    if (d.id == "edm" || d.usesTimeGrid) {
        SamplerKnob rho =
            bind(real("rho", "Rho", "the exponent of the sigma^(1/rho) noise grid", 7.0, kSmallestRho, 100.0, false, 1),
                 &SamplingSettings::fast, &FastSamplerOptions::rho);
        if (d.usesTimeGrid)
            rho.applies = [](const SamplingSettings &s) { return s.fast.grid == "karras"; };
        k.push_back(rho);
    }
    if (d.adaptive) {
        k.push_back(bind(real("rtol", "rtol", "relative tolerance of the step-size control", 0.05,
                              kSmallestSdeTolerance, 1.0, false, 4),
                         &SamplingSettings::fast, &FastSamplerOptions::rtol));
        k.push_back(bind(real("atol", "atol", "absolute tolerance of the step-size control (in the model's range)",
                              0.0078, kSmallestSdeTolerance, 1.0, false, 4),
                         &SamplingSettings::fast, &FastSamplerOptions::atol));
    }
    addCommonKnobs(k, &SamplingSettings::fast);
    return d;
}

} // namespace

std::string SamplerKnob::optionName() const
{
    std::string name = "--" + (optionStem.empty() ? key : optionStem);
    for (char &c : name)
        if (c == '_')
            c = '-';
    return name;
}

std::string SamplerKnob::rangeText() const
{
    if (kind == KnobKind::Choice)
        return listOfIds(choices);
    if (kind == KnobKind::Flag)
        return "0 or 1";
    std::string range = minimumOpen ? "in (" + numberText(minimum) + ", " + numberText(maximum) + "]"
                                    : "between " + numberText(minimum) + " and " + numberText(maximum);
    if (zeroMeansDefault)
        range = "0 (the default) or " + range;
    return range;
}

std::optional<std::string> SamplerKnob::problem(double value) const
{
    if (kind == KnobKind::Choice)
        return "must be " + rangeText();
    const std::string given = ", not " + numberText(value);
    if (!std::isfinite(value))
        return "must be a finite number" + given;
    if (kind != KnobKind::Real && value != std::floor(value))
        return "must be a whole number" + given;
    if (zeroMeansDefault && value == 0.0)
        return std::nullopt;
    const bool low = minimumOpen ? !(value > minimum) : value < minimum;
    if (low || value > maximum)
        return "must be " + rangeText() + given;
    return std::nullopt;
}

std::optional<std::string> SamplerKnob::problem(const std::string &value) const
{
    if (kind != KnobKind::Choice)
        return "must be a number";
    for (const std::string &c : choices)
        if (c == value)
            return std::nullopt;
    return "must be " + rangeText() + ", not '" + sde::quoted(value) + "'";
}

const std::vector<SamplerDescription> &samplerCatalogue()
{
    static const std::vector<SamplerDescription> catalogue{
        pcSampler(),
        odeSampler(),
        fastSampler("dpm2m", "DPM-Solver++ 2M", "DPM-Solver++ multistep, second order (Lu et al. 2022)", 1, 0),
        fastSampler("dpm3m", "DPM-Solver++ 3M", "DPM-Solver++ multistep, third order (Lu et al. 2022)", 1, 0),
        fastSampler("dpm2s", "DPM-Solver++ 2S", "DPM-Solver++ singlestep, second order (Lu et al. 2022)", 2, -1),
        fastSampler("edm", "EDM Heun", "Heun's method on the sigma^(1/rho) grid (Karras et al. 2022)", 2, -1),
        fastSampler("ddim", "DDIM", "DDIM on steps uniform in t (Song et al. 2021)", 1, 0),
        fastSampler("adaptive", "Adaptive reverse SDE",
                    "the reverse SDE with error control (Jolicoeur-Martineau et al. 2021)", 0, 0),
    };
    return catalogue;
}

const SamplerDescription *findSampler(const std::string &id)
{
    for (const SamplerDescription &d : samplerCatalogue())
        if (d.id == id)
            return &d;
    return nullptr;
}

const SamplerDescription &samplerDescription(const std::string &id)
{
    if (const SamplerDescription *d = findSampler(id))
        return *d;
    std::vector<std::string> ids;
    for (const SamplerDescription &d : samplerCatalogue())
        ids.push_back(d.id);
    throw Error("unknown sampler \"" + id + "\" (expected " + listOfIds(ids) + ")");
}

const SamplerKnob *findKnob(const SamplerDescription &sampler, const std::string &key)
{
    for (const SamplerKnob &k : sampler.knobs)
        if (k.key == key)
            return &k;
    return nullptr;
}

bool drawsNoise(const SamplingSettings &settings)
{
    const SamplerDescription &sampler = samplerDescription(settings.method);
    if (sampler.drawsNoise)
        return true;
    for (const SamplerKnob &knob : sampler.knobs)
        if (knob.addsNoise && knob.appliesTo(settings) && knob.number(settings) > 0.0)
            return true;
    return false;
}

std::vector<const SamplerKnob *> distinctKnobs()
{
    std::vector<const SamplerKnob *> out;
    for (const SamplerDescription &d : samplerCatalogue())
        for (const SamplerKnob &k : d.knobs)
            if (std::none_of(out.begin(), out.end(),
                             [&](const SamplerKnob *o) { return o->optionName() == k.optionName(); }))
                out.push_back(&k);
    return out;
}

void checkSamplingSettings(const SamplingSettings &settings,
                           const std::function<std::string(const SamplerKnob &)> &nameOf)
{
    const SamplerDescription &sampler = samplerDescription(settings.method);
    if (settings.batch < 1 || settings.batch > kLargestBatch)
        throw Error("the batch size must be between 1 and " + std::to_string(kLargestBatch) + ", not " +
                    std::to_string(settings.batch));
    // Image i uses seed + i: the last image's seed must not wrap past 2^64 - 1.
    if (settings.seed > std::numeric_limits<uint64_t>::max() - static_cast<uint64_t>(settings.batch - 1))
        throw Error("the seed " + std::to_string(settings.seed) + " leaves no room for a batch of " +
                    std::to_string(settings.batch) + " (image i uses seed + i, at most 18446744073709551615)");
    for (const SamplerKnob &knob : sampler.knobs) {
        if (!knob.appliesTo(settings))
            continue;
        const std::optional<std::string> problem =
            knob.kind == KnobKind::Choice ? knob.problem(knob.choice(settings)) : knob.problem(knob.number(settings));
        if (problem)
            throw Error((nameOf ? nameOf(knob) : sampler.title + "'s " + knob.key) + " " + *problem);
    }
}

} // namespace sde
