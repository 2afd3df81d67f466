#pragma once

#include <QImage>
#include <QPalette>
#include <QPoint>

#include <torch/torch.h>

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

// A preview picture as the trainer writes it (a makeGrid grid of cells cellSize x cellSize, or a
// point model's renderPointCloud picture on white) as the screen shows it: the grid's gaps
// transparent, the point cloud's white paper the palette's Base color.
QImage previewForScreen(const QImage &picture, bool points, int64_t cellSize, const QPalette &palette);

// The sample under a pixel of batchToGrid's image of `count` samples of height x width (a batch
// of one is the sample itself); -1 on a gap or outside.
int gridIndexAt(const QPoint &pixel, int64_t count, int64_t height, int64_t width);

} // namespace sde::ui
