#pragma once

#include "workspace.h"

#include <vector>

class QComboBox;
class QLabel;
class QPushButton;
class QSlider;
class QSpinBox;
class QTimer;

namespace sde::ui {

class ImageView;
class RunBar;

// Interpolate: two images are encoded with the probability-flow ODE; their latents are
// interpolated spherically and every position is decoded ahead in the worker, so the slider
// moves smoothly through the frames. A temperature scales the latents (decoded again without
// encoding again). At temperature 1 the end frames reproduce the inputs; the reconstruction
// error says how closely. Decoding is fast by default (the fast default solver, DPM-Solver++ 3M
// at 20 NFE: the slider's frame comes first, then the others) or exact (RK45 at the Sampler dock's
// ODE tolerance, the reference's); encoding is always RK45. The sequence exports as frames or a
// video.
class InterpolateWorkspace : public Workspace {
    Q_OBJECT
public:
    InterpolateWorkspace(SamplerPanel *sampler, QWidget *parent = nullptr);

    void setModel(std::shared_ptr<ScoreModel> model, const ModelFileInfo &info) override;
    bool openImageFile(const QString &path) override; // fills the first empty end
    // End 0 or 1 of the interpolation, [C, H, W] in [0, 1] at the model's size.
    void setEndpoint(int which, const torch::Tensor &image);
    const torch::Tensor &endpoint(int which) const { return ends_[which]; }

    RunBar *runBar() const { return runBar_; }
    QSlider *positionSlider() const { return position_; }
    QSlider *temperatureSlider() const { return temperature_; }
    ImageView *frameView() const { return frameView_; }
    const torch::Tensor &frames() const { return frames_; }
    const torch::Tensor &latents() const { return latents_; }
    // max |decoded end - input| over both ends, in [0, 1] units; negative before a run at T = 1.
    double reconstructionError() const { return reconstructionError_; }
    double temperature() const;
    // Decode with the fast default solver (true, the default) or RK45 (false).
    void setFastDecode(bool fast);
    bool fastDecode() const;

    bool exportFrames(const QString &folder);
    bool exportVideo(const QString &path);

public Q_SLOTS:
    // Encodes both ends and decodes the interpolation.
    void interpolate();
    // Decodes the interpolation again at the current temperature (latents kept).
    void redecode();

private:
    void startDecode(bool encode);
    void showFrame(int index);
    // The slider's frame of frames_, or an empty view when there are none.
    void showCurrentFrames();
    void updateReady();

    torch::Tensor ends_[2];
    torch::Tensor latents_, frames_;
    std::vector<double> alphas_;        // the positions of frames_
    std::vector<double> pendingAlphas_; // those of the run in progress
    double reconstructionError_ = -1.0;
    double decodedTemperature_ = 1.0;
    bool decodedFast_ = true; // the frames' decoder: the fast default solver, or RK45
    ImageView *endViews_[2];
    ImageView *frameView_;
    RunBar *runBar_;
    QSpinBox *count_;
    QComboBox *decoder_;
    QSlider *position_, *temperature_;
    QLabel *positionLabel_, *temperatureLabel_, *errorLabel_;
    QPushButton *exportFrames_, *exportVideo_;
    QTimer *redecodeTimer_;
};

} // namespace sde::ui
