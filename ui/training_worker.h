#pragma once

#include "config/model_config.h"
#include "train/training_run.h"

#include <QImage>
#include <QObject>
#include <QString>
#include <QThread>

#include <memory>

class QProcess;
class QTemporaryDir;
class QTimer;

namespace sde::ui {

// A run's preview grid (samples/step-*.png) for display. A preview is a grid of small samples: a
// file larger than 4096 pixels on a side (a run folder from elsewhere) is refused before it is
// decoded, as is one that is not an image; throws sde::Error naming the file.
QImage loadTrainingPreview(const QString &path);

// Prepares (sde::prepareTrainingRun) and runs a training run on its own thread and reports through queued signals;
// pause, resume and stop are thread-safe and take effect between steps.
class TrainingWorker : public QObject {
    Q_OBJECT
public:
    explicit TrainingWorker(QObject *parent = nullptr);
    ~TrainingWorker() override; // stops the run and joins the thread

    bool running() const { return running_; }
    bool paused() const { return control_.paused(); }
    // False (nothing started) while a run is going. With processes > 1 the run is a data-parallel
    // job of that many processes on this machine: sdestudio-cli's `train --nproc` (the program
    // beside this one, or commandLineTool()) runs it, and the signals follow the files its rank 0
    // writes (metrics.jsonl, checkpoints/, samples/); its errors arrive through failed().
    bool start(const TrainingRunRequest &request, int processes = 1);
    // Only a run of this process pauses: the ranks of a job would wait on the paused one.
    bool pausable() const { return running_ && !job_; }
    void setCommandLineTool(const QString &path) { commandLineTool_ = path; }
    QString commandLineTool() const;
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
    // The multi-process job: started, its files followed every half second, its end reported.
    void startJob(const TrainingRunRequest &request, int processes);
    void followJob();
    void endJob(int exitCode, bool crashed);

    QThread thread_;
    QObject *context_; // lives on thread_: runs the jobs there
    TrainingControl control_;
    bool running_ = false;

    QString commandLineTool_;
    QProcess *job_ = nullptr;
    QTimer *follow_ = nullptr;
    std::unique_ptr<QTemporaryDir> jobConfig_; // the config the job reads
    QString jobFolder_, jobError_;
    qint64 jobSteps_ = 0, metricsOffset_ = 0, lastCheckpoint_ = -1, lastStepSeen_ = 0;
    QString lastPreview_;
};

} // namespace sde::ui

Q_DECLARE_METATYPE(sde::TrainingMetrics)
