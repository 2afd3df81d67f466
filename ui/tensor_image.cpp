#include "tensor_image.h"

#include "imaging/image_io.h"

namespace sde::ui {

QImage tensorToImage(const torch::Tensor &image)
{
    torch::Tensor hwc = (image.detach().to(torch::kCPU, torch::kFloat32).clamp(0.0, 1.0) * 255.0)
                            .round()
                            .to(torch::kUInt8)
                            .permute({1, 2, 0})
                            .contiguous();
    const int height = static_cast<int>(hwc.size(0)), width = static_cast<int>(hwc.size(1));
    const int channels = static_cast<int>(hwc.size(2));
    QImage out(width, height, channels == 1 ? QImage::Format_Grayscale8 : QImage::Format_RGB888);
    const uint8_t *data = hwc.data_ptr<uint8_t>();
    for (int y = 0; y < height; ++y)
        std::memcpy(out.scanLine(y), data + static_cast<size_t>(y) * width * channels,
                    static_cast<size_t>(width) * channels);
    return out;
}

QImage batchToGrid(const torch::Tensor &batch)
{
    return tensorToImage(batch.size(0) == 1 ? batch[0] : makeGrid(batch));
}

} // namespace sde::ui
