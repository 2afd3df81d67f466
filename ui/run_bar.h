#pragma once

#include <QString>
#include <QWidget>

class QLabel;
class QProgressBar;
class QPushButton;

namespace sde::ui {

class SamplingRunner;

// The run controls of a workspace: its action button, Cancel, a progress bar and a line of
// status (step, NFE, ETA while running; the outcome after). Follows a SamplingRunner.
class RunBar : public QWidget {
    Q_OBJECT
public:
    RunBar(const QString &actionText, SamplingRunner *runner, QWidget *parent = nullptr);

    QPushButton *runButton() const { return run_; }
    QPushButton *cancelButton() const { return cancel_; }
    void setStatus(const QString &text);
    QString status() const;
    // Whether the action may start (a model that fits, inputs given); the reason why not is the
    // tooltip, and the status line while nothing runs.
    void setReady(bool ready, const QString &reason = QString());
    // Forgets the last run's outcome (after a model switch: it was another model's): the
    // progress goes to zero and the line shows why the action cannot start, or that it can.
    void clearOutcome();

Q_SIGNALS:
    void runRequested();

private:
    void update();
    QString readyText() const;

    SamplingRunner *runner_;
    QPushButton *run_, *cancel_;
    QProgressBar *progress_;
    QLabel *status_;
    bool ready_ = true;
    bool reasonShown_ = false; // the line shows a reason, not a run's progress or outcome
};

// "1m05s" / "12s"; empty for a negative time.
QString etaText(double seconds);
// A run's progress as one line: "step 12/100  NFE 12  ETA 8s" (total 0: unknown).
QString progressText(qint64 step, qint64 total, qint64 nfe, double etaSeconds);

} // namespace sde::ui
