#pragma once

#include "config/model_config.h"

#include <c10/core/Device.h>

#include <cstdint>
#include <optional>

namespace sde {

// A lower bound of the bytes one image of a sampling batch takes at once, float32: two images'
// worth of sampler state (x and the update being formed; samplers hold more), and what the
// network holds during one forward pass without gradients: the skip connections of its down
// path (num_res_blocks feature maps a level and the first convolution's) and the two largest
// feature maps of a block, which the top of the up path holds besides. Attention weights are left
// out (the oneDNN path forms them one image at a time), and a point model's network is counted as
// nothing. Real use is higher (1.4 MiB an image measured for the bundled Fashion-MNIST model,
// against 0.45 MiB here): the bound only refuses what cannot fit.
int64_t samplingBytesPerImage(const ModelConfig &config);

// What this process can have without swapping, in bytes: MemAvailable of /proc/meminfo, or less
// where a cgroup (v2: memory.max less memory.current) limits it, as in a container. Nothing where
// neither can be read.
std::optional<int64_t> availableMemoryBytes();

// Throws sde::Error when sampling `batch` images of `config` needs more than the memory available
// ("a batch of 4096 images of this model needs at least 61.3 GiB while sampling; 18.2 GiB are
// available: sample a smaller batch, or several"), so that a batch that cannot fit is refused
// before it is allocated instead of swapping or being killed. Every sampler's entry calls it (PC,
// the probability-flow ODE, the fast samplers): generation, inpainting, colorization,
// interpolation and training previews alike. Checks nothing on CUDA, whose allocator reports its
// own out-of-memory error, or when the available memory cannot be read.
void requireMemoryForSampling(const ModelConfig &config, int64_t batch, const c10::Device &device);

} // namespace sde
