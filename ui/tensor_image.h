#pragma once

#include <QImage>
#include <QPoint>

#include <torch/torch.h>

namespace sde::ui {

// An image [C, H, W] (C = 1 or 3) in [0, 1] as a QImage (clamped, rounded to 8 bits).
QImage tensorToImage(const torch::Tensor &image);

// A batch [B, C, H, W] in [0, 1] as one grid image (makeGrid's layout: near-square, 2 px gaps).
QImage batchToGrid(const torch::Tensor &batch);

// The sample under a pixel of batchToGrid's image of `count` samples of height x width (a batch
// of one is the sample itself); -1 on a gap or outside.
int gridIndexAt(const QPoint &pixel, int64_t count, int64_t height, int64_t width);

} // namespace sde::ui
