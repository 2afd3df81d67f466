#pragma once

#include "workspace.h"

class QAction;
class QDoubleSpinBox;
class QSlider;
class QSpinBox;

namespace sde::ui {

class MaskCanvas;
class RunBar;
class TrajectoryScrubber;
class VariantStrip;

// Inpaint: an image with a painted mask; the dock's sampler fills the masked pixels (PC: the
// reference's inpainter; the ODE and fast samplers: inpaint() with known pixels), several seeds
// side by side, the trajectory scrubbed as in Generate, and a result can go back to the canvas
// to continue. Kept pixels (mask 0) stay the input's exactly; soft mask edges blend the filled
// pixels into the kept ones. Masks load and save as PNG (white fills, black keeps).
class InpaintWorkspace : public Workspace {
    Q_OBJECT
public:
    InpaintWorkspace(SamplerPanel *sampler, QWidget *parent = nullptr);

    void setModel(std::shared_ptr<ScoreModel> model, const ModelFileInfo &info) override;
    bool openImageFile(const QString &path) override;
    // The image to paint on, [C, H, W] in [0, 1] at the model's size.
    void setImage(const torch::Tensor &image);
    const torch::Tensor &imageTensor() const { return image_; }
    bool loadMask(const QString &path);
    bool saveMask(const QString &path);

    MaskCanvas *canvas() const { return canvas_; }
    RunBar *runBar() const { return runBar_; }
    VariantStrip *results() const { return results_; }
    TrajectoryScrubber *scrubber() const { return scrubber_; }
    const GenerationResult &lastResult() const { return lastResult_; }

public Q_SLOTS:
    void inpaint();
    // The chosen result becomes the canvas image; the mask is kept.
    void sendResultToCanvas();

private:
    void updateReady();

    torch::Tensor image_;
    MaskCanvas *canvas_;
    RunBar *runBar_;
    VariantStrip *results_;
    TrajectoryScrubber *scrubber_;
    QSpinBox *variants_;
    QDoubleSpinBox *brushSize_;
    QSlider *hardness_, *opacity_;
    QAction *brush_, *eraser_, *sendBack_, *saveResults_;
    GenerationResult lastResult_;
    SamplingSettings lastSettings_;
};

} // namespace sde::ui
