#pragma once

#include "io/model_file.h"
#include "sampling/sampling_settings.h"
#include "sampling_worker.h"

#include <QString>
#include <QStringList>
#include <QWidget>

#include <functional>
#include <memory>

namespace sde::ui {

class SamplerPanel;
class SamplingRunner;

// A workspace of the main window (Generate, Inpaint, Colorize, ...): it follows the loaded model,
// runs its work on a SamplingRunner of its own with the sampler dock's settings, and reports
// problems to the window (status bar, log, message box) through errorOccurred.
class Workspace : public QWidget {
    Q_OBJECT
public:
    Workspace(SamplerPanel *sampler, const QString &name, QWidget *parent = nullptr);

    // The loaded model (null when none); workspaces check that it fits their work.
    virtual void setModel(std::shared_ptr<ScoreModel> model, const ModelFileInfo &info);
    virtual bool busy() const;
    virtual void cancel();
    // An image file dropped on the window while this workspace is shown; false: not taken.
    virtual bool openImageFile(const QString & /*path*/) { return false; }
    SamplingRunner *runner() const { return runner_; }

Q_SIGNALS:
    void errorOccurred(const QString &message);
    // A run finished with images [B, C, H, W] in [0, 1], made by `operation` ("generate",
    // "inpaint", "colorize") with `settings`: the window's History keeps it.
    void resultMade(const QString &operation, const torch::Tensor &samples, const sde::SamplingSettings &settings);
    void statusMessage(const QString &message);
    void busyChanged();

protected:
    // An image file as a tensor [C, H, W] at the model's size (scaled so its shorter side fits,
    // then center-cropped) with `channels` channels (0: the model's). What was done to fit it
    // goes to `conversion` (e.g. "32 × 32 color → 28 × 28 gray: scaled, center-cropped, turned
    // gray"; empty when the file fits as it is) and, when not empty, to the status bar. Reports
    // and returns an undefined tensor on failure.
    torch::Tensor loadImageForModel(const QString &path, int64_t channels = 0, QString *conversion = nullptr);
    // Asks for an image file; empty when cancelled.
    QString askImageFile(const QString &title);
    // Saves images [B, C, H, W] as <folder>/<operation>-<seed + i>.png carrying `settings`
    // (asks for the folder when empty); returns the paths written.
    QStringList saveResults(const torch::Tensor &images, const std::string &operation, const SamplingSettings &settings,
                            int64_t nfe, const Json &inputs, QString folder = QString());
    // Runs `work`, which returns the status message of its success; an exception is reported as
    // "<failure>: <reason>" (failure: "Could not save the grid"). False when it failed.
    bool reportingErrors(const QString &failure, const std::function<QString()> &work);
    // What errorOccurred says when a run fails with `message`.
    virtual QString failureMessage(const QString &message) const { return message; }

    std::shared_ptr<ScoreModel> model_;
    ModelFileInfo info_;
    SamplerPanel *sampler_;
    SamplingRunner *runner_;
};

} // namespace sde::ui
