#pragma once

#include "tensor_image.h"
#include "workspace.h"

#include <optional>

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QListWidget;
class QPushButton;
class QSpinBox;

namespace sde::ui {

class ImageView;
class LossChart;
class TrainingWorker;

// Train: a score model from a dataset (Fashion-MNIST, a folder of images, patches of photographs,
// a 2D toy distribution) with a bundled or preset config and the main hyperparameters. Start,
// pause, continue and stop; a run's folder is remembered, so its newest checkpoint resumes after
// the studio restarts too, exactly. Live curves (loss raw and smoothed on a log scale, learning
// rate), steps/s and memory, preview samples, and the checkpoints with "Open in Generate".
// Training runs on its own thread; the rest of the studio stays usable.
class TrainWorkspace : public Workspace {
    Q_OBJECT
public:
    TrainWorkspace(SamplerPanel *sampler, QWidget *parent = nullptr);

    bool busy() const override;
    void cancel() override {} // Esc does not stop a training run: Stop does, with a checkpoint

    TrainingWorker *worker() const { return worker_; }
    LossChart *chart() const { return chart_; }
    QString runFolder() const;
    void setRunFolder(const QString &folder);
    // The data spec the form names (fashion-mnist, toy:NAME, FOLDER, patches:FOLDER).
    QString dataSpec() const;
    // The config as the form sets it; throws sde::Error for a config that cannot be read.
    ModelConfig configFromForm() const;
    int64_t lastStep() const { return lastStep_; }
    QListWidget *checkpointList() const { return checkpoints_; }

public Q_SLOTS:
    void startRun();  // a new run in the run folder
    void resumeRun(); // continues the run folder's newest checkpoint
    void togglePause();
    void stopRun();

Q_SIGNALS:
    void openModelRequested(const QString &path);
    void openCheckpointRequested(const QString &path);

private:
    void start(bool resume);
    void applyConfigDefaults();
    void loadRunHistory();
    // Shows a preview picture as the trainer wrote it, in the palette's colors (previewForScreen).
    void showPreview(const QImage &picture, const QString &caption);
    // The grid or point-cloud layout of the run folder's pictures, from its newest checkpoint.
    std::optional<PreviewLayout> runPreviewLayout() const;
    void refreshCheckpoints();
    void updateButtons();

    TrainingWorker *worker_;
    LossChart *chart_;
    ImageView *preview_;
    QLineEdit *folder_, *dataFolder_;
    QComboBox *config_, *data_, *sde_, *device_, *precision_;
    QSpinBox *batch_, *warmup_, *steps_, *seed_, *checkpointEvery_, *snapshotEvery_, *processes_;
    QDoubleSpinBox *lr_, *ema_;
    QPushButton *start_, *resume_, *pause_, *stop_, *openCheckpoint_, *openModel_, *browseData_;
    QListWidget *checkpoints_;
    QLabel *status_, *stats_;
    int64_t lastStep_ = 0;
    std::optional<PreviewLayout> previewLayout_; // of the run whose pictures the preview shows
};

} // namespace sde::ui
