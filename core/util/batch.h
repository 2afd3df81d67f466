#pragma once

#include <torch/torch.h>

#include <vector>

namespace sde {

// Reshapes a per-sample vector [B] so it broadcasts against x ([B, C, H, W] or [B, D]).
inline torch::Tensor batchView(const torch::Tensor &perSample, const torch::Tensor &x)
{
    std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
    shape[0] = perSample.size(0);
    return perSample.reshape(shape);
}

} // namespace sde
