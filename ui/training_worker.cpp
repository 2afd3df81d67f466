#include "training_worker.h"

#include "tensor_image.h"

#include "imaging/image_io.h"
#include "imaging/point_plot.h"
#include "train/training_checkpoint.h"
#include "util/error.h"
#include "util/failure_message.h"
#include "util/files.h"
#include "util/json_fields.h"

#include <spdlog/spdlog.h>

#include <QCoreApplication>
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QTemporaryDir>
#include <QTimer>

#include <chrono>
#include <csignal>

#include <unistd.h>

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
    if (job_ && job_->state() != QProcess::NotRunning) {
        // Every rank stops after an agreed step and writes its checkpoint; then the job ends.
        ::kill(-static_cast<pid_t>(job_->processId()), SIGINT);
        if (!job_->waitForFinished(30000))
            ::kill(-static_cast<pid_t>(job_->processId()), SIGKILL);
        job_->waitForFinished(5000);
    }
    control_.stop();
    thread_.quit();
    thread_.wait();
}

bool TrainingWorker::start(const TrainingRunRequest &request, int processes)
{
    if (running_)
        return false;
    if (processes > 1) {
        startJob(request, processes);
        return true;
    }
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
    if (job_ && job_->state() != QProcess::NotRunning)
        ::kill(-static_cast<pid_t>(job_->processId()), SIGINT); // the job's process group: every rank
    else if (running_)
        control_.stop();
}

QString TrainingWorker::commandLineTool() const
{
    return commandLineTool_.isEmpty() ? QCoreApplication::applicationDirPath() + "/sdestudio-cli" : commandLineTool_;
}

void TrainingWorker::startJob(const TrainingRunRequest &request, int processes)
{
    const TrainerOptions &options = request.options;
    QStringList arguments{
        "train", "--data", QString::fromStdString(request.data), "--out", QString::fromStdString(options.outDir),
        "--nproc", QString::number(processes), "--seed", QString::number(options.seed), "--device",
        // NCCL: one GPU a process, process i on cuda:i.
        options.device.is_cuda() ? QStringLiteral("cuda") : QString::fromStdString(options.device.str()),
        "--checkpoint-every", QString::number(options.checkpointEvery), "--log-every",
        QString::number(options.logEvery), "--snapshot-every", QString::number(options.snapshotEvery),
        "--snapshot-steps", QString::number(options.snapshotSteps)};
    if (options.snapshotCount > 0) // else the CLI's default: 16 images, or a 2D model's points
        arguments << "--snapshot-count" << QString::number(options.snapshotCount);
    if (request.steps)
        arguments << "--steps" << QString::number(*request.steps);
    if (options.batchSize > 0)
        arguments << "--batch" << QString::number(options.batchSize);
    if (request.precision)
        arguments << "--precision" << QString::fromStdString(precisionId(*request.precision));
    if (options.resume)
        arguments << "--resume";
    if (request.classifier)
        arguments << "--classifier"
                  << "--classifier-nf" << QString::number(request.classifierWidth);
    jobConfig_ = std::make_unique<QTemporaryDir>();
    if (request.config) {
        const QString path = jobConfig_->filePath("config.json");
        try {
            writeFileAtomically(path.toStdString(), dumpJson(request.config->toJson()));
        } catch (const std::exception &e) {
            Q_EMIT failed(QString::fromStdString(sde::failureMessage(e)));
            return;
        }
        arguments << "--config" << path;
    }
    running_ = true;
    jobFolder_ = QString::fromStdString(options.outDir);
    jobSteps_ = request.steps.value_or(0);
    jobError_.clear();
    lastPreview_.clear();
    lastStepSeen_ = 0;
    // The records already there (a resumed run's) are the workspace's history; new ones follow.
    metricsOffset_ = QFileInfo(jobFolder_ + "/metrics.jsonl").size();
    const auto checkpoints = listCheckpoints(options.outDir);
    lastCheckpoint_ = checkpoints.empty() ? -1 : readCheckpointInfo(checkpoints.back()).step;

    job_ = new QProcess(this);
    // A process group of its own, so that Stop reaches every rank (and a terminal's Ctrl+C none).
    job_->setChildProcessModifier([] { ::setpgid(0, 0); });
    connect(job_, &QProcess::readyReadStandardError, this, [this] {
        jobError_ += QString::fromUtf8(job_->readAllStandardError());
        if (jobError_.size() > 65536)
            jobError_ = jobError_.right(32768);
    });
    connect(job_, &QProcess::finished, this,
            [this](int exitCode, QProcess::ExitStatus status) { endJob(exitCode, status != QProcess::NormalExit); });
    connect(job_, &QProcess::errorOccurred, this, [this](QProcess::ProcessError error) {
        if (error == QProcess::FailedToStart)
            endJob(-1, true);
    });
    follow_ = new QTimer(this);
    follow_->setInterval(500);
    connect(follow_, &QTimer::timeout, this, &TrainingWorker::followJob);
    job_->start(commandLineTool(), arguments);
    follow_->start();
    Q_EMIT started(tr("a data-parallel job of %1 processes (%2 train --nproc %1)")
                       .arg(processes)
                       .arg(QFileInfo(commandLineTool()).fileName()));
}

