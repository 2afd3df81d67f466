#include "main_window.h"

#include "colorize_workspace.h"
#include "generate_workspace.h"
#include "history_panel.h"
#include "inpaint_workspace.h"
#include "interpolate_workspace.h"
#include "likelihood_workspace.h"
#include "log_dock.h"
#include "model_panel.h"
#include "run_bar.h"
#include "sampler_panel.h"
#include "train_workspace.h"
#include "trajectory_scrubber.h"

#include "imaging/generation_record.h"
#include "imaging/video_writer.h"
#include "io/bundled_models.h"
#include "train/trainer.h"
#include "train/training_checkpoint.h"
#include "util/build_info.h"
#include "util/device.h"
#include "util/failure_message.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QIcon>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QSettings>
#include <QStatusBar>
#include <QTabWidget>
#include <QToolBar>
#include <QToolButton>

#include <spdlog/spdlog.h>
#include <torch/version.h>

// resources/sdestudio.qrc lives in this static library: registered once, at global scope, as
// Q_INIT_RESOURCE requires.
static void initStudioResources()
{
    Q_INIT_RESOURCE(sdestudio);
}

namespace sde::ui {

QIcon applicationIcon()
{
    static const bool registered = (initStudioResources(), true);
    (void)registered;
    // The theme's icon when the package installed one (hicolor), else the same pictures compiled in.
    QIcon builtIn;
    for (int size : {16, 32, 48, 64, 128, 256})
        builtIn.addFile(QString(":/icons/sdestudio-%1.png").arg(size), QSize(size, size));
    return QIcon::fromTheme("sdestudio", builtIn);
}

namespace {
constexpr int kMaxRecent = 8;
} // namespace

MainWindow::MainWindow(QWidget *parent)
    : QMainWindow(parent), workspaces_(new QTabWidget(this)), sampler_(new SamplerPanel(this)),
      modelPanel_(new ModelPanel(this)), log_(new LogView(this)), history_(new HistoryPanel(this))
{
    setObjectName("mainWindow");
    setWindowTitle(tr("SDE Studio"));
    setWindowIcon(applicationIcon());
    setAcceptDrops(true);

    workspaces_->setObjectName("workspaces");
    workspaces_->setDocumentMode(true);
    // A History entry dragged over a tab opens that workspace, to be dropped on it.
    workspaces_->tabBar()->setChangeCurrentOnDrag(true);
    workspaces_->tabBar()->setAcceptDrops(true);
    addWorkspace(generateWorkspace_ = new GenerateWorkspace(sampler_, this), tr("Generate"));
    addWorkspace(inpaint_ = new InpaintWorkspace(sampler_, this), tr("Inpaint"));
    addWorkspace(colorize_ = new ColorizeWorkspace(sampler_, this), tr("Colorize"));
    addWorkspace(interpolate_ = new InterpolateWorkspace(sampler_, this), tr("Interpolate"));
    addWorkspace(likelihood_ = new LikelihoodWorkspace(sampler_, this), tr("Likelihood"));
    addWorkspace(train_ = new TrainWorkspace(sampler_, this), tr("Train"));
    connect(generateWorkspace_, &GenerateWorkspace::finished, this, [this] { updateActions(); });
    connect(generateWorkspace_, &GenerateWorkspace::sampleSent, this, &MainWindow::sendToWorkspace);
    connect(colorize_, &ColorizeWorkspace::modelRequested, this, [this](const QString &name) { openModel(name); });
    connect(train_, &TrainWorkspace::openModelRequested, this, [this](const QString &path) {
        if (openModel(path))
            workspaces_->setCurrentIndex(0);
    });
    connect(train_, &TrainWorkspace::openCheckpointRequested, this, [this](const QString &path) {
        if (openCheckpoint(path))
            workspaces_->setCurrentIndex(0);
    });
    connect(workspaces_, &QTabWidget::currentChanged, this, [this] { updateActions(); });
    setCentralWidget(workspaces_);

    createDocks();
    createActions();
    // Generate's progress line lives in the status bar, and so does the log, as one button: the
    // dock opens from it, and it counts the errors and warnings logged while the dock is closed.
    statusBar()->addPermanentWidget(generateWorkspace_->progressLabel(), 1);
    statusBar()->addPermanentWidget(generateWorkspace_->progressBar());
    logButton_ = new QToolButton(this);
    logButton_->setObjectName("logButton");
    logButton_->setAutoRaise(true);
    logButton_->setCheckable(true);
    statusBar()->addPermanentWidget(logButton_);
    connect(logButton_, &QToolButton::toggled, logDock_, &QDockWidget::setVisible);
    connect(logDock_, &QDockWidget::visibilityChanged, this, [this] {
        if (logDock_->isVisible())
            unseenProblems_ = 0;
        updateLogButton();
    });
    connect(log_, &LogView::lineAppended, this, [this](const QString &line) {
        lastLogLine_ = line;
        if (!logDock_->isVisible() && (line.contains(" error: ") || line.contains(" warning: ")))
            ++unseenProblems_;
        updateLogButton();
    });
    updateLogButton();
    connect(sampler_, &SamplerPanel::changed, this, [this] { updateActions(); });
    connect(modelPanel_, &ModelPanel::openRequested, this, [this](const QString &path) { openModel(path); });
    connect(modelPanel_, &ModelPanel::openDialogRequested, open_, &QAction::trigger);
    resize(1280, 820);
    defaultState_ = saveState();
    loadSettings();
    updateActions();
}

MainWindow::~MainWindow() = default;

void MainWindow::addWorkspace(Workspace *workspace, const QString &title)
{
    workspaces_->addTab(workspace, title);
    allWorkspaces_.push_back(workspace);
    connect(workspace, &Workspace::errorOccurred, this,
            [this](const QString &message) { reportError(message, false); });
    connect(workspace, &Workspace::statusMessage, this,
            [this](const QString &message) { statusBar()->showMessage(message, 8000); });
    connect(workspace, &Workspace::busyChanged, this, [this] { updateActions(); });
    connect(workspace, &Workspace::resultMade, this,
            [this](const QString &operation, const torch::Tensor &samples, const SamplingSettings &settings) {
                history_->addResult(operation, QString::fromStdString(modelName(info_.path)), samples, settings);
            });
}

Workspace *MainWindow::currentWorkspace() const
{
    return qobject_cast<Workspace *>(workspaces_->currentWidget());
}

bool MainWindow::anyRunBusy() const
{
    for (Workspace *workspace : allWorkspaces_)
        if (workspace != train_ && workspace->busy())
            return true;
    return false;
}

void MainWindow::createDocks()
{
    auto dock = [this](QWidget *content, const QString &title, const char *name, Qt::DockWidgetArea area) {
        auto *widget = new QDockWidget(title, this);
        widget->setObjectName(name);
        widget->setWidget(content);
        addDockWidget(area, widget);
        return widget;
    };
    samplerDock_ = dock(sampler_, tr("Sampler"), "samplerDock", Qt::LeftDockWidgetArea);
    modelDock_ = dock(modelPanel_, tr("Model"), "modelDock", Qt::LeftDockWidgetArea);
    logDock_ = dock(log_, tr("Log"), "logDock", Qt::BottomDockWidgetArea);
    historyDock_ = dock(history_, tr("History"), "historyDock", Qt::LeftDockWidgetArea);
    connect(history_, &HistoryPanel::restoreRequested, this,
            [this](const SamplingSettings &settings, const QString &what) {
                sampler_->setSettings(settings);
                sampler_->setRandomSeed(false);
                statusBar()->showMessage(
                    tr("Settings and seed %1 restored from the history: %2").arg(settings.seed).arg(what), 8000);
            });
    // Closed at first: the button at the status bar's end opens it (the result keeps the room).
    logDock_->hide();
    tabifyDockWidget(samplerDock_, modelDock_);
    tabifyDockWidget(modelDock_, historyDock_);
    samplerDock_->raise();
}

void MainWindow::createActions()
{
    QMenu *file = menuBar()->addMenu(tr("&File"));
    open_ = file->addAction(tr("&Open model…"), this, [this] {
        const QString path = QFileDialog::getOpenFileName(this, tr("Open model"), QString(),
                                                          tr("Models (*.safetensors *.pth);;All files (*)"));
        if (!path.isEmpty())
            openModel(path);
    });
    open_->setShortcut(QKeySequence::Open);
    recentMenu_ = file->addMenu(tr("Open &recent"));
    file->addSeparator();
    GenerateWorkspace *page = generateWorkspace_; // the Generate page's files
    saveImages_ = file->addAction(tr("&Save images…"), page, [page] { page->saveImages(); });
    saveImages_->setShortcut(QKeySequence::Save);
    saveGrid_ = file->addAction(tr("Save &grid…"), page, [page] { page->saveGrid(); });
    saveGrid_->setShortcut(QKeySequence("Ctrl+Shift+S"));
    exportFrames_ = file->addAction(tr("Export trajectory &frames…"), page, [page] { page->exportFrames(); });
    exportFrames_->setShortcut(QKeySequence("Ctrl+E"));
    exportVideo_ = file->addAction(tr("Export trajectory &video…"), page, [page] { page->exportVideo(); });
    exportVideo_->setShortcut(QKeySequence("Ctrl+Shift+E"));
    file->addSeparator();
    QAction *quit = file->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence::Quit);

