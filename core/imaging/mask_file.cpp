#include "imaging/mask_file.h"

#include "imaging/image_io.h"
#include "util/error.h"

namespace sde {

torch::Tensor loadFillMask(const std::string &path, int64_t height, int64_t width)
{
    const auto requireMaskSize = [&](int64_t fileWidth, int64_t fileHeight) {
        if (fileHeight != height || fileWidth != width)
            throw Error("the mask '" + path + "' is " + std::to_string(fileWidth) + " x " + std::to_string(fileHeight) +
                        " pixels; its image is " + std::to_string(width) + " x " + std::to_string(height));
    };
    // Its size from its header first: a mask of the wrong size is refused before it is decoded
    // (and checked once more on the decoded picture, whose size is what counts).
    const ImageSize declared = imageFileSize(path);
    requireMaskSize(declared.width, declared.height);
    const torch::Tensor gray = loadImage(path, 1);
    requireMaskSize(gray.size(2), gray.size(1));
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
