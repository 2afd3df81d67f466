#include "sampling/sampling_settings.h"

#include "model/score_model.h"
#include "util/error.h"

#include <algorithm>

namespace sde {

namespace {

const char *odeMethodName(OdeMethod method)
{
    switch (method) {
    case OdeMethod::Rk45: return "rk45";
    case OdeMethod::Euler: return "euler";
    case OdeMethod::Heun: return "heun";
    }
    return "rk45";
}

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
    out["seed"] = Json(static_cast<uint64_t>(seed));
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

SamplingSettings SamplingSettings::fromJson(const Json &json)
{
    SamplingSettings s;
    try {
        s.method = json.at("method").asString();
        if (!isSamplingMethod(s.method))
            throw Error("method must be " + listOfIds(samplingMethodIds()));
        s.seed = static_cast<uint64_t>(json.at("seed").asInt());
        s.batch = json.at("batch").asInt();
        // Records written before the precision was a setting are float32.
        if (json.contains("precision"))
            s.precision = precisionFromId(json.at("precision").asString());
        if (s.method == "pc") {
            const Json &p = json.at("pc");
            s.pc.predictor = p.at("predictor").asString();
            s.pc.corrector = p.at("corrector").asString();
            s.pc.snr = p.at("snr").asDouble();
            s.pc.correctorSteps = p.at("corrector_steps").asInt();
            s.pc.steps = p.at("steps").asInt();
            s.pc.noiseRemoval = p.at("noise_removal").asBool();
            s.pc.probabilityFlow = p.at("probability_flow").asBool();
            s.pc.eps = p.at("eps").asDouble();
            s.pc.temperature = p.at("temperature").asDouble();
        } else if (isFastSolver(s.method)) {
            const Json &f = json.at("fast");
            s.fast.solver = s.method;
            s.fast.steps = f.at("steps").asInt();
            s.fast.eta = f.at("eta").asDouble();
            s.fast.churn = f.at("churn").asDouble();
            s.fast.rho = f.at("rho").asDouble();
            // Records written before the grid was a setting ran DPM-Solver++ uniform in log-SNR.
            s.fast.grid = f.contains("grid") ? f.at("grid").asString() : "logsnr";
            if (!isTimeGrid(s.fast.grid))
                throw Error("unknown time grid \"" + s.fast.grid + "\"");
            s.fast.rtol = f.at("rtol").asDouble();
            s.fast.atol = f.at("atol").asDouble();
            s.fast.eps = f.at("eps").asDouble();
            s.fast.temperature = f.at("temperature").asDouble();
        } else {
            const Json &o = json.at("ode");
            s.ode.ode.method = odeMethodFromName(o.at("solver").asString());
            s.ode.ode.rtol = o.at("rtol").asDouble();
            s.ode.ode.atol = o.at("atol").asDouble();
            s.ode.ode.steps = o.at("steps").asInt();
            s.ode.noiseRemoval = o.at("noise_removal").asBool();
            s.ode.eps = o.at("eps").asDouble();
            s.ode.temperature = o.at("temperature").asDouble();
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
        text = std::string("probability-flow ODE, ") + odeMethodName(s.ode.ode.method);
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
