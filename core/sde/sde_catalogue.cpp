#include "sde/sde_catalogue.h"

#include "config/model_config.h"
#include "util/error.h"
#include "util/number_text.h"

#include <algorithm>
#include <cmath>

namespace sde {

namespace {

std::string show(double value)
{
    return numberText(value);
}

SdeDescription describe(Sde::Kind kind)
{
    SdeDescription d{kind, "", "", ""};
    switch (kind) {
    case Sde::Kind::Ve:
        d.name = "vesde";
        d.title = "VE SDE";
        d.description = "variance exploding: the noise scales of SMLD/NCSN as an SDE, dx = sqrt(d sigma^2/dt) dw";
        d.samplingEps = 1e-5;
        d.ancestralSampling = true;
        d.discreteTraining = true;
        d.sigmaConditioned = true;
        break;
    case Sde::Kind::Vp:
        d.name = "vpsde";
        d.title = "VP SDE";
        d.description = "variance preserving: DDPM's Markov chain as an SDE, dx = -beta(t) x / 2 dt + sqrt(beta(t)) dw";
        d.ddpmSchedule = true;
        d.ancestralSampling = true;
        d.discreteTraining = true;
        break;
    case Sde::Kind::SubVp:
        d.name = "subvpsde";
        d.title = "sub-VP SDE";
        d.description = "sub-variance preserving: the VP drift with a smaller diffusion, good likelihoods";
        d.ddpmSchedule = true;
        break;
    }
    return d;
}

} // namespace

std::string SdeDescription::parameterText(const NetworkConfig &model) const
{
    if (kind == Sde::Kind::Ve)
        return "sigma " + show(model.sigmaMin) + " to " + show(model.sigmaMax);
    return "beta " + show(model.betaMin) + " to " + show(model.betaMax);
}

const std::vector<SdeDescription> &sdeCatalogue()
{
    static const std::vector<SdeDescription> catalogue{describe(Sde::Kind::Vp), describe(Sde::Kind::SubVp),
                                                       describe(Sde::Kind::Ve)};
    return catalogue;
}

std::vector<std::string> sdeNames()
{
    std::vector<std::string> names;
    for (const SdeDescription &d : sdeCatalogue())
        names.push_back(d.name);
    return names;
}

const SdeDescription &sdeDescription(const std::string &name)
{
    for (const SdeDescription &d : sdeCatalogue())
        if (d.name == name)
            return d;
    throw Error("unknown SDE \"" + name + "\" (expected vesde, vpsde or subvpsde)");
}

const SdeDescription &sdeDescription(Sde::Kind kind)
{
    for (const SdeDescription &d : sdeCatalogue())
        if (d.kind == kind)
            return d;
    throw Error("unknown SDE kind");
}

int64_t fewestScheduleSteps(const SdeDescription &sde, double betaMax)
{
    if (!sde.ddpmSchedule)
        return 2;
    return std::max<int64_t>(2, static_cast<int64_t>(std::floor(betaMax)) + 1);
}

} // namespace sde
