#pragma once

#include <QImage>
#include <QPalette>
#include <QPoint>

#include <torch/torch.h>

#include "config/model_config.h"

namespace sde::ui {

// An image [C, H, W] (C = 1 gray, 3 RGB, 4 RGBA) in [0, 1] as a QImage (clamped, rounded to 8 bits).
QImage tensorToImage(const torch::Tensor &image);

// A batch [B, C, H, W] in [0, 1] as one grid image for the screen: makeGrid's layout (near-square,
// 2 px gaps) with transparent gaps, so the widget's background shows between the cells (files
// keep makeGrid's white gaps).
QImage batchToGrid(const torch::Tensor &batch);

// renderPointCloud for the screen: a size x size picture of points [N, 2] on the palette's Base
// color, the optional background cloud under them.
QImage pointCloudImage(const torch::Tensor &points, int size, const QPalette &palette,
                       const torch::Tensor &background = {});

// How a training run draws its previews: a makeGrid grid of cellSize x cellSize samples, or a
// point model's renderPointCloud picture.
struct PreviewLayout {
    bool points = false;
    int64_t cellSize = 0;
};
PreviewLayout previewLayout(const ModelConfig &config);

// A preview picture as the trainer writes it (white gaps and white empty cells, or white paper) as
// the screen shows it: the grid's gaps and empty cells transparent, a point cloud's white paper the
// palette's Base color.
QImage previewForScreen(const QImage &picture, const PreviewLayout &layout, const QPalette &palette);

// The sample under a pixel of batchToGrid's image of `count` samples of height x width (a batch
// of one is the sample itself); -1 on a gap or outside.
int gridIndexAt(const QPoint &pixel, int64_t count, int64_t height, int64_t width);

} // namespace sde::ui
