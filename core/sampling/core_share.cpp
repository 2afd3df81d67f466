#include "sampling/core_share.h"

namespace sde {

CoreShare::CoreShare(const torch::Device &device, const SamplerCallback &onStep) : onStep_(onStep)
{
    if (!device.is_cpu())
        return;
    share_ = std::make_unique<ThreadShare>();
    share_->apply();
    if (onStep)
        onStep_ = [share = share_.get(), onStep](const SamplerStep &info) {
            share->apply();
            onStep(info);
        };
}

} // namespace sde