QImage loadTrainingPreview(const QString &path)
{
    constexpr int64_t kLargestPreviewSide = 4096;
    const ImageSize size = imageFileSize(path.toStdString());
    if (size.width > kLargestPreviewSide || size.height > kLargestPreviewSide)
        throw Error("'" + path.toStdString() + "' is " + std::to_string(size.width) + " x " +
                    std::to_string(size.height) + " pixels, larger than a preview (at most " +
                    std::to_string(kLargestPreviewSide) + " on a side)");
    return tensorToImage(loadImage(path.toStdString()));
}

void TrainingWorker::followJob()
{
    // New whole lines of rank 0's metrics.jsonl (rewritten shorter when a resumed run trims it).
    QFile file(jobFolder_ + "/metrics.jsonl");
    if (file.open(QIODevice::ReadOnly)) {
        if (file.size() < metricsOffset_)
            metricsOffset_ = file.size();
        file.seek(metricsOffset_);
        const QByteArray data = file.readAll();
        const qsizetype end = data.lastIndexOf('\n');
        if (end >= 0) {
            metricsOffset_ += end + 1;
            for (const QByteArray &line : data.left(end).split('\n')) {
                try {
                    const TrainingMetrics m = TrainingMetrics::fromJson(parseJson(line.toStdString()));
                    lastStepSeen_ = m.step;
                    Q_EMIT metrics(m);
                    Q_EMIT stepDone(m.step, jobSteps_, m.loss);
                } catch (const std::exception &) {
                    // Not a record (a line being written is never read: only whole lines are).
                }
            }
        }
    }
    const auto checkpoints = listCheckpoints(jobFolder_.toStdString());
    if (!checkpoints.empty()) {
        try {
            const int64_t step = readCheckpointInfo(checkpoints.back()).step;
            if (step > lastCheckpoint_) {
                lastCheckpoint_ = step;
                Q_EMIT checkpoint(step, QString::fromStdString(checkpoints.back()));
            }
        } catch (const std::exception &) {
            // Being replaced; the next look reads it.
        }
    }
    const QStringList previews = QDir(jobFolder_ + "/samples").entryList({"step-*.png"}, QDir::Files, QDir::Name);
    if (!previews.isEmpty() && previews.last() != lastPreview_) {
        const QString path = jobFolder_ + "/samples/" + previews.last();
        try {
            const QImage image = loadTrainingPreview(path);
            lastPreview_ = previews.last();
            Q_EMIT snapshot(previews.last().mid(5, 8).toLongLong(), image);
        } catch (const std::exception &e) {
            // Still being written (the next look reads it), or not a preview at all: said once.
            if (QFileInfo(path).lastModified().secsTo(QDateTime::currentDateTime()) > 5) {
                lastPreview_ = previews.last();
                spdlog::warn("could not show the preview: {}", e.what());
            }
        }
    }
}

void TrainingWorker::endJob(int exitCode, bool crashed)
{
    if (!job_)
        return;
    follow_->stop();
    followJob();
    jobError_ += QString::fromUtf8(job_->readAllStandardError());
    const QString tool = commandLineTool();
    job_->deleteLater();
    job_ = nullptr;
    follow_->deleteLater();
    follow_ = nullptr;
    jobConfig_.reset();
    running_ = false;
    // The first error a rank printed says why (the others name the rank that stopped).
    QString error;
    for (const QString &line : jobError_.split('\n', Qt::SkipEmptyParts))
        if (line.startsWith("error: ") && error.isEmpty())
            error = line.mid(7);
    const QString model = jobFolder_ + "/model.safetensors";
    lastStepSeen_ = std::max(lastStepSeen_, static_cast<qint64>(lastCheckpoint_));
    if (!crashed && exitCode == 0) {
        Q_EMIT finished("finished", lastStepSeen_, tr("finished at step %1").arg(lastStepSeen_), model);
    } else if (!crashed && exitCode == 130) {
        Q_EMIT finished("stopped", lastStepSeen_, tr("stopped at step %1").arg(lastStepSeen_), model);
    } else if (!crashed && exitCode == 3) {
        Q_EMIT finished("diverged", lastStepSeen_, error, model);
    } else if (!error.isEmpty()) {
        Q_EMIT failed(error);
    } else {
        Q_EMIT failed(crashed && exitCode == -1 ? tr("cannot start %1").arg(tool)
                                                : tr("the training job ended with status %1").arg(exitCode));
    }
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
