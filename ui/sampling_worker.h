#pragma once

#include "model/score_model.h"
#include "sampling/sampling_settings.h"

#include <QObject>
#include <QString>
#include <QThread>
#include <QVariantMap>

#include <functional>
#include <memory>
#include <vector>

namespace sde::ui {

// One recorded step of a run: the state x_t and the denoised estimate of x_0, both mapped to
// [0, 1] (points stay in their coordinates), on the CPU.
struct TrajectoryFrame {
    int64_t step = 0;
    int64_t totalSteps = 0;
    double t = 0.0;
    double sigma = 0.0; // the marginal std at t
    torch::Tensor x;
    torch::Tensor denoised;
};

struct GenerationResult {
    torch::Tensor samples; // [B, C, H, W] in [0, 1]
    std::vector<TrajectoryFrame> frames;
    int64_t nfe = 0;
    int64_t steps = 0;
    bool completed = true; // false: cancelled (frames up to then are kept)
    double seconds = 0.0;
    torch::Tensor latents; // what a job keeps besides its samples (the codes of an interpolation)
    QVariantMap values;    // figures a job reports (a reconstruction error, ...)
};

class SamplingWorker;

// What a running job sees: the callback that records frames and reports progress, the cancel
// token, and a way to hand over results as they come (one per image of a likelihood run).
class JobContext {
public:
    const SamplerCallback &onStep() const { return onStep_; }
    const CancelToken *cancelToken() const { return cancel_; }
    bool cancelled() const { return cancel_->requested(); }
    // Progress of a job that is not a sampler run (an ODE integration, images of a folder).
    void progress(int64_t step, int64_t total, int64_t nfe) const;
    // A partial result, delivered to the UI at once (SamplingWorker::partialResult).
    void partial(qint64 index, const QVariantMap &values) const;

private:
    friend class SamplingWorker;
    SamplerCallback onStep_;
    std::function<void(int64_t, int64_t, int64_t)> progress_;
    SamplingWorker *worker_ = nullptr;
    const CancelToken *cancel_ = nullptr;
};

// A run for the worker thread: the model it uses (kept alive for the run, whatever the UI loads
// meanwhile), how often frames are recorded, and the work itself. `run` fills samples, nfe, steps
// and completed; the worker adds the frames and the time.
struct SamplingJob {
    std::shared_ptr<const ScoreModel> model;
    int64_t frameEvery = 10; // record (and show live) every k steps; the first and last always
    std::string what = "sampling";
    std::function<GenerationResult(JobContext &context)> run;
};

// A plain generation with the settings' sampler.
SamplingJob generationJob(std::shared_ptr<const ScoreModel> model, const SamplingSettings &settings,
                          int64_t frameEvery);
// A job's result from a sampler's.
GenerationResult fromSampleResult(const SampleResult &sampled);

// Runs jobs on its own thread (moved to a QThread by its owner). Progress and frames reach the
// UI as queued signals; progress is throttled to about 20 per second.
class SamplingWorker : public QObject {
    Q_OBJECT
public:
    // Thread-safe: asks the current run to stop within one step.
    void cancel();
    // Clears a cancel request; called before a job is queued, so a cancel between queueing
    // and the start of the run is not lost.
    void resetCancel();

public Q_SLOTS:
    void run(const sde::ui::SamplingJob &job);

Q_SIGNALS:
    void progress(qint64 step, qint64 total, qint64 nfe, double etaSeconds);
    void frameReady(const sde::ui::TrajectoryFrame &frame);
    void partialResult(qint64 index, const QVariantMap &values);
    void finished(const sde::ui::GenerationResult &result);
    void failed(const QString &message);

private:
    friend class JobContext;
    CancelToken cancel_;
};

// A worker on its own thread, owned by a workspace: start() hands it a job, the signals are
// forwarded, busy() is true from start() until finished or failed arrive. Destroying it cancels
// the run and joins the thread.
class SamplingRunner : public QObject {
    Q_OBJECT
public:
    explicit SamplingRunner(const QString &name, QObject *parent = nullptr);
    ~SamplingRunner() override;

    bool busy() const { return busy_; }
    // Starts a job; false (and nothing started) while another runs.
    bool start(const SamplingJob &job);
    void cancel();
    SamplingWorker *worker() const { return worker_; }

Q_SIGNALS:
    void started();
    void progress(qint64 step, qint64 total, qint64 nfe, double etaSeconds);
    void frameReady(const sde::ui::TrajectoryFrame &frame);
    void partialResult(qint64 index, const QVariantMap &values);
    void finished(const sde::ui::GenerationResult &result);
    void failed(const QString &message);

private:
    QThread thread_;
    SamplingWorker *worker_;
    bool busy_ = false;
};

} // namespace sde::ui

Q_DECLARE_METATYPE(sde::ui::SamplingJob)
Q_DECLARE_METATYPE(sde::ui::TrajectoryFrame)
Q_DECLARE_METATYPE(sde::ui::GenerationResult)
