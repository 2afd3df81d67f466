#include "sampling_worker.h"

#include "util/error.h"
#include "util/failure_message.h"
#include "util/thread_share.h"

#include <QThread>

#include <spdlog/spdlog.h>

#include <chrono>
#include <optional>

namespace sde::ui {

void JobContext::progress(int64_t step, int64_t total, int64_t nfe) const
{
    progress_(step, total, nfe);
}

void JobContext::partial(qint64 index, const QVariantMap &values) const
{
    Q_EMIT worker_->partialResult(index, values);
}

GenerationResult fromSampleResult(const SampleResult &sampled)
{
    GenerationResult result;
    result.samples = sampled.samples.detach().to(torch::kCPU);
    result.nfe = sampled.nfe;
    result.steps = sampled.steps;
    result.completed = sampled.completed;
    return result;
}

SamplingJob generationJob(std::shared_ptr<const ScoreModel> model, const SamplingSettings &settings, int64_t frameEvery)
{
    SamplingJob job;
    job.model = model;
    job.frameEvery = frameEvery;
    job.what = "generated " + std::to_string(settings.batch) + " sample(s)";
    job.run = [model, settings](JobContext &context) {
        return fromSampleResult(runSampler(*model, settings, context.onStep(), context.cancelToken()));
    };
    return job;
}

void SamplingWorker::cancel()
{
    cancel_.cancel();
}

void SamplingWorker::resetCancel()
{
    cancel_.reset();
}

void SamplingWorker::run(const SamplingJob &job)
{
    using Clock = std::chrono::steady_clock;
    // LibTorch's guards belong to the thread that runs the model.
    torch::NoGradGuard noGrad;
    const ScoreModel &model = *job.model;
    const bool points = model.config().isPointModel();
    auto toView = [&](const torch::Tensor &x) {
        torch::Tensor cpu = model.inverseScaler(x.detach()).to(torch::kCPU, torch::kFloat32);
        return points ? cpu.flatten(1) : cpu;
    };
    // The job's share of the cores on the CPU (util/thread_share.h; beside a training run it is
    // half), looked at again with each progress report: likelihood and interpolation jobs report
    // progress without sampler steps. The samplers' own shares on this thread are part of it.
    std::optional<ThreadShare> share;
    if (model.device().is_cpu()) {
        share.emplace();
        share->apply();
    }
    std::vector<TrajectoryFrame> frames;
    const auto started = Clock::now();
    auto lastProgress = Clock::now() - std::chrono::seconds(1);
    auto report = [&](int64_t step, int64_t total, int64_t nfe) {
        if (share)
            share->apply();
        const auto now = Clock::now();
        if (QThread::currentThread()->isInterruptionRequested())
            cancel_.cancel();
        const bool last = total > 0 && step == total;
        if (now - lastProgress > std::chrono::milliseconds(50) || last) {
            lastProgress = now;
            const double elapsed = std::chrono::duration<double>(now - started).count();
            const double eta = total > 0 && step > 0 ? elapsed / step * static_cast<double>(total - step) : -1.0;
            Q_EMIT progress(step, total, nfe, eta);
        }
    };
    JobContext context;
    context.worker_ = this;
    context.cancel_ = &cancel_;
    context.progress_ = report;
    context.onStep_ = [&](const SamplerStep &step) {
        report(step.step, step.totalSteps, step.nfe);
        const bool last = step.totalSteps > 0 && step.step == step.totalSteps;
        if (step.step % std::max<int64_t>(1, job.frameEvery) == 0 || last || step.step == 1) {
            TrajectoryFrame frame;
            frame.step = step.step;
            frame.totalSteps = step.totalSteps;
            frame.t = step.t;
            frame.sigma = model.sde().marginalStd(torch::tensor({step.t}, torch::kFloat64)).item<double>();
            frame.x = toView(step.x);
            frame.denoised = toView(step.denoised());
            frames.push_back(frame);
            Q_EMIT frameReady(frame);
        }
    };
    try {
        GenerationResult result = job.run(context);
        result.frames = std::move(frames);
        result.seconds = std::chrono::duration<double>(Clock::now() - started).count();
        spdlog::info("{} in {:.1f} s, {} NFE{}", job.what, result.seconds, result.nfe,
                     result.completed ? "" : " (cancelled)");
        Q_EMIT finished(result);
    } catch (const std::exception &e) {
        spdlog::error("{} failed: {}", job.what, sde::failureMessage(e));
        Q_EMIT failed(QString::fromStdString(sde::failureMessage(e)));
    }
}

SamplingRunner::SamplingRunner(const QString &name, QObject *parent) : QObject(parent), worker_(new SamplingWorker)
{
    static const int registered = [] {
        qRegisterMetaType<SamplingJob>();
        qRegisterMetaType<TrajectoryFrame>();
        qRegisterMetaType<GenerationResult>();
        return 0;
    }();
    (void)registered;
    worker_->moveToThread(&thread_);
    connect(&thread_, &QThread::finished, worker_, &QObject::deleteLater);
    connect(worker_, &SamplingWorker::progress, this, &SamplingRunner::progress);
    connect(worker_, &SamplingWorker::frameReady, this, &SamplingRunner::frameReady);
    connect(worker_, &SamplingWorker::partialResult, this, &SamplingRunner::partialResult);
    connect(worker_, &SamplingWorker::finished, this, [this](const GenerationResult &result) {
        busy_ = false;
        Q_EMIT finished(result);
    });
    connect(worker_, &SamplingWorker::failed, this, [this](const QString &message) {
        busy_ = false;
        Q_EMIT failed(message);
    });
    thread_.setObjectName(name);
    thread_.start();
}

SamplingRunner::~SamplingRunner()
{
    worker_->cancel();
    thread_.requestInterruption();
    thread_.quit();
    thread_.wait();
}

bool SamplingRunner::start(const SamplingJob &job)
{
    if (busy_)
        return false;
    busy_ = true;
    worker_->resetCancel();
    Q_EMIT started();
    SamplingWorker *worker = worker_;
    QMetaObject::invokeMethod(
        worker_, [worker, job] { worker->run(job); }, Qt::QueuedConnection);
    return true;
}

void SamplingRunner::cancel()
{
    if (busy_)
        worker_->cancel();
}

} // namespace sde::ui
