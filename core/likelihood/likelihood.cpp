#include "likelihood/likelihood.h"

#include "model/score_model.h"
#include "sde/reverse_sde.h"
#include "util/error.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

namespace sde {

namespace {

// f(x) and its Hutchinson divergence, from one forward and one backward pass.
std::pair<torch::Tensor, torch::Tensor> valueAndDivergence(const std::function<torch::Tensor(const torch::Tensor &)> &f,
                                                           const torch::Tensor &x, const torch::Tensor &probe)
{
    torch::AutoGradMode enableGrad(true);
    torch::Tensor input = x.detach().requires_grad_(true);
    torch::Tensor value = f(input);
    torch::Tensor projected = (value * probe).sum();
    torch::Tensor gradient = torch::autograd::grad({projected}, {input})[0];
    return {value.detach(), (gradient * probe).flatten(1).sum(1).detach()};
}

// The reference's bits/dim from the ODE's end: latent x(T) [B, ...] and the integrated divergence
// delta_logp [B].
torch::Tensor bitsFromEnd(const ScoreModel &model, const torch::Tensor &latent, const torch::Tensor &deltaLogp)
{
    const double dims = static_cast<double>(latent[0].numel());
    torch::Tensor priorLogp = model.sde().priorLogp(latent);
    torch::Tensor bpd = -(priorLogp + deltaLogp) / std::log(2.0) / dims;
    // The reference's offset for data quantized to 8 bits: 7 - inverse_scaler(-1).
    const double offset = 7.0 - model.inverseScaler(torch::full({1}, -1.0)).item<double>();
    return bpd + offset;
}

// imageBitsPerDim's data and probe of one image: both drawn from one generator seeded with `seed`,
// the dequantization noise first.
std::pair<torch::Tensor, torch::Tensor> imageDataAndProbe(const ScoreModel &model, const torch::Tensor &image,
                                                          bool dequantize, uint64_t seed, HutchinsonProbe kind)
{
    if (image.dim() != 3)
        throw Error("bits/dim of an image needs [C, H, W], not " + std::to_string(image.dim()) + " dimensions");
    at::Generator generator = at::detail::createCPUGenerator(seed);
    torch::Tensor x = image.to(torch::kCPU, torch::kFloat32).unsqueeze(0);
    if (!torch::isfinite(x).all().item<bool>())
        throw Error("bits/dim of an image with NaN or infinite values");
    // The reference's data are 8-bit levels; an image that is not (a 16-bit file, a generated
    // sample) is rounded to them first, else the noise would be added to values between levels.
    if (dequantize)
        x = ((x * 255.0).round().clamp(0.0, 255.0) + torch::rand(x.sizes(), generator, torch::kFloat32)) / 256.0;
    x = model.scaler(x);
    const torch::Tensor probe = kind == HutchinsonProbe::Gaussian
                                    ? torch::randn(x.sizes(), generator, torch::kFloat32)
                                    : torch::randint(0, 2, x.sizes(), generator, torch::kFloat32) * 2.0 - 1.0;
    return {x, probe};
}

} // namespace

torch::Tensor hutchinsonDivergence(const std::function<torch::Tensor(const torch::Tensor &)> &f, const torch::Tensor &x,
                                   const torch::Tensor &probe)
{
    return valueAndDivergence(f, x, probe).second;
}

LikelihoodResult bitsPerDim(const ScoreModel &model, const torch::Tensor &data, const LikelihoodOptions &options,
                            const torch::Tensor &givenProbe, const OdeStepCallback &onStep)
{
    if (data.dim() < 2)
        throw Error("bits/dim needs a batch of samples [B, ...]");
    const int64_t batch = data.size(0);
    const int64_t dims = data[0].numel();
    const auto options32 = data.options().dtype(torch::kFloat32);
    torch::Tensor x0 = data.to(torch::kFloat32);

    torch::Tensor probe = givenProbe;
    if (!probe.defined()) {
        probe = options.probe == HutchinsonProbe::Gaussian
                    ? torch::randn(x0.sizes(), options.generator, options32)
                    : torch::randint(0, 2, x0.sizes(), options.generator, options32) * 2.0 - 1.0;
    } else if (!probe.sizes().equals(x0.sizes())) {
        throw Error("the Hutchinson probe must have the data's shape");
    }
    probe = probe.to(x0.device(), torch::kFloat32);

    ReverseSde flow(model.sde(), model.scoreFn(), /*probabilityFlow=*/true);
    auto drift = [&](const torch::Tensor &x, const torch::Tensor &t) { return flow.sde(x, t).first; };

    // One flat float64 state: the data followed by the B log-density changes, as the reference
    // hands scipy one vector (so the step size control sees both).
    const auto shape = x0.sizes().vec();
    OdeFunction rhs = [&](double t, const torch::Tensor &state) {
        torch::Tensor x = state.slice(0, 0, batch * dims).view(shape).to(torch::kFloat32);
        torch::Tensor vt = torch::full({batch}, t, options32);
        // The drift is the value of the pass that the divergence differentiates: one network
        // evaluation, not two, and the plain path's numbers (autograd never takes the oneDNN path).
        auto [dx, div] = valueAndDivergence([&](const torch::Tensor &xx) { return drift(xx, vt); }, x, probe);
        return torch::cat({dx.flatten(), div.flatten()}).to(torch::kFloat64);
    };
    torch::Tensor init = torch::cat({x0.flatten(), torch::zeros({batch}, options32)}).to(torch::kFloat64);
    OdeResult solution = solveOde(rhs, options.eps, model.sde().T(), init, options.ode, onStep);

    LikelihoodResult result;
    result.nfe = solution.nfe;
    result.completed = solution.completed;
    result.latent = solution.y.slice(0, 0, batch * dims).view(shape).to(torch::kFloat32);
    result.deltaLogp = solution.y.slice(0, batch * dims).to(torch::kFloat32);
    result.bitsPerDim = bitsFromEnd(model, result.latent, result.deltaLogp);
    return result;
}

LikelihoodResult imageBitsPerDim(const ScoreModel &model, const torch::Tensor &image, bool dequantize, uint64_t seed,
                                 const LikelihoodOptions &options, const OdeStepCallback &onStep)
{
    auto [x, probe] = imageDataAndProbe(model, image, dequantize, seed, options.probe);
    return bitsPerDim(model, x.to(model.device()), options, probe, onStep);
}

LikelihoodResult imagesBitsPerDim(const ScoreModel &model, const std::vector<torch::Tensor> &images, bool dequantize,
                                  uint64_t seed, const LikelihoodOptions &options,
                                  const ImagesBitsPerDimCallbacks &callbacks)
{
    if (images.empty())
        throw Error("bits/dim needs at least one image");
    const int64_t count = static_cast<int64_t>(images.size());
    std::vector<torch::Tensor> xs, probes;
    for (int64_t i = 0; i < count; ++i) {
        auto [x, probe] = imageDataAndProbe(model, images[static_cast<size_t>(i)], dequantize,
                                            seed + static_cast<uint64_t>(i), options.probe);
        xs.push_back(x);
        probes.push_back(probe);
    }
    // A lone image runs beside a copy of itself: LibTorch evaluates batches of one with its own
    // slow convolutions, larger ones with oneDNN's (the copy's path is the image's own).
    const int64_t rows = model.device().is_cpu() ? std::max<int64_t>(count, 2) : count;
    for (int64_t i = count; i < rows; ++i) {
        xs.push_back(xs.front());
        probes.push_back(probes.front());
    }
    const torch::Tensor x0 = torch::cat(xs).to(model.device());
    const torch::Tensor probe = torch::cat(probes).to(model.device());
    const auto shape = x0.sizes().vec();
    const int64_t dims = x0[0].numel();
    std::vector<int64_t> oneShape = shape;
    oneShape[0] = 1;

    ReverseSde flow(model.sde(), model.scoreFn(), /*probabilityFlow=*/true);
    torch::Tensor sampleNfe = torch::zeros({rows}, torch::kLong);
    // Each row's state is its image followed by its log-density change, as bitsPerDim's one state
    // is for one image: its RK45 error norm covers both.
    BatchOdeFunction rhs = [&](const torch::Tensor &t, const torch::Tensor &y, const torch::Tensor &which) {
        const int64_t m = y.size(0);
        std::vector<int64_t> rowShape = shape;
        rowShape[0] = m;
        torch::Tensor x = y.slice(1, 0, dims).reshape(rowShape).to(torch::kFloat32);
        torch::Tensor vt = t.to(x.device(), torch::kFloat32);
        const torch::Tensor whichHere = which.to(probe.device());
        auto [dx, div] = valueAndDivergence([&](const torch::Tensor &xx) { return flow.sde(xx, vt).first; }, x,
                                            probe.index_select(0, whichHere));
        sampleNfe.index_add_(0, which.to(torch::kCPU), torch::ones({m}, torch::kLong));
        return torch::cat({dx.flatten(1), div.unsqueeze(1)}, 1).to(torch::kFloat64);
    };
    const double t1 = model.sde().T();
    std::vector<bool> reported(static_cast<size_t>(count), false);
    const auto reportFinished = [&](const torch::Tensor &t, const torch::Tensor &y, bool all) {
        if (!callbacks.onImage)
            return;
        const torch::Tensor times = t.to(torch::kCPU);
        for (int64_t i = 0; i < count; ++i) {
            if (reported[static_cast<size_t>(i)] || (!all && times[i].item<double>() != t1))
                continue;
            reported[static_cast<size_t>(i)] = true;
            const torch::Tensor row = y.slice(0, i, i + 1);
            const double bpd = bitsFromEnd(model, row.slice(1, 0, dims).reshape(oneShape).to(torch::kFloat32),
                                           row.select(1, dims).to(torch::kFloat32))
                                   .item<double>();
            callbacks.onImage(i, bpd, sampleNfe[i].item<int64_t>());
        }
    };
    BatchOdeStepCallback onStep = [&](int64_t, const torch::Tensor &t, const torch::Tensor &y, int64_t nfe) {
        reportFinished(t, y, false);
        if (!callbacks.onRound)
            return true;
        const torch::Tensor times = t.slice(0, 0, count);
        const double integrated = ((times - options.eps) / (t1 - options.eps)).sum().item<double>();
        return callbacks.onRound(times, integrated, nfe);
    };
    const torch::Tensor init =
        torch::cat({x0.flatten(1), torch::zeros({rows, 1}, x0.options())}, 1).to(torch::kFloat64);
    OdeResult solution = solveOdePerSample(rhs, options.eps, t1, init, options.ode, onStep);

    LikelihoodResult result;
    result.nfe = solution.nfe;
    result.completed = solution.completed;
    result.latent = solution.y.slice(1, 0, dims).reshape(shape).slice(0, 0, count).to(torch::kFloat32);
    result.deltaLogp = solution.y.select(1, dims).slice(0, 0, count).to(torch::kFloat32);
    result.bitsPerDim = bitsFromEnd(model, result.latent, result.deltaLogp);
    result.sampleNfe = sampleNfe.slice(0, 0, count).clone();
    if (result.completed)
        reportFinished(torch::full({count}, t1, torch::kFloat64), solution.y, true);
    return result;
}

} // namespace sde
