#include "trajectory_scrubber.h"

#include "image_view.h"
#include "point_cloud_plot.h"
#include "tensor_image.h"

#include <QHBoxLayout>
#include <QKeyEvent>
#include <QLabel>
#include <QSlider>
#include <QStyle>
#include <QTimer>
#include <QToolButton>
#include <QVBoxLayout>

namespace sde::ui {

TrajectoryScrubber::TrajectoryScrubber(QWidget *parent)
    : QWidget(parent), slider_(new QSlider(Qt::Horizontal, this)), play_(new QToolButton(this)),
      label_(new QLabel(this)), timer_(new QTimer(this)), stateView_(new ImageView(this)),
      denoisedView_(new ImageView(this)), pointPlot_(new PointCloudPlot(this)), imagePair_(new QWidget(this))
{
    setFocusPolicy(Qt::StrongFocus);
    slider_->setObjectName("trajectorySlider");
    slider_->setEnabled(false);
    slider_->setToolTip(tr("Step through the recorded frames (Left/Right, Home/End)"));
    play_->setObjectName("playTrajectory");
    play_->setIcon(style()->standardIcon(QStyle::SP_MediaPlay));
    play_->setToolTip(tr("Play or pause the trajectory (Space)"));
    play_->setEnabled(false);
    label_->setObjectName("trajectoryLabel");
    label_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    // As wide as its widest text, so that the slider keeps its length as the numbers change.
    label_->setFixedWidth(
        label_->fontMetrics().horizontalAdvance(tr("step 0000/0000   t = 0.0000   σ(t) = 0.0000e-00")));
    stateView_->setObjectName("stateView");
    stateView_->setCaption(tr("x(t): the noisy state"));
    stateView_->setPlaceholder(tr("Generate to see the reverse-time SDE turn noise into samples"));
    denoisedView_->setObjectName("denoisedView");
    denoisedView_->setCaption(tr("denoised estimate of x(0)"));
    timer_->setInterval(80);

    auto *pair = new QHBoxLayout(imagePair_);
    pair->setContentsMargins(0, 0, 0, 0);
    pair->addWidget(stateView_);
    pair->addWidget(denoisedView_);
    pointPlot_->hide();

    auto *controls = new QHBoxLayout;
    controls->addWidget(play_);
    controls->addWidget(slider_, 1);
    controls->addWidget(label_);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(imagePair_, 1);
    layout->addWidget(pointPlot_, 1);
    layout->addLayout(controls);

    connect(slider_, &QSlider::valueChanged, this, [this](int value) { show(value); });
    connect(play_, &QToolButton::clicked, this, &TrajectoryScrubber::togglePlay);
    connect(timer_, &QTimer::timeout, this, [this] {
        if (slider_->value() >= slider_->maximum()) {
            togglePlay();
            return;
        }
        slider_->setValue(slider_->value() + 1);
    });
}

void TrajectoryScrubber::setPointMode(bool points, const torch::Tensor &background)
{
    points_ = points;
    imagePair_->setVisible(!points);
    pointPlot_->setVisible(points);
    if (points && background.defined())
        pointPlot_->setBackground(background);
}

void TrajectoryScrubber::clear()
{
    if (playing())
        togglePlay();
    frames_.clear();
    slider_->setRange(0, 0);
    slider_->setEnabled(false);
    play_->setEnabled(false);
    label_->clear();
}

void TrajectoryScrubber::appendFrame(const TrajectoryFrame &frame)
{
    frames_.push_back(frame);
    const QSignalBlocker block(slider_);
    slider_->setRange(0, frameCount() - 1);
    slider_->setValue(frameCount() - 1);
    show(frameCount() - 1);
}

void TrajectoryScrubber::setFrames(std::vector<TrajectoryFrame> frames)
{
    frames_ = std::move(frames);
    const bool any = !frames_.empty();
    const QSignalBlocker block(slider_);
    slider_->setRange(0, any ? frameCount() - 1 : 0);
    slider_->setEnabled(frameCount() > 1);
    play_->setEnabled(frameCount() > 1);
    slider_->setValue(any ? frameCount() - 1 : 0);
    if (any)
        show(frameCount() - 1);
}

int TrajectoryScrubber::currentFrame() const
{
    return slider_->value();
}

void TrajectoryScrubber::setCurrentFrame(int index)
{
    slider_->setValue(index);
}

bool TrajectoryScrubber::playing() const
{
    return timer_->isActive();
}

void TrajectoryScrubber::togglePlay()
{
    if (timer_->isActive()) {
        timer_->stop();
        play_->setIcon(style()->standardIcon(QStyle::SP_MediaPlay));
        return;
    }
    if (frameCount() < 2)
        return;
    if (slider_->value() >= slider_->maximum())
        slider_->setValue(0);
    timer_->start();
    play_->setIcon(style()->standardIcon(QStyle::SP_MediaPause));
}

void TrajectoryScrubber::keyPressEvent(QKeyEvent *event)
{
    switch (event->key()) {
    case Qt::Key_Left:
        slider_->setValue(slider_->value() - 1);
        return;
    case Qt::Key_Right:
        slider_->setValue(slider_->value() + 1);
        return;
    case Qt::Key_Home:
        slider_->setValue(0);
        return;
    case Qt::Key_End:
        slider_->setValue(slider_->maximum());
        return;
    case Qt::Key_Space:
        togglePlay();
        return;
    default:
        QWidget::keyPressEvent(event);
    }
}

void TrajectoryScrubber::show(int index)
{
    if (index < 0 || index >= frameCount())
        return;
    const TrajectoryFrame &frame = frames_[static_cast<size_t>(index)];
    if (points_) {
        pointPlot_->setParticles(frame.x);
    } else {
        stateView_->setImage(batchToGrid(frame.x));
        denoisedView_->setImage(batchToGrid(frame.denoised));
    }
    label_->setText(tr("step %1/%2   t = %3   σ(t) = %4")
                        .arg(frame.step)
                        .arg(frame.totalSteps > 0 ? QString::number(frame.totalSteps) : QStringLiteral("?"))
                        .arg(frame.t, 0, 'f', 4)
                        .arg(frame.sigma, 0, 'g', 4));
    Q_EMIT frameShown(index);
}

} // namespace sde::ui
