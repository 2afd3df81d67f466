#include "imaging/mask_file.h"

#include "imaging/image_io.h"
#include "util/error.h"

namespace sde {

torch::Tensor loadFillMask(const std::string &path, int64_t height, int64_t width)
{
    const torch::Tensor gray = loadImageOfSize(path, 1, ImageSize{width, height}, [&](ImageSize found) {
        return "the mask '" + path + "' is " + std::to_string(found.width) + " x " + std::to_string(found.height) +
               " pixels; its image is " + std::to_string(width) + " x " + std::to_string(height);
    });
    // The 8-bit level, then the weight as the studio's canvas computes it (level / 255).
    return (gray * 255.0).round() / 255.0;
}

void saveFillMask(const std::string &path, const torch::Tensor &fillMask)
{
    if (fillMask.dim() != 3 || fillMask.size(0) != 1)
        throw Error("cannot save '" + path + "': a fill mask is [1, H, W]");
    savePng(path, fillMask);
}

} // namespace sde
