#pragma once

#include "sampling_worker.h"

#include <QWidget>

#include <vector>

class QLabel;
class QSlider;
class QTimer;
class QToolButton;

namespace sde::ui {

class ImageView;
class PointCloudPlot;

// Steps through the recorded frames of a run: a slider (and the arrow keys, Home/End), play and
// pause, x_t beside the denoised estimate of x_0, with the step, t and sigma(t) shown. For a point
// model the particles are drawn over the data distribution instead.
class TrajectoryScrubber : public QWidget {
    Q_OBJECT
public:
    explicit TrajectoryScrubber(QWidget *parent = nullptr);

    // Switches between image frames and particle frames (with the data cloud behind them).
    void setPointMode(bool points, const torch::Tensor &background = {});
    void clear();
    // Live frames during a run: the view follows the newest.
    void appendFrame(const TrajectoryFrame &frame);
    void setFrames(std::vector<TrajectoryFrame> frames);

    int frameCount() const { return static_cast<int>(frames_.size()); }
    int currentFrame() const;
    void setCurrentFrame(int index);
    const std::vector<TrajectoryFrame> &frames() const { return frames_; }
    QSlider *slider() const { return slider_; }
    ImageView *stateView() const { return stateView_; }
    ImageView *denoisedView() const { return denoisedView_; }
    PointCloudPlot *pointPlot() const { return pointPlot_; }
    bool playing() const;

public Q_SLOTS:
    void togglePlay();

Q_SIGNALS:
    void frameShown(int index);

protected:
    void keyPressEvent(QKeyEvent *event) override;

private:
    void show(int index);

    std::vector<TrajectoryFrame> frames_;
    bool points_ = false;
    QSlider *slider_;
    QToolButton *play_;
    QLabel *label_;
    QTimer *timer_;
    ImageView *stateView_;
    ImageView *denoisedView_;
    PointCloudPlot *pointPlot_;
    QWidget *imagePair_;
};

} // namespace sde::ui
