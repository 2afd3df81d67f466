#include "sampling/sampling_settings.h"

#include "model/score_model.h"
#include "sampling/core_share.h"
#include "sampling/sampler_catalogue.h"
#include "util/error.h"
#include "util/number_text.h"

#include <algorithm>

namespace sde {

namespace {

// One method's section of the settings ("pc", "fast" or "ode"); errors name its keys "pc.steps".
class MethodSection {
public:
    MethodSection(const Json &settings, const std::string &name)
        : values_(json::toObject(json::at(settings, name), name)), prefix_(name + ".")
    {}

    bool has(const std::string &key) const { return json::find(values_, key) != nullptr; }
    bool boolean(const std::string &key) const { return json::toBool(at(key), prefix_ + key); }
    double number(const std::string &key) const { return json::toDouble(at(key), prefix_ + key); }
    int64_t integer(const std::string &key) const { return json::toInt64(at(key), prefix_ + key); }
    std::string text(const std::string &key) const { return json::toString(at(key), prefix_ + key); }

private:
    const Json &at(const std::string &key) const
    {
        if (const Json *value = json::find(values_, key))
            return *value;
        throw Error("missing key \"" + prefix_ + key + "\"");
    }

    const Json &values_;
    std::string prefix_;
};

} // namespace

SamplingSettings SamplingSettings::fromConfig(const ModelConfig &config)
{
    SamplingSettings s;
    s.method = config.sampling.method == "ode" ? "ode" : "pc";
    s.pc = PcSamplerOptions::fromConfig(config);
    s.ode.noiseRemoval = config.sampling.noiseRemoval;
    return s;
}

SamplingSettings SamplingSettings::fastDefault(const ModelConfig &config)
{
    SamplingSettings s = fromConfig(config);
    s.method = kDefaultFastSolver;
    s.fast = FastSamplerOptions{};
    s.fast.solver = kDefaultFastSolver;
    s.fast.grid = "karras";
    s.fast.steps = stepsForNfe(kDefaultFastSolver, kDefaultFastNfe);
    return s;
}

Json SamplingSettings::toJson() const
{
    const SamplerDescription &sampler = samplerDescription(method);
    Json out = Json::object();
    out["method"] = method;
    out["seed"] = seed; // number_unsigned: exact up to 2^64 - 1
    out["batch"] = batch;
    out["precision"] = precisionId(precision);
    // The sampler's knobs, each under its catalogue key.
    Json knobs = Json::object();
    for (const SamplerKnob &knob : sampler.knobs) {
        switch (knob.kind) {
        case KnobKind::Choice:
            knobs[knob.key] = knob.choice(*this);
            break;
        case KnobKind::Flag:
            knobs[knob.key] = knob.number(*this) != 0.0;
            break;
        case KnobKind::Integer:
            knobs[knob.key] = static_cast<int64_t>(knob.number(*this));
            break;
        case KnobKind::Real:
            knobs[knob.key] = knob.number(*this);
            break;
        }
    }
    out[sampler.section] = knobs;
    return out;
}

SamplingSettings SamplingSettings::fromJson(const Json &document)
{
    SamplingSettings s;
    try {
        s.method = json::getString(document, "method");
        if (!isSamplingMethod(s.method))
            throw Error("method must be " + listOfIds(samplingMethodIds()));
        const SamplerDescription &sampler = samplerDescription(s.method);
        s.fast.solver = s.method;
        s.seed = json::getUint64(document, "seed");
        s.batch = json::getInt64(document, "batch");
        // Records written before the precision was a setting are float32.
        if (json::find(document, "precision"))
            s.precision = precisionFromId(json::getString(document, "precision"));
        const MethodSection section(document, sampler.section);
        for (const SamplerKnob &knob : sampler.knobs) {
            if (!section.has(knob.key)) {
                // Records written before the grid was a setting ran DPM-Solver++ uniform in log-SNR.
                if (knob.key == "grid") {
                    knob.setChoice(s, "logsnr");
                    continue;
                }
                throw Error("missing key \"" + sampler.section + "." + knob.key + "\"");
            }
            switch (knob.kind) {
            case KnobKind::Choice: {
                const std::string id = section.text(knob.key);
                if (auto problem = knob.problem(id))
                    throw Error(sampler.section + "." + knob.key + " " + *problem);
                knob.setChoice(s, id);
                break;
            }
            case KnobKind::Flag:
                knob.setNumber(s, section.boolean(knob.key) ? 1.0 : 0.0);
                break;
            case KnobKind::Integer:
                knob.setNumber(s, static_cast<double>(section.integer(knob.key)));
                break;
            case KnobKind::Real:
                knob.setNumber(s, section.number(knob.key));
                break;
            }
        }
        checkSamplingSettings(s, [&sampler = samplerDescription(s.method)](const SamplerKnob &knob) {
            return sampler.section + "." + knob.key;
        });
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
    // The run's share of the cores, looked at again every step (a training run may start or end
    // beside it, another process may take a core).
    const CoreShare share(model.device(), onStep);
    const SamplerCallback &step = share.onStep();
    if (settings.method == "ode")
        return odeSampleWithScore(model, score, settings.batch, settings.seed, settings.ode, step, cancel);
    if (isFastSolver(settings.method)) {
        FastSamplerOptions options = settings.fast;
        options.solver = settings.method;
        return fastSampleWithScore(model, score, settings.batch, settings.seed, options, step, cancel);
    }
    PcConditioning conditioning;
    conditioning.score = score;
    return pcSampleConstrained(model, settings.batch, settings.seed, settings.pc, conditioning, step, cancel);
}

std::string describeSettings(const SamplingSettings &s)
{
    std::string text;
    if (s.method == "pc") {
        text = "PC " + s.pc.predictor + " + " + s.pc.corrector + ", snr " + numberText(s.pc.snr) + ", " +
               (s.pc.steps > 0 ? std::to_string(s.pc.steps) : std::string("N")) + " steps";
        if (s.pc.probabilityFlow)
            text += ", probability flow";
        text += ", temperature " + numberText(s.pc.temperature);
    } else if (isFastSolver(s.method)) {
        const FastSamplerOptions &f = s.fast;
        text = fastSolverTitle(s.method);
        if (s.method == "adaptive")
            text += " (rtol " + numberText(f.rtol) + ", atol " + numberText(f.atol) + ")";
        else
            text +=
                ", " + std::to_string(f.steps) + " steps (" + std::to_string(plannedNfe(s.method, f.steps)) + " NFE)";
        if (s.method == "ddim")
            text += ", eta " + numberText(f.eta);
        if (s.method == "edm")
            text += ", rho " + numberText(f.rho) + ", churn " + numberText(f.churn);
        if (usesTimeGrid(s.method))
            text += f.grid == "karras" ? ", Karras grid (rho " + numberText(f.rho) + ")" : ", log-SNR grid";
        text += ", temperature " + numberText(f.temperature);
    } else {
        text = std::string("probability-flow ODE, ") + odeMethodId(s.ode.ode.method);
        if (s.ode.ode.method == OdeMethod::Rk45)
            text += " (rtol " + numberText(s.ode.ode.rtol) + ", atol " + numberText(s.ode.ode.atol) + ")";
        else
            text += ", " + std::to_string(s.ode.ode.steps) + " steps";
        text += ", temperature " + numberText(s.ode.temperature);
    }
    if (s.precision != EvaluationPrecision::Float32)
        text += ", " + precisionId(s.precision);
    return text + ", seed " + std::to_string(s.seed);
}

} // namespace sde
