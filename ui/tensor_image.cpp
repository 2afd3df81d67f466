#include "tensor_image.h"

#include "imaging/image_io.h"

#include <cmath>

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

int gridIndexAt(const QPoint &pixel, int64_t count, int64_t height, int64_t width)
{
    if (count == 1)
        return pixel.x() >= 0 && pixel.x() < width && pixel.y() >= 0 && pixel.y() < height ? 0 : -1;
    // makeGrid's layout: about square, 2 px of padding around every cell.
    constexpr int64_t padding = 2;
    const auto columns = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(count))));
    const int64_t x = pixel.x() - padding, y = pixel.y() - padding;
    if (x < 0 || y < 0 || x % (width + padding) >= width || y % (height + padding) >= height)
        return -1;
    const int64_t column = x / (width + padding), row = y / (height + padding);
    const int64_t index = row * columns + column;
    return column < columns && index < count ? static_cast<int>(index) : -1;
}

} // namespace sde::ui
