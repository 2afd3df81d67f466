#pragma once

#include "workspace.h"

class QLabel;
class QProgressBar;

namespace sde::ui {

class ClassPanel;
class ImageView;
class TrajectoryScrubber;

// Where a sample of Generate's result goes on to: another workspace.
enum class SampleTarget { Inpaint, Colorize, InterpolationStart, InterpolationEnd, Likelihood };

// Generate: the dock's sampler draws a batch from the loaded model (class-conditional with the
// class panel's classifier when that is on). The newest samples are shown as a grid beside the
// trajectory scrubber, where every recorded step can be replayed. Samples save as PNGs that carry
// their settings, the trajectory exports as frames or a video, and a right-click on a sample sends
// it to another workspace (sampleSent; the window routes it). The commands (Generate, Cancel,
// Save, Export) are the window's actions; so is moving the model to another device before a run.
class GenerateWorkspace : public Workspace {
    Q_OBJECT
public:
    explicit GenerateWorkspace(SamplerPanel *sampler, QWidget *parent = nullptr);

    void setModel(std::shared_ptr<ScoreModel> model, const ModelFileInfo &info) override;
    void cancel() override;

    // The last run's result; a cancelled run keeps its frames but has no samples.
    const GenerationResult &lastResult() const { return lastResult_; }
    bool hasSamples() const;
    bool hasFrames() const;
    ClassPanel *classPanel() const { return classPanel_; }
    ImageView *resultView() const { return result_; }
    TrajectoryScrubber *scrubber() const { return scrubber_; }
    // The run's progress: a line (steps, NFE, ETA; the outcome after) and a bar. They sit below
    // the page until the window moves them into its status bar.
    QLabel *progressLabel() const { return progressLabel_; }
    QProgressBar *progressBar() const { return progress_; }

    // Saves each sample of the last result as <folder>/sample-<seed>.png with its settings (asks
    // for the folder when empty); returns the paths written.
    QStringList saveImages(const QString &folder = QString());
    // Saves the samples as one grid image (a toy model's as one plot); asks for the path when empty.
    bool saveGrid(QString path = QString());
    // Saves every recorded step as <folder>/step-NNNNN-x.png and -x0.png (a toy model's as
    // step-NNNNN.png); asks for the folder when empty.
    bool exportFrames(QString folder = QString());
    // Writes the trajectory as a video, x_t beside the denoised estimate; asks for the path when empty.
    bool exportVideo(QString path = QString());
    // Sends sample `index` of the last result to `target` (sampleSent); false when there is no
    // such sample (none yet, out of range, or a toy model's point).
    bool sendSample(int index, SampleTarget target);

public Q_SLOTS:
    // Starts a run with the dock's settings on the model's device; false when none started (no
    // model, or a run going).
    bool generate();

Q_SIGNALS:
    // A run ended: completed, cancelled (its frames kept) or failed. lastResult() holds what it left.
    void finished();
    // A sample [C, H, W] in [0, 1], named for the user ("sample 2 (seed 78)"), for `target`.
    void sampleSent(const torch::Tensor &sample, const QString &name, sde::ui::SampleTarget target);

protected:
    QString failureMessage(const QString &message) const override;

private:
    void onFinished(const GenerationResult &result);
    void showResultMenu(const QPoint &pos);

    GenerationResult lastResult_;
    SamplingSettings lastSettings_;
    Json lastInputs_ = Json::object();
    ClassPanel *classPanel_;
    ImageView *result_;
    TrajectoryScrubber *scrubber_;
    QLabel *progressLabel_;
    QProgressBar *progress_;
};

} // namespace sde::ui