    QMenu *run = menuBar()->addMenu(tr("&Run"));
    generate_ = run->addAction(tr("&Generate"), this, &MainWindow::generate);
    generate_->setObjectName("generateAction");
    generate_->setToolTip(tr("Generate samples with the reverse-time SDE (Ctrl+Enter on the Generate page)"));
    // Ctrl+Enter runs the shown page's action; always enabled, so that the keys never fall
    // through to the focused widget (a model list would take them as "open this model").
    runPage_ = run->addAction(tr("&Run this page"), this, &MainWindow::runCurrentPage);
    runPage_->setObjectName("runPageAction");
    runPage_->setShortcuts({QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")});
    runPage_->setToolTip(tr("Generate, Inpaint, Colorize, Interpolate or Compute bits/dim: the shown page's action"));
    cancel_ = run->addAction(tr("&Cancel"), this, &MainWindow::cancelGeneration);
    cancel_->setObjectName("cancelAction");
    cancel_->setShortcut(QKeySequence(Qt::Key_Escape));
    cancel_->setToolTip(tr("Stop within one step, keeping the frames so far (Esc)"));
    QAction *play = run->addAction(tr("&Play / pause trajectory"), page->scrubber(), &TrajectoryScrubber::togglePlay);
    play->setShortcut(QKeySequence("Ctrl+P"));

    QMenu *view = menuBar()->addMenu(tr("&View"));
    for (QDockWidget *dock : {modelDock_, samplerDock_, historyDock_, logDock_})
        view->addAction(dock->toggleViewAction());
    view->addSeparator();
    QAction *reset = view->addAction(tr("&Reset layout"), this, &MainWindow::resetLayout);
    reset->setShortcut(QKeySequence("Ctrl+Shift+R"));
    for (int i = 0; i < workspaces_->count(); ++i) {
        QAction *go = view->addAction(workspaces_->tabText(i), this, [this, i] { workspaces_->setCurrentIndex(i); });
        go->setShortcut(QKeySequence(QString("Alt+%1").arg(i + 1)));
    }

    QMenu *help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About SDE Studio"), this, &MainWindow::showAbout);

    QToolBar *tools = addToolBar(tr("Main"));
    tools->setObjectName("mainToolBar");
    tools->addAction(open_);
    tools->addAction(generate_);
    tools->addAction(cancel_);
    tools->addAction(saveImages_);
    rebuildRecentMenu();
}

void MainWindow::updateActions()
{
    const bool generating = generateWorkspace_->busy();
    generate_->setEnabled(model_ != nullptr && !generating);
    Workspace *workspace = currentWorkspace();
    cancel_->setEnabled(workspace && workspace->busy() && workspace != train_);
    open_->setEnabled(true);
    saveImages_->setEnabled(generateWorkspace_->hasSamples() && !generating);
    saveGrid_->setEnabled(generateWorkspace_->hasSamples() && !generating);
    exportFrames_->setEnabled(generateWorkspace_->hasFrames() && !generating);
    exportVideo_->setEnabled(generateWorkspace_->hasFrames() && !generating);
}

void MainWindow::reportError(const QString &message, bool quiet)
{
    lastError_ = message;
    spdlog::error("{}", message.toStdString());
    statusBar()->showMessage(message, 10000);
    if (quiet)
        return;
    auto *box = new QMessageBox(QMessageBox::Warning, tr("SDE Studio"), message, QMessageBox::Ok, this);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
}

std::optional<LoadedModel> MainWindow::loadWith(const QString &nameOrPath, bool quiet,
                                                const std::function<LoadedModel()> &load)
{
    if (anyRunBusy()) {
        reportError(tr("A run is in progress; cancel it before loading another model."), quiet);
        return std::nullopt;
    }
    QApplication::setOverrideCursor(Qt::WaitCursor);
    try {
        LoadedModel loaded = load();
        QApplication::restoreOverrideCursor();
        return loaded;
    } catch (const std::exception &e) {
        QApplication::restoreOverrideCursor();
        reportError(QString::fromStdString(openFailureMessage("the model", nameOrPath.toStdString(), e)), quiet);
        return std::nullopt;
    }
}

bool MainWindow::openModel(const QString &nameOrPath, bool quiet)
{
    std::optional<LoadedModel> result =
        loadWith(nameOrPath, quiet, [&] { return loadModelFile(nameOrPath.toStdString()); });
    if (!result)
        return false;
    LoadedModel &loaded = *result;
    if (!loaded.info.otherMatchingPresets.empty() && !quiet) {
        // The config of a reference checkpoint was guessed from its layout: let the user confirm.
        const auto answer = QMessageBox::question(
            this, tr("Confirm the configuration"),
            tr("%1 does not say which config it was trained with. Its layout matches %2 (chosen) and %3 other "
               "preset(s). Use it?")
                .arg(nameOrPath, QString::fromStdString(loaded.info.configOrigin))
                .arg(loaded.info.otherMatchingPresets.size()));
        if (answer != QMessageBox::Yes)
            return false;
    }
    return installModel(std::move(loaded), nameOrPath, quiet);
}

bool MainWindow::openCheckpoint(const QString &path, bool quiet)
{
    std::optional<LoadedModel> loaded = loadWith(path, quiet, [&] {
        LoadedModel checkpoint;
        checkpoint.model = loadCheckpointModel(path.toStdString());
        checkpoint.info.path = path.toStdString();
        checkpoint.info.format = "training checkpoint (.safetensors)";
        checkpoint.info.configOrigin = "the checkpoint";
        checkpoint.info.hasEma = checkpoint.info.hasRawWeights = checkpoint.info.hasOptimizerState = true;
        checkpoint.info.loadedWeights = "ema";
        checkpoint.info.step = readCheckpointInfo(path.toStdString()).step;
        return checkpoint;
    });
    return loaded && installModel(std::move(*loaded), path, quiet);
}

bool MainWindow::installModel(LoadedModel loaded, const QString &nameOrPath, bool /*quiet*/)
{
    model_ = std::shared_ptr<ScoreModel>(std::move(loaded.model));
    model_->setTraining(false);
    info_ = loaded.info;
    lastError_.clear();
    modelPanel_->showModel(*model_, info_);
    sampler_->setModelDefaults(model_->config());
    // The settings last used with this model, when there are any.
    const QString saved = QSettings().value(samplerKey()).toString();
    if (!saved.isEmpty())
        sampler_->restoreState(saved);
    for (Workspace *workspace : allWorkspaces_)
        workspace->setModel(model_, info_);
    rememberRecent(QString::fromStdString(info_.path));
    setWindowTitle(tr("SDE Studio — %1").arg(QString::fromStdString(modelName(info_.path))));
    spdlog::info("loaded {} ({}, {})", info_.path, model_->config().architectureName(),
                 model_->config().sdeDescription());
    statusBar()->showMessage(tr("Loaded %1").arg(nameOrPath), 5000);
    updateActions();
    Q_EMIT modelLoaded();
    return true;
}

bool MainWindow::restoreFromImage(const QString &path, bool quiet)
{
    try {
        const StoredGeneration stored = readGeneratedImageSettings(path.toStdString());
        SamplingSettings settings = stored.settings;
        sampler_->setSettings(settings);
        sampler_->setRandomSeed(false);
        statusBar()->showMessage(
            tr("Settings and seed %1 restored from %2").arg(settings.seed).arg(QFileInfo(path).fileName()), 8000);
        spdlog::info("restored settings (seed {}) from {}", settings.seed, path.toStdString());
        return true;
    } catch (const std::exception &e) {
        reportError(QString::fromStdString(e.what()), quiet);
        return false;
    }
}

void MainWindow::generate()
{
    if (!model_ || generateWorkspace_->busy())
        return;
    try {
        const torch::Device device = parseDevice(sampler_->deviceName().toStdString());
        if (device != model_->device()) {
            if (anyRunBusy()) {
                reportError(tr("Another workspace is using the model; wait for it (or cancel it) before moving the "
                               "model to %1.")
                                .arg(sampler_->deviceName()),
                            false);
                return;
            }
            model_->to(device);
        }
    } catch (const std::exception &e) {
        reportError(QString::fromStdString(e.what()), false);
        return;
    }
    if (generateWorkspace_->generate())
        QSettings().setValue(samplerKey(), sampler_->saveState());
}

void MainWindow::runCurrentPage()
{
    Workspace *workspace = currentWorkspace();
    const QString page = workspace ? workspaces_->tabText(workspaces_->currentIndex()).remove('&') : QString();
    if (workspace && workspace->busy()) {
        statusBar()->showMessage(workspace == train_ ? tr("Training is running; the Train page's Stop button stops it")
                                                     : tr("%1 is running; Esc cancels it").arg(page),
                                 5000);
        return;
    }
    if (workspace == generateWorkspace_) {
        if (!model_)
            statusBar()->showMessage(tr("Load a model first (the Model dock)"), 5000);
        else
            generate();
        return;
    }
    RunBar *bar = workspace ? workspace->findChild<RunBar *>() : nullptr;
    if (!bar) {
        statusBar()->showMessage(tr("Ctrl+Enter has no action on the %1 page; use its buttons").arg(page), 5000);
        return;
    }
    if (bar->runButton()->isEnabled())
        bar->runButton()->click();
    else
        statusBar()->showMessage(bar->runButton()->toolTip(), 5000);
}

void MainWindow::cancelGeneration()
{
    if (Workspace *workspace = currentWorkspace())
        workspace->cancel();
}

void MainWindow::resetLayout()
{
    restoreState(defaultState_);
    for (QDockWidget *dock : {modelDock_, samplerDock_, historyDock_})
        dock->show();
    logDock_->hide();
    samplerDock_->raise();
}

void MainWindow::updateLogButton()
{
    const QSignalBlocker quiet(logButton_);
    logButton_->setChecked(logDock_->isVisible());
    logButton_->setText(unseenProblems_ > 0 ? tr("Log (%n new problem(s))", nullptr, unseenProblems_) : tr("Log"));
    logButton_->setToolTip(lastLogLine_.isEmpty() ? tr("Show the log")
                                                  : tr("Show the log; last: %1").arg(lastLogLine_));
}

void MainWindow::rememberRecent(const QString &path)
{
    QSettings settings;
    QStringList recent = settings.value("recentModels").toStringList();
    recent.removeAll(path);
    recent.prepend(path);
    while (recent.size() > kMaxRecent)
        recent.removeLast();
    settings.setValue("recentModels", recent);
    settings.setValue("lastModel", path);
    rebuildRecentMenu();
}

void MainWindow::rebuildRecentMenu()
{
    recentMenu_->clear();
    const QStringList recent = QSettings().value("recentModels").toStringList();
    for (const QString &path : recent)
        recentMenu_
            ->addAction(QString::fromStdString(modelName(path.toStdString())), this, [this, path] { openModel(path); })
            ->setToolTip(path);
    recentMenu_->setEnabled(!recent.isEmpty());
}

void MainWindow::showAbout()
{
    const QString device = model_ ? QString::fromStdString(model_->device().str()) : tr("none");
    QMessageBox::about(this, tr("About SDE Studio"),
                       tr("<h3>SDE Studio %1</h3>"
                          "<p>Score-based generative modeling through stochastic differential equations "
                          "(Song et al., ICLR 2021).</p>"
                          "<p>Qt %2<br>LibTorch %3%4<br>OpenCV %5<br>Device in use: %6</p>")
                           .arg(SDE_VERSION, qVersion(), TORCH_VERSION,
                                torch::cuda::is_available() ? tr(" (CUDA available)") : tr(" (CPU)"),
                                QString::fromStdString(openCvVersion()), device));
}

void MainWindow::loadSettings()
{
    QSettings settings;
    restoreGeometry(settings.value("window/geometry").toByteArray());
    restoreState(settings.value("window/state").toByteArray());
}

QString MainWindow::samplerKey() const
{
    // By the model's name: every bundled model's weights are called model.safetensors.
    QString name = QString::fromStdString(modelName(info_.path));
    return "sampler/" + name.replace('/', '_');
}

void MainWindow::saveSettings()
{
    QSettings settings;
    settings.setValue("window/geometry", saveGeometry());
    settings.setValue("window/state", saveState());
    if (model_)
        settings.setValue(samplerKey(), sampler_->saveState());
}

void MainWindow::closeEvent(QCloseEvent *event)
{
    // Runs in progress are stopped within one step (a training run after its step, with a
    // checkpoint); their threads are shut down cleanly as the window goes.
    for (Workspace *workspace : allWorkspaces_)
        workspace->cancel();
    if (train_->busy())
        train_->stopRun();
    saveSettings();
    event->accept();
}

void MainWindow::dragEnterEvent(QDragEnterEvent *event)
{
    if (event->mimeData()->hasUrls() || event->mimeData()->hasFormat(HistoryPanel::kMimeType))
        event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent *event)
{
    if (event->mimeData()->hasFormat(HistoryPanel::kMimeType)) {
        // Only on a workspace: a short drag within the History dock changes nothing.
        const QPoint at = workspaces_->mapFrom(this, event->position().toPoint());
        if (!workspaces_->rect().contains(at)) {
            event->ignore();
            return;
        }
        dropHistoryEntry(event->mimeData());
        event->setDropAction(Qt::CopyAction);
        event->accept();
        return;
    }
    openDroppedFiles(event->mimeData()->urls());
    event->acceptProposedAction();
}

bool MainWindow::dropHistoryEntry(const QMimeData *data)
{
    const HistoryPanel::Entry *found = history_->entryOf(data);
    if (!found) {
        reportError(tr("That history entry is gone (the history keeps the newest %1)").arg(HistoryPanel::kMostEntries),
                    true);
        return false;
    }
    const HistoryPanel::Entry copy = *found; // the history may change while it is used
    const HistoryPanel::Entry *entry = &copy;
    const QString name = tr("%1 (seed %2)").arg(entry->operation).arg(entry->settings.seed);
    Workspace *workspace = currentWorkspace();
    if (workspace == generateWorkspace_) {
        sampler_->setSettings(entry->settings);
        sampler_->setRandomSeed(false);
        statusBar()->showMessage(tr("Settings and seed %1 restored from the history").arg(entry->settings.seed), 8000);
        return true;
    }
    const bool fits =
        model_ && !model_->config().isPointModel() && entry->image.sizes() == at::IntArrayRef(model_->sampleShape());
    if (workspace == colorize_ || workspace == inpaint_ || workspace == interpolate_ || workspace == likelihood_) {
        if (!model_ || model_->config().isPointModel()) {
            reportError(tr("Load an image model first: the history's %1 goes into a workspace of one").arg(name),
                        false);
            return false;
        }
        if (!fits) {
            reportError(tr("The history's %1 is %2 x %3 with %4 channel(s); the loaded model takes another shape")
                            .arg(name)
                            .arg(entry->image.size(2))
                            .arg(entry->image.size(1))
                            .arg(entry->image.size(0)),
                        false);
            return false;
        }
        if (workspace == interpolate_)
            sendToWorkspace(entry->image, name,
                            interpolate_->endpoint(0).defined() && !interpolate_->endpoint(1).defined()
                                ? SampleTarget::InterpolationEnd
                                : SampleTarget::InterpolationStart);
        else
            sendToWorkspace(entry->image, name,
                            workspace == colorize_  ? SampleTarget::Colorize
                            : workspace == inpaint_ ? SampleTarget::Inpaint
                                                    : SampleTarget::Likelihood);
        return true;
    }
    reportError(tr("Drop a history entry on Generate (its settings), Inpaint, Colorize, Interpolate or Likelihood"),
                true);
    return false;
}

void MainWindow::openDroppedFiles(const QList<QUrl> &urls)
{
    static const QStringList imageSuffixes = {"png", "jpg", "jpeg", "bmp", "webp", "tif", "tiff", "pgm", "ppm"};
    // The editing workspace in view takes images; on Generate a generated PNG restores its settings.
    Workspace *workspace = currentWorkspace() == generateWorkspace_ ? nullptr : currentWorkspace();
    for (const QUrl &url : urls) {
        const QString path = url.toLocalFile();
        const QString suffix = QFileInfo(path).suffix().toLower();
        if (suffix == "pth" || suffix == "safetensors")
            openModel(path);
        else if (workspace && imageSuffixes.contains(suffix))
            workspace->openImageFile(path); // the workspace in view takes images
        else if (suffix == "png")
            restoreFromImage(path);
        else
            reportError(tr("%1: drop a model (.safetensors, .pth), a generated PNG, or an image on an editing "
                           "workspace")
                            .arg(path),
                        false);
    }
}

void MainWindow::sendToWorkspace(const torch::Tensor &sample, const QString &name, SampleTarget target)
{
    switch (target) {
    case SampleTarget::Inpaint:
        inpaint_->setImage(sample);
        workspaces_->setCurrentWidget(inpaint_);
        break;
    case SampleTarget::Colorize:
        colorize_->setImage(sample);
        workspaces_->setCurrentWidget(colorize_);
        break;
    case SampleTarget::InterpolationStart:
    case SampleTarget::InterpolationEnd:
        interpolate_->setEndpoint(target == SampleTarget::InterpolationStart ? 0 : 1, sample);
        workspaces_->setCurrentWidget(interpolate_);
        break;
    case SampleTarget::Likelihood:
        likelihood_->addImage(sample, name);
        workspaces_->setCurrentWidget(likelihood_);
        break;
    }
    statusBar()->showMessage(tr("Sent %1").arg(name), 5000);
}

} // namespace sde::ui
