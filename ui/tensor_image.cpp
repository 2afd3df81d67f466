#include "tensor_image.h"

#include "imaging/image_io.h"
#include "imaging/point_plot.h"

#include <algorithm>

namespace sde::ui {

namespace {

// makeGrid's layout: kGridPadding pixels of padding around every cell.
bool inGridGap(int64_t x, int64_t y, int64_t height, int64_t width)
{
    x -= kGridPadding;
    y -= kGridPadding;
    return x < 0 || y < 0 || x % (width + kGridPadding) >= width || y % (height + kGridPadding) >= height;
}

} // namespace

QImage tensorToImage(const torch::Tensor &image)
{
    torch::Tensor hwc = (image.detach().to(torch::kCPU, torch::kFloat32).clamp(0.0, 1.0) * 255.0)
                            .round()
                            .to(torch::kUInt8)
                            .permute({1, 2, 0})
                            .contiguous();
    const int height = static_cast<int>(hwc.size(0)), width = static_cast<int>(hwc.size(1));
    const int channels = static_cast<int>(hwc.size(2));
    const QImage::Format format = channels == 1   ? QImage::Format_Grayscale8
                                  : channels == 4 ? QImage::Format_RGBA8888
                                                  : QImage::Format_RGB888;
    QImage out(width, height, format);
    const uint8_t *data = hwc.data_ptr<uint8_t>();
    for (int y = 0; y < height; ++y)
        std::memcpy(out.scanLine(y), data + static_cast<size_t>(y) * width * channels,
                    static_cast<size_t>(width) * channels);
    return out;
}

QImage batchToGrid(const torch::Tensor &batch)
{
    if (batch.size(0) == 1)
        return tensorToImage(batch[0]);
    // RGB plus an opaque alpha channel; the gaps are 0 in all four, so transparent.
    torch::Tensor cpu = batch.detach().to(torch::kCPU, torch::kFloat32);
    torch::Tensor rgb = cpu.size(1) == 1 ? cpu.expand({-1, 3, -1, -1}) : cpu;
    return tensorToImage(
        makeGrid(torch::cat({rgb, torch::ones_like(cpu.select(1, 0)).unsqueeze(1)}, 1), 0, kGridPadding, 0.0));
}

QImage pointCloudImage(const torch::Tensor &points, int size, const QPalette &palette, const torch::Tensor &background)
{
    const QColor paper = palette.color(QPalette::Base);
    return tensorToImage(renderPointCloud(
        points, size, kPointCloudExtent, background,
        {static_cast<float>(paper.redF()), static_cast<float>(paper.greenF()), static_cast<float>(paper.blueF())}));
}

PreviewLayout previewLayout(const ModelConfig &config)
{
    return {config.isPointModel(), config.data.imageSize};
}

QImage previewForScreen(const QImage &picture, const PreviewLayout &layout, const QPalette &palette)
{
    QImage out = picture.convertToFormat(QImage::Format_ARGB32);
    const QRgb white = qRgb(255, 255, 255);
    if (layout.points) {
        const QRgb paper = palette.color(QPalette::Base).rgb();
        for (int y = 0; y < out.height(); ++y) {
            auto *line = reinterpret_cast<QRgb *>(out.scanLine(y));
            std::replace(line, line + out.width(), white, paper);
        }
        return out;
    }
    const int64_t cell = layout.cellSize, pitch = cell + kGridPadding;
    if (cell <= 0 || out.width() <= cell || out.height() <= cell)
        return out; // one sample: no grid
    const auto clear = [&](int64_t x, int64_t y) { out.setPixel(static_cast<int>(x), static_cast<int>(y), 0); };
    for (int64_t y = 0; y < out.height(); ++y)
        for (int64_t x = 0; x < out.width(); ++x)
            if (inGridGap(x, y, cell, cell))
                clear(x, y);
    // The cells the last row has no sample for are white in the file (a sample all white is not
    // told apart from them).
    const int64_t rows = (out.height() - kGridPadding) / pitch, columns = (out.width() - kGridPadding) / pitch;
    const int64_t top = kGridPadding + (rows - 1) * pitch;
    for (int64_t column = columns - 1; column >= 0 && rows > 0; --column) {
        const int64_t left = kGridPadding + column * pitch;
        bool empty = true;
        for (int64_t y = top; y < top + cell && empty; ++y)
            for (int64_t x = left; x < left + cell && empty; ++x)
                empty = out.pixel(static_cast<int>(x), static_cast<int>(y)) == white;
        if (!empty)
            break;
        for (int64_t y = top; y < top + cell; ++y)
            for (int64_t x = left; x < left + cell; ++x)
                clear(x, y);
    }
    return out;
}

int gridIndexAt(const QPoint &pixel, int64_t count, int64_t height, int64_t width)
{
    if (count == 1)
        return pixel.x() >= 0 && pixel.x() < width && pixel.y() >= 0 && pixel.y() < height ? 0 : -1;
    if (pixel.x() < 0 || pixel.y() < 0 || inGridGap(pixel.x(), pixel.y(), height, width))
        return -1;
    const int64_t x = pixel.x() - kGridPadding, y = pixel.y() - kGridPadding;
    const int64_t columns = gridColumns(count);
    const int64_t column = x / (width + kGridPadding), row = y / (height + kGridPadding);
    const int64_t index = row * columns + column;
    return column < columns && index < count ? static_cast<int>(index) : -1;
}

} // namespace sde::ui
