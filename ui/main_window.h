#pragma once

#include "io/model_file.h"

#include <QByteArray>
#include <QIcon>
#include <QMainWindow>
#include <QUrl>

#include <functional>
#include <memory>
#include <optional>

class QAction;
class QDockWidget;
class QMenu;
class QMimeData;
class QTabWidget;
class QToolButton;

namespace sde::ui {

class HistoryPanel;
class ColorizeWorkspace;
class GenerateWorkspace;
class InpaintWorkspace;
class InterpolateWorkspace;
class LikelihoodWorkspace;
class LogView;
class ModelPanel;
class SamplerPanel;
class TrainWorkspace;
class Workspace;
enum class SampleTarget;

// The studio's main window: workspaces (Generate, Inpaint, Colorize, Interpolate, Likelihood,
// Train) in the centre, docks for the model, the sampler settings and the log, every command a
// QAction with a shortcut, layout and last-used settings kept in QSettings. Sampling runs on a
// worker thread; the window stays responsive and can be closed mid-run.
// SDE Studio's icon (resources/icons): the desktop theme's "sdestudio" when installed, else the
// PNGs compiled into this library.
QIcon applicationIcon();

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget *parent = nullptr);
    ~MainWindow() override;

    // Loads a model file or a bundled model's name. On failure the previous model stays loaded,
    // the problem is shown (status bar, log, a message box unless `quiet`) and false returned.
    bool openModel(const QString &nameOrPath, bool quiet = false);
    // Loads a training checkpoint's EMA model (from the Train workspace's list).
    bool openCheckpoint(const QString &path, bool quiet = false);
    // What a drop on the window does: models are opened, generated PNGs restore their settings.
    void openDroppedFiles(const QList<QUrl> &urls);
    // Restores the sampler settings and seed stored in a PNG this studio or the CLI wrote.
    bool restoreFromImage(const QString &path, bool quiet = false);
    // What a History entry dropped on the window does (its mime data): the workspace in view takes
    // its image (Inpaint, Colorize, an empty end of Interpolate, Likelihood); on Generate its
    // settings are restored. False, with a message, when nothing took it.
    bool dropHistoryEntry(const QMimeData *data);
    HistoryPanel *history() const { return history_; }

    const ModelFileInfo &modelInfo() const { return info_; }
    std::shared_ptr<const ScoreModel> model() const { return model_; }
    QString lastError() const { return lastError_; }

    QAction *generateAction() const { return generate_; }
    QAction *cancelAction() const { return cancel_; }
    // Ctrl+Enter: the shown page's action (Generate, Inpaint, ...), or why it cannot run now.
    QAction *runPageAction() const { return runPage_; }
    SamplerPanel *samplerPanel() const { return sampler_; }
    QTabWidget *workspaces() const { return workspaces_; }
    GenerateWorkspace *generateWorkspace() const { return generateWorkspace_; }
    InpaintWorkspace *inpaintWorkspace() const { return inpaint_; }
    ColorizeWorkspace *colorizeWorkspace() const { return colorize_; }
    InterpolateWorkspace *interpolateWorkspace() const { return interpolate_; }
    LikelihoodWorkspace *likelihoodWorkspace() const { return likelihood_; }
    TrainWorkspace *trainWorkspace() const { return train_; }

public Q_SLOTS:
    // Generate's run, on the device chosen in the sampler dock (the model moves there first when
    // no other run uses it).
    void generate();
    // Stops the run of the workspace in view (a training run is stopped with its own button).
    void cancelGeneration();
    // Ctrl+Enter: the action of the workspace in view (its run button; Generate's run on the
    // Generate page), or a status line saying why it cannot start (running: Esc cancels it).
    void runCurrentPage();
    void resetLayout();

Q_SIGNALS:
    void modelLoaded();

protected:
    void closeEvent(QCloseEvent *event) override;
    void dragEnterEvent(QDragEnterEvent *event) override;
    void dropEvent(QDropEvent *event) override;

private:
    void updateLogButton(); // its text counts the problems logged while the log was closed
    void createActions();
    void createDocks();
    void reportError(const QString &message, bool quiet);
    // Runs `load` unless a run is going, with a wait cursor; failures are reported.
    std::optional<LoadedModel> loadWith(const QString &nameOrPath, bool quiet,
                                        const std::function<LoadedModel()> &load);
    bool installModel(LoadedModel loaded, const QString &nameOrPath, bool quiet);
    void addWorkspace(Workspace *workspace, const QString &title);
    Workspace *currentWorkspace() const;
    bool anyRunBusy() const;
    // Shows a sample from Generate in the workspace of `target`.
    void sendToWorkspace(const torch::Tensor &sample, const QString &name, SampleTarget target);
    void updateActions();
    void rememberRecent(const QString &path);
    void rebuildRecentMenu();
    void showAbout();
    void loadSettings();
    void saveSettings();
    QString samplerKey() const;

    std::shared_ptr<ScoreModel> model_;
    ModelFileInfo info_;
    QString lastError_;
    QByteArray defaultState_;

    QTabWidget *workspaces_;
    GenerateWorkspace *generateWorkspace_ = nullptr;
    InpaintWorkspace *inpaint_ = nullptr;
    ColorizeWorkspace *colorize_ = nullptr;
    InterpolateWorkspace *interpolate_ = nullptr;
    LikelihoodWorkspace *likelihood_ = nullptr;
    TrainWorkspace *train_ = nullptr;
    std::vector<Workspace *> allWorkspaces_; // in tab order
    SamplerPanel *sampler_;
    ModelPanel *modelPanel_;
    LogView *log_;
    QDockWidget *modelDock_ = nullptr, *samplerDock_ = nullptr, *logDock_ = nullptr, *historyDock_ = nullptr;
    HistoryPanel *history_ = nullptr;
    QToolButton *logButton_ = nullptr;
    QString lastLogLine_;
    int unseenProblems_ = 0; // errors and warnings logged while the log was closed
    QAction *open_ = nullptr, *generate_ = nullptr, *runPage_ = nullptr, *cancel_ = nullptr, *saveImages_ = nullptr,
            *saveGrid_ = nullptr, *exportFrames_ = nullptr, *exportVideo_ = nullptr;
    QMenu *recentMenu_ = nullptr;
};

} // namespace sde::ui
