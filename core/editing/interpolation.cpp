#include "editing/interpolation.h"

#include "editing/inpainting.h"
#include "model/score_model.h"
#include "util/batch.h"
#include "util/error.h"

#include <cmath>

namespace sde {

torch::Tensor slerp(const torch::Tensor &z0, const torch::Tensor &z1, double alpha)
{
    torch::Tensor a = z0.flatten(1).to(torch::kFloat64), b = z1.flatten(1).to(torch::kFloat64);
    torch::Tensor cosine = ((a * b).sum(1) / (a.norm(2, 1) * b.norm(2, 1)).clamp_min(1e-30)).clamp(-1.0, 1.0);
    torch::Tensor theta = torch::acos(cosine);
    torch::Tensor sinTheta = torch::sin(theta);
    torch::Tensor nearlyParallel = sinTheta.abs() < 1e-6;
    torch::Tensor w0 = torch::where(nearlyParallel, torch::full_like(theta, 1.0 - alpha),
                                    torch::sin((1.0 - alpha) * theta) / sinTheta);
    torch::Tensor w1 =
        torch::where(nearlyParallel, torch::full_like(theta, alpha), torch::sin(alpha * theta) / sinTheta);
    torch::Tensor out = batchView(w0, a) * a + batchView(w1, b) * b;
    return out.view(z0.sizes()).to(z0.scalar_type());
}

std::vector<double> evenPositions(int64_t count)
{
    if (count < 2)
        throw Error("an interpolation needs at least 2 frames, not " + std::to_string(count));
    std::vector<double> alphas;
    for (int64_t i = 0; i < count; ++i)
        alphas.push_back(static_cast<double>(i) / static_cast<double>(count - 1));
    return alphas;
}

Interpolation interpolateImages(const ScoreModel &model, const torch::Tensor &first, const torch::Tensor &second,
                                const std::vector<double> &alphas, const OdeSamplerOptions &options,
                                const SamplerCallback &onStep, const CancelToken *cancel)
{
    if (alphas.empty())
        throw Error("an interpolation needs at least one position");
    torch::Tensor pair = torch::stack({first, second});
    requireModelShape(model, pair, "the two images");
    Interpolation result;
    result.alphas = alphas;
    OdeSamplerOptions encodeOptions = options;
    encodeOptions.temperature = 1.0;
    SampleResult encoded = encodeLatent(model, model.scaler(pair), encodeOptions, onStep, cancel);
    result.nfe = encoded.nfe;
    result.latents = encoded.x;
    if (!encoded.completed) {
        result.completed = false;
        return result;
    }
    Interpolation decoded = decodeInterpolation(model, encoded.x, alphas, options, onStep, cancel);
    result.nfe += decoded.nfe;
    result.completed = decoded.completed;
    result.frames = decoded.frames;
    return result;
}

namespace {

// The latents at `alphas` [F, ...] between the two codes latents[0] and latents[1].
torch::Tensor interpolatedCodes(const torch::Tensor &latents, const std::vector<double> &alphas)
{
    if (alphas.empty())
        throw Error("an interpolation needs at least one position");
    if (latents.dim() < 1 || latents.size(0) != 2)
        throw Error("an interpolation needs the latent codes of two images");
    std::vector<torch::Tensor> codes;
    for (double alpha : alphas)
        codes.push_back(slerp(latents.slice(0, 0, 1), latents.slice(0, 1, 2), alpha));
    return torch::cat(codes);
}

Interpolation interpolationOf(const torch::Tensor &latents, const std::vector<double> &alphas,
                              const SampleResult &decoded)
{
    Interpolation result;
    result.latents = latents;
    result.alphas = alphas;
    result.nfe = decoded.nfe;
    result.completed = decoded.completed;
    result.frames = decoded.samples;
    return result;
}

} // namespace

bool decodesDeterministically(const FastSamplerOptions &options)
{
    if (options.solver == "adaptive")
        return false;
    if (options.solver == "edm")
        return options.churn == 0.0;
    if (options.solver == "ddim")
        return options.eta == 0.0;
    return isFastSolver(options.solver);
}

Interpolation decodeInterpolation(const ScoreModel &model, const torch::Tensor &latents,
                                  const std::vector<double> &alphas, const FastSamplerOptions &options,
                                  const SamplerCallback &onStep, const CancelToken *cancel)
{
    if (!decodesDeterministically(options))
        throw Error("decoding an interpolation needs a deterministic solver of the probability-flow ODE "
                    "(DPM-Solver++, EDM Heun without churn, DDIM with eta 0), not " +
                    fastSolverTitle(options.solver) + " with these settings");
    const torch::Tensor codes = interpolatedCodes(latents, alphas);
    return interpolationOf(latents, alphas, fastSampleFrom(model, codes, options, onStep, cancel));
}

Interpolation decodeInterpolation(const ScoreModel &model, const torch::Tensor &latents,
                                  const std::vector<double> &alphas, const OdeSamplerOptions &options,
                                  const SamplerCallback &onStep, const CancelToken *cancel)
{
    const torch::Tensor codes = interpolatedCodes(latents, alphas);
    return interpolationOf(latents, alphas, odeSample(model, 0, 0, options, onStep, cancel, codes));
}

} // namespace sde
