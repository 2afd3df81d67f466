#pragma once

#include "config/model_config.h"
#include "train/trainer.h"

#include <QImage>
#include <QObject>
#include <QString>
#include <QThread>

#include <optional>

namespace sde::ui {

// What the Train tab asks for: a model config (or, resuming, the one stored in the run's
// checkpoint), the data, and the trainer's options.
struct TrainingRequest {
    std::optional<ModelConfig> config; // unset: resume with the checkpoint's own definition
    std::string data;                  // openTrainingData's spec: fashion-mnist, toy:NAME, FOLDER, patches:FOLDER
    TrainerOptions options;
};

// Runs sde::train on its own thread and reports through queued signals; pause, resume and stop
// are thread-safe and take effect between steps.
class TrainingWorker : public QObject {
    Q_OBJECT
public:
    explicit TrainingWorker(QObject *parent = nullptr);
    ~TrainingWorker() override; // stops the run and joins the thread

    bool running() const { return running_; }
    bool paused() const { return control_.paused(); }
    // False (nothing started) while a run is going.
    bool start(const TrainingRequest &request);
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
    void run(const TrainingRequest &request); // on the thread

    QThread thread_;
    QObject *context_; // lives on thread_: runs the jobs there
    TrainingControl control_;
    bool running_ = false;
};

} // namespace sde::ui

Q_DECLARE_METATYPE(sde::TrainingMetrics)
