#pragma once

#include <QImage>

#include <torch/torch.h>

namespace sde::ui {

// An image [C, H, W] (C = 1 or 3) in [0, 1] as a QImage (clamped, rounded to 8 bits).
QImage tensorToImage(const torch::Tensor &image);

// A batch [B, C, H, W] in [0, 1] as one grid image (makeGrid's layout: near-square, 2 px gaps).
QImage batchToGrid(const torch::Tensor &batch);

} // namespace sde::ui
