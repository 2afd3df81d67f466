#include "sampling/sampling_settings.h"

#include "model/score_model.h"
#include "util/error.h"
#include "util/number_text.h"

#include <algorithm>

namespace sde {

namespace {

const char *odeMethodName(OdeMethod method)
{
    switch (method) {
    case OdeMethod::Rk45:
        return "rk45";
    case OdeMethod::Euler:
        return "euler";
    case OdeMethod::Heun:
        return "heun";
    }
    return "rk45";
}

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

Json SamplingSettings::toJson() const
{
    Json out = Json::object();
    out["method"] = method;
    out["seed"] = seed; // number_unsigned: exact up to 2^64 - 1
    out["batch"] = batch;
    out["precision"] = precisionId(precision);
    if (method == "pc") {
        Json pcJson = Json::object();
        pcJson["predictor"] = pc.predictor;
        pcJson["corrector"] = pc.corrector;
        pcJson["snr"] = pc.snr;
        pcJson["corrector_steps"] = pc.correctorSteps;
        pcJson["steps"] = pc.steps;
        pcJson["noise_removal"] = pc.noiseRemoval;
        pcJson["probability_flow"] = pc.probabilityFlow;
        pcJson["eps"] = pc.eps;
        pcJson["temperature"] = pc.temperature;
        out["pc"] = pcJson;
    } else if (isFastSolver(method)) {
        Json fastJson = Json::object();
        fastJson["steps"] = fast.steps;
        fastJson["eta"] = fast.eta;
        fastJson["churn"] = fast.churn;
        fastJson["rho"] = fast.rho;
        fastJson["grid"] = fast.grid;
        fastJson["rtol"] = fast.rtol;
        fastJson["atol"] = fast.atol;
        fastJson["eps"] = fast.eps;
        fastJson["temperature"] = fast.temperature;
        out["fast"] = fastJson;
    } else {
        Json odeJson = Json::object();
        odeJson["solver"] = odeMethodName(ode.ode.method);
        odeJson["rtol"] = ode.ode.rtol;
        odeJson["atol"] = ode.ode.atol;
        odeJson["steps"] = ode.ode.steps;
        odeJson["noise_removal"] = ode.noiseRemoval;
        odeJson["eps"] = ode.eps;
        odeJson["temperature"] = ode.temperature;
        out["ode"] = odeJson;
    }
    return out;
}

SamplingSettings SamplingSettings::fromJson(const Json &document)
{
    SamplingSettings s;
    try {
        s.method = json::getString(document, "method");
        if (!isSamplingMethod(s.method))
            throw Error("method must be " + listOfIds(samplingMethodIds()));
        s.seed = json::getUint64(document, "seed");
        s.batch = json::getInt64(document, "batch");
        // Records written before the precision was a setting are float32.
        if (json::find(document, "precision"))
            s.precision = precisionFromId(json::getString(document, "precision"));
        if (s.method == "pc") {
            const MethodSection p(document, "pc");
            s.pc.predictor = p.text("predictor");
            s.pc.corrector = p.text("corrector");
            s.pc.snr = p.number("snr");
            s.pc.correctorSteps = p.integer("corrector_steps");
            s.pc.steps = p.integer("steps");
            s.pc.noiseRemoval = p.boolean("noise_removal");
            s.pc.probabilityFlow = p.boolean("probability_flow");
            s.pc.eps = p.number("eps");
            s.pc.temperature = p.number("temperature");
        } else if (isFastSolver(s.method)) {
            const MethodSection f(document, "fast");
            s.fast.solver = s.method;
            s.fast.steps = f.integer("steps");
            s.fast.eta = f.number("eta");
            s.fast.churn = f.number("churn");
            s.fast.rho = f.number("rho");
            // Records written before the grid was a setting ran DPM-Solver++ uniform in log-SNR.
            s.fast.grid = f.has("grid") ? f.text("grid") : "logsnr";
            if (!isTimeGrid(s.fast.grid))
                throw Error("unknown time grid \"" + s.fast.grid + "\"");
            s.fast.rtol = f.number("rtol");
            s.fast.atol = f.number("atol");
            s.fast.eps = f.number("eps");
            s.fast.temperature = f.number("temperature");
        } else {
            const MethodSection o(document, "ode");
            s.ode.ode.method = odeMethodFromName(o.text("solver"));
            s.ode.ode.rtol = o.number("rtol");
            s.ode.ode.atol = o.number("atol");
            s.ode.ode.steps = o.integer("steps");
            s.ode.noiseRemoval = o.boolean("noise_removal");
            s.ode.eps = o.number("eps");
            s.ode.temperature = o.number("temperature");
        }
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
        std::vector<std::string> out{"pc", "ode"};
        out.insert(out.end(), fastSolverIds().begin(), fastSolverIds().end());
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
        text = std::string("probability-flow ODE, ") + odeMethodName(s.ode.ode.method);
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
