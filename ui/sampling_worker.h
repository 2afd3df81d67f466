#pragma once

#include "model/score_model.h"
#include "sampling/sampling_settings.h"

#include <QObject>
#include <QString>

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

struct GenerationRequest {
    std::shared_ptr<const ScoreModel> model; // kept alive for the run, whatever the UI loads meanwhile
    SamplingSettings settings;
    int64_t frameEvery = 10; // record (and show live) every k steps; the last step always
};

struct GenerationResult {
    torch::Tensor samples; // [B, C, H, W] in [0, 1]
    std::vector<TrajectoryFrame> frames;
    int64_t nfe = 0;
    int64_t steps = 0;
    bool completed = true; // false: cancelled (frames up to then are kept)
    double seconds = 0.0;
};

// Runs samplers on its own thread (moved to a QThread by its owner). Progress and frames reach
// the UI as queued signals; progress is throttled to about 20 per second.
class SamplingWorker : public QObject {
    Q_OBJECT
public:
    // Thread-safe: asks the current run to stop within one step.
    void cancel();

public Q_SLOTS:
    void generate(const sde::ui::GenerationRequest &request);

Q_SIGNALS:
    void progress(qint64 step, qint64 total, qint64 nfe, double etaSeconds);
    void frameReady(const sde::ui::TrajectoryFrame &frame);
    void finished(const sde::ui::GenerationResult &result);
    void failed(const QString &message);

private:
    CancelToken cancel_;
};

} // namespace sde::ui

Q_DECLARE_METATYPE(sde::ui::GenerationRequest)
Q_DECLARE_METATYPE(sde::ui::TrajectoryFrame)
Q_DECLARE_METATYPE(sde::ui::GenerationResult)
