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
    torch::Tensor priorLogp = model.sde().priorLogp(result.latent);
    torch::Tensor bpd = -(priorLogp + result.deltaLogp) / std::log(2.0) / static_cast<double>(dims);
    // The reference's offset for data quantized to 8 bits: 7 - inverse_scaler(-1).
    const double offset = 7.0 - model.inverseScaler(torch::full({1}, -1.0)).item<double>();
    result.bitsPerDim = bpd + offset;
    return result;
}

LikelihoodResult imageBitsPerDim(const ScoreModel &model, const torch::Tensor &image, bool dequantize, uint64_t seed,
                                 const LikelihoodOptions &options, const OdeStepCallback &onStep)
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
    LikelihoodOptions run = options;
    run.generator = generator;
    return bitsPerDim(model, model.scaler(x).to(model.device()), run, {}, onStep);
}

} // namespace sde
