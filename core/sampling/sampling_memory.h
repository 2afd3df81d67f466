#pragma once

#include "config/model_config.h"

#include <torch/torch.h>

#include <cstdint>
#include <optional>

namespace sde {

// A lower bound of the bytes one image of a sampling batch takes at once, float32: the sampler's
// state (x, its mean, the noise, the score, the denoised estimate and their temporaries: eight
// images' worth) and what the network holds during one forward pass without gradients (the skip
// connections of its down path, num_res_blocks feature maps a level and the first convolution's;
// the two largest feature maps of a block; one head's attention weights, (H W)^2, at each attention
// resolution). A point model's network is counted as its state alone. Real use is higher (the
// oneDNN path's reorders, the allocator's slack): the bound only refuses what cannot fit.
int64_t samplingBytesPerImage(const ModelConfig &config);

// MemAvailable of /proc/meminfo in bytes: what the kernel can give without swapping. Nothing where
// it cannot be read.
std::optional<int64_t> availableMemoryBytes();

// Throws sde::Error when sampling `batch` images of `config` on the CPU needs more than the
// memory available ("a batch of 4096 images of this model needs at least 61.3 GiB while
// sampling; 18.2 GiB are available: sample a smaller batch, or several"), so that a batch that
// cannot fit is refused before it is allocated instead of swapping or being killed. Checks
// nothing on CUDA, whose allocator reports its own out-of-memory error, or when the available
// memory cannot be read.
void requireMemoryForSampling(const ModelConfig &config, int64_t batch, const torch::Device &device);

} // namespace sde
