#pragma once

#include "config/model_config.h"
#include "train/training_run.h"

#include <QImage>
#include <QObject>
#include <QString>
#include <QThread>

namespace sde::ui {

// Prepares (sde::prepareTrainingRun) and runs a training run on its own thread and reports through queued signals;
// pause, resume and stop are thread-safe and take effect between steps.
class TrainingWorker : public QObject {
    Q_OBJECT
public:
    explicit TrainingWorker(QObject *parent = nullptr);
    ~TrainingWorker() override; // stops the run and joins the thread

    bool running() const { return running_; }
    bool paused() const { return control_.paused(); }
    // False (nothing started) while a run is going.
    bool start(const TrainingRunRequest &request);
    void pause();
    void resume();
    void stop();

Q_SIGNALS:
    void started(const QString &description);
    void stepDone(qint64 step, qint64 total, double loss);
    void metrics(const sde::TrainingMetrics &metrics);
    void snapshot(qint64 step, const QImage &image);
    void checkpoint(qint64 step, const QString &path);
    void warning(const QString &message);
    // outcome: "finished", "stopped" or "diverged".
    void finished(const QString &outcome, qint64 step, const QString &message, const QString &modelPath);
    void failed(const QString &message);
    void pausedChanged(bool paused);

private:
    void run(const TrainingRunRequest &request); // on the thread

    QThread thread_;
    QObject *context_; // lives on thread_: runs the jobs there
    TrainingControl control_;
    bool running_ = false;
};

} // namespace sde::ui

Q_DECLARE_METATYPE(sde::TrainingMetrics)
