#include "run_bar.h"

#include "form_widgets.h"
#include "sampling_worker.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>

namespace sde::ui {

QString etaText(double seconds)
{
    if (seconds < 0)
        return QString();
    const int s = static_cast<int>(seconds + 0.5);
    return s >= 60 ? QString("%1m%2s").arg(s / 60).arg(s % 60, 2, 10, QChar('0')) : QString("%1s").arg(s);
}

QString progressText(qint64 step, qint64 total, qint64 nfe, double etaSeconds)
{
    return RunBar::tr("step %1/%2  NFE %3  %4")
        .arg(step)
        .arg(total > 0 ? QString::number(total) : QStringLiteral("?"))
        .arg(nfe)
        .arg(etaSeconds >= 0 ? RunBar::tr("ETA %1").arg(etaText(etaSeconds)) : QString());
}

RunBar::RunBar(const QString &actionText, SamplingRunner *runner, QWidget *parent)
    : QWidget(parent), runner_(runner), run_(new QPushButton(actionText, this)),
      cancel_(new QPushButton(tr("Cancel"), this)), progress_(new QProgressBar(this)), status_(new ElidedLabel(this))
{
    run_->setObjectName("runButton");
    run_->setDefault(true);
    cancel_->setObjectName("cancelButton");
    cancel_->setToolTip(tr("Stop within one step (Esc)"));
    progress_->setObjectName("runProgress");
    progress_->setMaximumWidth(260);
    progress_->setValue(0);
    status_->setObjectName("runStatus");
    status_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    auto *layout = new QHBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(run_);
    layout->addWidget(cancel_);
    layout->addWidget(progress_);
    layout->addWidget(status_, 1);
    connect(run_, &QPushButton::clicked, this, &RunBar::runRequested);
    connect(cancel_, &QPushButton::clicked, this, [this] {
        runner_->cancel();
        status_->setText(tr("cancelling…"));
    });
    connect(runner_, &SamplingRunner::started, this, [this] {
        reasonShown_ = false;
        progress_->setRange(0, 0);
        status_->setText(tr("starting…"));
        update();
    });
    connect(runner_, &SamplingRunner::progress, this, [this](qint64 step, qint64 total, qint64 nfe, double eta) {
        progress_->setRange(0, total > 0 ? static_cast<int>(total) : 0);
        progress_->setValue(static_cast<int>(step));
        status_->setText(progressText(step, total, nfe, eta));
    });
    connect(runner_, &SamplingRunner::finished, this, [this](const GenerationResult &result) {
        progress_->setRange(0, 1);
        progress_->setValue(result.completed ? 1 : 0);
        status_->setText(result.completed ? tr("done: %1 NFE, %2 s").arg(result.nfe).arg(result.seconds, 0, 'f', 1)
                                          : tr("cancelled at step %1").arg(result.steps));
        update();
    });
    connect(runner_, &SamplingRunner::failed, this, [this](const QString &message) {
        progress_->setRange(0, 1);
        progress_->setValue(0);
        status_->setText(tr("failed: %1").arg(message));
        update();
    });
    update();
}

void RunBar::setStatus(const QString &text)
{
    status_->setText(text);
}

QString RunBar::status() const
{
    return status_->text();
}

void RunBar::setReady(bool ready, const QString &reason)
{
    ready_ = ready;
    run_->setToolTip(reason);
    // A reason that no longer holds does not stay on the line; a run's outcome does.
    if (!runner_->busy() && (!reason.isEmpty() || reasonShown_)) {
        status_->setText(reason.isEmpty() ? readyText() : reason);
        reasonShown_ = true;
    }
    update();
}

void RunBar::clearOutcome()
{
    if (runner_->busy())
        return;
    progress_->setRange(0, 1);
    progress_->setValue(0);
    status_->setText(run_->toolTip().isEmpty() ? readyText() : run_->toolTip());
    reasonShown_ = true;
}

QString RunBar::readyText() const
{
    return tr("ready: %1 (Ctrl+Enter)").arg(run_->text());
}

void RunBar::update()
{
    run_->setEnabled(ready_ && !runner_->busy());
    cancel_->setEnabled(runner_->busy());
}

} // namespace sde::ui
