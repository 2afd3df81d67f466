#include "sampling/sampling_settings.h"

#include "model/score_model.h"
#include "sampling/sampler_catalogue.h"
#include "util/error.h"

#include <algorithm>

namespace sde {

SamplingSettings SamplingSettings::fromConfig(const ModelConfig &config)
{
    SamplingSettings s;
    s.method = config.sampling.method == "ode" ? "ode" : "pc";
    s.pc = PcSamplerOptions::fromConfig(config);
    s.ode.noiseRemoval = config.sampling.noiseRemoval;
    return s;
}

Json SamplingSettings::toJson() const
{
    const SamplerDescription &sampler = samplerDescription(method);
    Json out = Json::object();
    out["method"] = method;
    out["seed"] = Json(static_cast<uint64_t>(seed));
    out["batch"] = batch;
    out["precision"] = precisionId(precision);
    // The sampler's knobs, each under its catalogue key.
    Json knobs = Json::object();
    for (const SamplerKnob &knob : sampler.knobs) {
        switch (knob.kind) {
        case KnobKind::Choice: knobs[knob.key] = knob.choice(*this); break;
        case KnobKind::Flag: knobs[knob.key] = knob.number(*this) != 0.0; break;
        case KnobKind::Integer: knobs[knob.key] = static_cast<int64_t>(knob.number(*this)); break;
        case KnobKind::Real: knobs[knob.key] = knob.number(*this); break;
        }
    }
    out[sampler.section] = knobs;
    return out;
}

SamplingSettings SamplingSettings::fromJson(const Json &json)
{
    SamplingSettings s;
    try {
        s.method = json.at("method").asString();
        if (!isSamplingMethod(s.method))
            throw Error("method must be " + listOfIds(samplingMethodIds()));
        const SamplerDescription &sampler = samplerDescription(s.method);
        s.fast.solver = s.method;
        s.seed = static_cast<uint64_t>(json.at("seed").asInt());
        s.batch = json.at("batch").asInt();
        // Records written before the precision was a setting are float32.
        if (json.contains("precision"))
            s.precision = precisionFromId(json.at("precision").asString());
        const Json &knobs = json.at(sampler.section);
        for (const SamplerKnob &knob : sampler.knobs) {
            if (!knobs.contains(knob.key)) {
                // Records written before the grid was a setting ran DPM-Solver++ uniform in log-SNR.
                if (knob.key == "grid") {
                    knob.setChoice(s, "logsnr");
                    continue;
                }
                throw Error("missing key \"" + knob.key + "\"");
            }
            const Json &value = knobs.at(knob.key);
            switch (knob.kind) {
            case KnobKind::Choice: {
                const std::string id = value.asString();
                if (auto problem = knob.problem(id))
                    throw Error(knob.key + " " + *problem);
                knob.setChoice(s, id);
                break;
            }
            case KnobKind::Flag: knob.setNumber(s, value.asBool() ? 1.0 : 0.0); break;
            case KnobKind::Integer: knob.setNumber(s, static_cast<double>(value.asInt())); break;
            case KnobKind::Real: knob.setNumber(s, value.asDouble()); break;
            }
        }
        checkSamplingSettings(s, [](const SamplerKnob &knob) { return knob.key; });
    } catch (const Error &e) {
        throw Error(std::string("sampling settings: ") + e.what());
    }
    return s;
}

double SamplingSettings::temperature() const
{
    if (method == "pc")
        return pc.temperature;
    if (method == "ode")
        return ode.temperature;
    return fast.temperature;
}

const std::vector<std::string> &samplingMethodIds()
{
    static const std::vector<std::string> ids = [] {
        std::vector<std::string> out;
        for (const SamplerDescription &d : samplerCatalogue())
            out.push_back(d.id);
        return out;
    }();
    return ids;
}

bool isSamplingMethod(const std::string &method)
{
    const std::vector<std::string> &ids = samplingMethodIds();
    return std::find(ids.begin(), ids.end(), method) != ids.end();
}

SampleResult runSampler(const ScoreModel &model, const SamplingSettings &settings, const SamplerCallback &onStep,
                        const CancelToken *cancel)
{
    return runSamplerWithScore(model, settings, nullptr, onStep, cancel);
}

SampleResult runSamplerWithScore(const ScoreModel &model, const SamplingSettings &settings, const ScoreFn &score,
                                 const SamplerCallback &onStep, const CancelToken *cancel)
{
    checkSamplingSettings(settings);
    checkPrecision(settings.precision, model.device());
    EvaluationPrecisionScope precision(settings.precision);
    if (settings.method == "ode")
        return odeSampleWithScore(model, score, settings.batch, settings.seed, settings.ode, onStep, cancel);
    if (isFastSolver(settings.method)) {
        FastSamplerOptions options = settings.fast;
        options.solver = settings.method;
        return fastSampleWithScore(model, score, settings.batch, settings.seed, options, onStep, cancel);
    }
    PcConditioning conditioning;
    conditioning.score = score;
    return pcSampleConstrained(model, settings.batch, settings.seed, settings.pc, conditioning, onStep, cancel);
}

std::string describeSettings(const SamplingSettings &s)
{
    std::string text;
    if (s.method == "pc") {
        text = "PC " + s.pc.predictor + " + " + s.pc.corrector + ", snr " + Json(s.pc.snr).dump() + ", "
               + (s.pc.steps > 0 ? std::to_string(s.pc.steps) : std::string("N")) + " steps";
        if (s.pc.probabilityFlow)
            text += ", probability flow";
        text += ", temperature " + Json(s.pc.temperature).dump();
    } else if (isFastSolver(s.method)) {
        const FastSamplerOptions &f = s.fast;
        text = fastSolverTitle(s.method);
        if (s.method == "adaptive")
            text += " (rtol " + Json(f.rtol).dump() + ", atol " + Json(f.atol).dump() + ")";
        else
            text += ", " + std::to_string(f.steps) + " steps (" + std::to_string(plannedNfe(s.method, f.steps)) + " NFE)";
        if (s.method == "ddim")
            text += ", eta " + Json(f.eta).dump();
        if (s.method == "edm")
            text += ", rho " + Json(f.rho).dump() + ", churn " + Json(f.churn).dump();
        if (usesTimeGrid(s.method))
            text += f.grid == "karras" ? ", Karras grid (rho " + Json(f.rho).dump() + ")" : ", log-SNR grid";
        text += ", temperature " + Json(f.temperature).dump();
    } else {
        text = std::string("probability-flow ODE, ") + odeMethodId(s.ode.ode.method);
        if (s.ode.ode.method == OdeMethod::Rk45)
            text += " (rtol " + Json(s.ode.ode.rtol).dump() + ", atol " + Json(s.ode.ode.atol).dump() + ")";
        else
            text += ", " + std::to_string(s.ode.ode.steps) + " steps";
        text += ", temperature " + Json(s.ode.temperature).dump();
    }
    if (s.precision != EvaluationPrecision::Float32)
        text += ", " + precisionId(s.precision);
    return text + ", seed " + std::to_string(s.seed);
}

} // namespace sde
