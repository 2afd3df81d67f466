#include "training_worker.h"

#include "tensor_image.h"

#include "imaging/image_io.h"
#include "imaging/point_plot.h"
#include "train/training_checkpoint.h"
#include "util/error.h"
#include "util/failure_message.h"
#include "util/files.h"

#include <spdlog/spdlog.h>

#include <chrono>

namespace sde::ui {

TrainingWorker::TrainingWorker(QObject *parent) : QObject(parent), context_(new QObject)
{
    qRegisterMetaType<TrainingMetrics>();
    context_->moveToThread(&thread_);
    connect(&thread_, &QThread::finished, context_, &QObject::deleteLater);
    thread_.setObjectName("trainingThread");
    thread_.start();
}

TrainingWorker::~TrainingWorker()
{
    control_.stop();
    thread_.quit();
    thread_.wait();
}

bool TrainingWorker::start(const TrainingRunRequest &request)
{
    if (running_)
        return false;
    running_ = true;
    control_.reset(); // a stop of the last run must not end this one
    QMetaObject::invokeMethod(
        context_, [this, request] { run(request); }, Qt::QueuedConnection);
    return true;
}

void TrainingWorker::pause()
{
    if (running_ && !control_.paused()) {
        control_.pause();
        Q_EMIT pausedChanged(true);
    }
}

void TrainingWorker::resume()
{
    if (running_ && control_.paused()) {
        control_.resume();
        Q_EMIT pausedChanged(false);
    }
}

void TrainingWorker::stop()
{
    if (running_)
        control_.stop();
}

void TrainingWorker::run(const TrainingRunRequest &request)
{
    auto done = [this] {
        QMetaObject::invokeMethod(
            this, [this] { running_ = false; }, Qt::QueuedConnection);
    };
    try {
        TrainingRun training = prepareTrainingRun(request);
        const TrainerOptions &options = training.options;
        const bool points = training.config().isPointModel();
        Q_EMIT started(QString::fromStdString(training.modelDescription() + "; data: " + training.data->description()));

        using Clock = std::chrono::steady_clock;
        auto lastStep = Clock::now() - std::chrono::seconds(1);
        TrainerCallbacks callbacks;
        callbacks.onStep = [&](int64_t step, int64_t total, double loss) {
            const auto now = Clock::now();
            if (now - lastStep > std::chrono::milliseconds(100) || step == total) {
                lastStep = now;
                Q_EMIT stepDone(step, total, loss);
            }
        };
        callbacks.onMetrics = [this](const TrainingMetrics &m) { Q_EMIT metrics(m); };
        callbacks.onSnapshot = [&](int64_t step, const torch::Tensor &samples) {
            const torch::Tensor picture = points ? renderPointCloud(samples, 256) : makeGrid(samples);
            char name[40];
            std::snprintf(name, sizeof name, "/samples/step-%08lld.png", static_cast<long long>(step));
            savePng(options.outDir + name, picture);
            Q_EMIT snapshot(step, tensorToImage(picture));
        };
        callbacks.onCheckpoint = [this](int64_t step, const std::string &path) {
            Q_EMIT checkpoint(step, QString::fromStdString(path));
        };
        callbacks.onWarning = [this](const std::string &message) { Q_EMIT warning(QString::fromStdString(message)); };
        const TrainingResult result = training.run(callbacks, &control_);
        const char *outcome = result.outcome == TrainingOutcome::Finished  ? "finished"
                              : result.outcome == TrainingOutcome::Stopped ? "stopped"
                                                                           : "diverged";
        done();
        Q_EMIT finished(outcome, result.step, QString::fromStdString(result.message),
                        QString::fromStdString(result.modelPath));
    } catch (const std::exception &e) {
        spdlog::error("training failed: {}", sde::failureMessage(e));
        done();
        Q_EMIT failed(QString::fromStdString(sde::failureMessage(e)));
    }
}

} // namespace sde::ui
