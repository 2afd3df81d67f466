#pragma once

#include "workspace.h"

class QPushButton;
class QSpinBox;

namespace sde::ui {

class ImageView;
class RunBar;
class TrajectoryScrubber;
class VariantStrip;

// Colorize: a color or gray image is turned to gray (the mean of R, G and B; a color original is
// kept beside it for comparison) and the dock's sampler (PC: the reference's colorizer) paints
// several variants with an RGB model that keep its gray level.
class ColorizeWorkspace : public Workspace {
    Q_OBJECT
public:
    ColorizeWorkspace(SamplerPanel *sampler, QWidget *parent = nullptr);

    void setModel(std::shared_ptr<ScoreModel> model, const ModelFileInfo &info) override;
    bool openImageFile(const QString &path) override;
    // The image to colorize, [1 or 3, H, W] in [0, 1] at the model's size.
    void setImage(const torch::Tensor &image);
    const torch::Tensor &grayImage() const { return gray_; }

    RunBar *runBar() const { return runBar_; }
    VariantStrip *results() const { return results_; }
    const GenerationResult &lastResult() const { return lastResult_; }

public Q_SLOTS:
    void colorize();

Q_SIGNALS:
    // The user asked for the bundled RGB model.
    void modelRequested(const QString &name);

private:
    void updateReady();

    torch::Tensor original_, gray_;
    ImageView *originalView_, *grayView_;
    RunBar *runBar_;
    VariantStrip *results_;
    TrajectoryScrubber *scrubber_;
    QSpinBox *variants_;
    QPushButton *loadRgb_, *save_;
    GenerationResult lastResult_;
    SamplingSettings lastSettings_;
};

} // namespace sde::ui
