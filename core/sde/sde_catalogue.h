#pragma once

#include "sde/sde.h"

#include <string>
#include <vector>

namespace sde {

struct NetworkConfig;

// What one kind of forward SDE is, described once (Song et al. 2021, section 3.4 and appendix B;
// the reference's sde_lib): configs, the samplers, the trainer and the studio read these facts
// instead of comparing names.
struct SdeDescription {
    Sde::Kind kind;
    std::string name;        // as configs spell it (training.sde): "vesde", "vpsde", "subvpsde"
    std::string title;       // "VE SDE"
    std::string description; // one sentence for people
    // The default last time of the reverse process (the reference's sampling.eps): 1e-5 for VE,
    // 1e-3 for the VP-type SDEs, whose marginal std vanishes faster near t = 0.
    double samplingEps = 1e-3;
    // Reverse diffusion, ancestral sampling and the Langevin corrector use the DDPM schedule
    // beta_i = beta(t_i) / N of the discretization (VP, and sub-VP, which borrows it): every beta_i
    // must stay below 1, so at least floor(beta_max) + 1 steps. VE's SMLD schedule has no floor.
    bool ddpmSchedule = false;
    // The reference defines ancestral sampling for VE (SMLD) and VP (DDPM) only.
    bool ancestralSampling = false;
    // The reference trains it with discrete time labels too (SMLD or DDPM losses); sub-VP is
    // continuous only.
    bool discreteTraining = false;
    // The network is fed sigma(t) (VE, continuous) rather than t * 999 (the VP-type SDEs).
    bool sigmaConditioned = false;
    // The SDE's own scale parameters for people, e.g. "sigma 0.01 to 50" or "beta 0.1 to 20".
    std::string parameterText(const NetworkConfig &model) const;
};

// VE, VP and sub-VP, in the order the studio lists them.
const std::vector<SdeDescription> &sdeCatalogue();
// The SDE a config names; throws sde::Error "unknown SDE "x" (expected vesde, vpsde or subvpsde)".
const SdeDescription &sdeDescription(const std::string &name);
const SdeDescription &sdeDescription(Sde::Kind kind);
// The names as configs spell them, in catalogue order.
std::vector<std::string> sdeNames();
// The fewest reverse-time steps with which a sampler that uses the SDE's DDPM schedule stays
// finite (beta_max / N < 1); 2 where nothing limits it.
int64_t fewestScheduleSteps(const SdeDescription &sde, double betaMax);

} // namespace sde
