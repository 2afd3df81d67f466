#pragma once

#include "util/batch.h"

#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>

namespace sde {

struct ModelConfig;

// s(x, t): the time-dependent score of the perturbed data distribution.
using ScoreFn = std::function<torch::Tensor(const torch::Tensor &x, const torch::Tensor &t)>;

// A forward SDE dx = f(x, t) dt + g(t) dw on t in [0, T] (T = 1), as in Song et al. 2021 and
// the reference's sde_lib. All functions take a mini-batch x and a vector of times t [B].
class Sde {
public:
    enum class Kind { Ve, Vp, SubVp };

    explicit Sde(int64_t numScales) : n_(numScales) {}
    virtual ~Sde() = default;
    Sde(const Sde &) = delete;
    Sde &operator=(const Sde &) = delete;

    virtual Kind kind() const = 0;
    virtual std::string name() const = 0; // vesde | vpsde | subvpsde, as in configs

    double T() const { return 1.0; }
    int64_t N() const { return n_; }

    // Drift f(x, t) [B, ...] and diffusion g(t) [B].
    virtual std::pair<torch::Tensor, torch::Tensor> sde(const torch::Tensor &x, const torch::Tensor &t) const = 0;
    // Mean [B, ...] and standard deviation [B] of the perturbation kernel p_0t(x(t) | x(0)):
    // mean = a(t) x(0) with the mean coefficient a(t), and the std of marginalStd(t).
    std::pair<torch::Tensor, torch::Tensor> marginalProb(const torch::Tensor &x, const torch::Tensor &t) const;
    // The mean coefficient a(t) (1 for VE); Tweedie's formula needs it too.
    virtual torch::Tensor meanCoefficient(const torch::Tensor &t) const = 0;
    // The std of the perturbation kernel at t [B].
    virtual torch::Tensor marginalStd(const torch::Tensor &t) const = 0;
    // A sample of the prior p_T of the given shape.
    virtual torch::Tensor priorSampling(at::IntArrayRef shape, const torch::TensorOptions &options,
                                        c10::optional<at::Generator> generator = c10::nullopt) const;
    // log p_T(z) per sample [B].
    virtual torch::Tensor priorLogp(const torch::Tensor &z) const;
    // x_{i+1} = x_i + f_i(x_i) + G_i z_i. The default is the Euler–Maruyama discretization;
    // VE and VP override it with the SMLD and DDPM discretizations.
    virtual std::pair<torch::Tensor, torch::Tensor> discretize(const torch::Tensor &x, const torch::Tensor &t) const;
    // The step-size factor of the Langevin corrector: 1 for VE, the DDPM alpha_i for VP-type
    // SDEs (the reference only has it for VP; sub-VP uses the same schedule here).
    virtual torch::Tensor langevinAlpha(const torch::Tensor &t) const;

    // The std of the prior (sigma_max for VE, 1 otherwise).
    virtual double priorStd() const { return 1.0; }

protected:
    // i = floor(t (N - 1) / T), as the reference's discretizations index their tables.
    torch::Tensor timestepIndex(const torch::Tensor &t) const;

private:
    int64_t n_;
};

// Builds the SDE a config names (training.sde with the model's sigma/beta and num_scales).
std::unique_ptr<Sde> createSde(const ModelConfig &config);

} // namespace sde
