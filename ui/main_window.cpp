#include "main_window.h"

#include "class_panel.h"
#include "colorize_workspace.h"
#include "image_view.h"
#include "inpaint_workspace.h"
#include "interpolate_workspace.h"
#include "likelihood_workspace.h"
#include "log_dock.h"
#include "model_panel.h"
#include "run_bar.h"
#include "sampler_panel.h"
#include "tensor_image.h"
#include "train_workspace.h"
#include "trajectory_scrubber.h"

#include "data/toy_data.h"
#include "editing/guidance.h"
#include "imaging/generation_record.h"
#include "imaging/image_io.h"
#include "imaging/point_plot.h"
#include "imaging/video_writer.h"
#include "io/bundled_models.h"
#include "train/trainer.h"
#include "train/training_checkpoint.h"
#include "util/build_info.h"
#include "util/device.h"
#include "util/error.h"
#include "util/files.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDir>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QSettings>
#include <QSplitter>
#include <QStatusBar>
#include <QTabWidget>
#include <QToolBar>
#include <QVBoxLayout>

#include <spdlog/spdlog.h>
#include <torch/version.h>

namespace sde::ui {

namespace {

constexpr int kMaxRecent = 8;

// Samples of a toy model's data distribution, drawn behind its particles.
torch::Tensor toyBackground(const ModelConfig &config)
{
    const std::string &dataset = config.data.dataset;
    const auto colon = dataset.find(':');
    try {
        const std::string name = colon == std::string::npos ? dataset : dataset.substr(colon + 1);
        return sampleToyDistribution(toyDistributionFromName(name), 3000, at::detail::createCPUGenerator(1));
    } catch (const Error &) {
        return {};
    }
}

} // namespace

MainWindow::MainWindow(QWidget *parent)
    : QMainWindow(parent), runner_(new SamplingRunner("samplingThread", this)), workspaces_(new QTabWidget(this)),
      classPanel_(new ClassPanel(this)), result_(new ImageView(this)), scrubber_(new TrajectoryScrubber(this)),
      progress_(new QProgressBar(this)), progressLabel_(new QLabel(this)), sampler_(new SamplerPanel(this)),
      modelPanel_(new ModelPanel(this)), log_(new LogView(this))
{
    setObjectName("mainWindow");
    setWindowTitle(tr("SDE Studio"));
    setAcceptDrops(true);

    connect(runner_, &SamplingRunner::progress, this, [this](qint64 step, qint64 total, qint64 nfe, double eta) {
        progress_->setRange(0, total > 0 ? static_cast<int>(total) : 0);
        progress_->setValue(static_cast<int>(step));
        progressLabel_->setText(progressText(step, total, nfe, eta));
    });
    connect(runner_, &SamplingRunner::frameReady, this,
            [this](const TrajectoryFrame &frame) { scrubber_->appendFrame(frame); });
    connect(runner_, &SamplingRunner::finished, this, &MainWindow::onFinished);
    connect(runner_, &SamplingRunner::failed, this, [this](const QString &message) {
        generating_ = false;
        updateActions();
        progressLabel_->setText(tr("failed"));
        reportError(tr("Sampling failed: %1").arg(message), false);
        Q_EMIT generationFinished();
    });
    connect(classPanel_, &ClassPanel::errorOccurred, this,
            [this](const QString &message) { reportError(message, false); });

    workspaces_->setObjectName("workspaces");
    workspaces_->setDocumentMode(true);
    workspaces_->addTab(createGenerateWorkspace(), tr("Generate"));
    addWorkspace(inpaint_ = new InpaintWorkspace(sampler_, this), tr("Inpaint"));
    addWorkspace(colorize_ = new ColorizeWorkspace(sampler_, this), tr("Colorize"));
    addWorkspace(interpolate_ = new InterpolateWorkspace(sampler_, this), tr("Interpolate"));
    addWorkspace(likelihood_ = new LikelihoodWorkspace(sampler_, this), tr("Likelihood"));
    addWorkspace(train_ = new TrainWorkspace(sampler_, this), tr("Train"));
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
    statusBar()->addPermanentWidget(progressLabel_);
    statusBar()->addPermanentWidget(progress_);
    progress_->setObjectName("progressBar");
    progress_->setMaximumWidth(240);
    progress_->setValue(0);
    connect(sampler_, &SamplerPanel::changed, this, [this] { updateActions(); });
    connect(modelPanel_, &ModelPanel::openRequested, this, [this](const QString &path) { openModel(path); });
    connect(modelPanel_, &ModelPanel::openDialogRequested, open_, &QAction::trigger);
    resize(1280, 820);
    defaultState_ = saveState();
    loadSettings();
    updateActions();
}

MainWindow::~MainWindow() = default;

SamplingWorker *MainWindow::worker() const
{
    return runner_->worker();
}

void MainWindow::addWorkspace(Workspace *workspace, const QString &title)
{
    workspaces_->addTab(workspace, title);
    editors_.push_back(workspace);
    connect(workspace, &Workspace::errorOccurred, this,
            [this](const QString &message) { reportError(message, false); });
    connect(workspace, &Workspace::statusMessage, this,
            [this](const QString &message) { statusBar()->showMessage(message, 8000); });
    connect(workspace, &Workspace::busyChanged, this, [this] { updateActions(); });
}

Workspace *MainWindow::currentWorkspace() const
{
    return qobject_cast<Workspace *>(workspaces_->currentWidget());
}

bool MainWindow::anyRunBusy() const
{
    if (generating_)
        return true;
    for (Workspace *workspace : editors_)
        if (workspace != train_ && workspace->busy())
            return true;
    return false;
}

QWidget *MainWindow::createGenerateWorkspace()
{
    auto *page = new QWidget(this);
    result_->setObjectName("resultView");
    result_->setCaption(tr("samples"));
    result_->setPlaceholder(tr("Press Generate (Ctrl+Enter)"));
    scrubber_->setObjectName("trajectoryScrubber");
    auto *splitter = new QSplitter(Qt::Horizontal, page);
    splitter->setObjectName("generateSplitter");
    splitter->addWidget(result_);
    splitter->addWidget(scrubber_);
    splitter->setStretchFactor(0, 2);
    splitter->setStretchFactor(1, 3);
    classPanel_->setObjectName("classPanel");
    result_->setContextMenuPolicy(Qt::CustomContextMenu);
    result_->setToolTip(tr("Right-click a sample to send it to another workspace"));
    connect(result_, &QWidget::customContextMenuRequested, this, &MainWindow::showResultMenu);
    auto *layout = new QVBoxLayout(page);
    layout->addWidget(classPanel_);
    layout->addWidget(splitter, 1);
    return page;
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
    tabifyDockWidget(samplerDock_, modelDock_);
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
    saveImages_ = file->addAction(tr("&Save images…"), this, [this] {
        const QString folder = QFileDialog::getExistingDirectory(this, tr("Save images to"));
        if (!folder.isEmpty())
            saveImages(folder);
    });
    saveImages_->setShortcut(QKeySequence::Save);
    saveGrid_ = file->addAction(tr("Save &grid…"), this, [this] {
        const QString path = QFileDialog::getSaveFileName(this, tr("Save grid"), "grid.png", tr("PNG images (*.png)"));
        if (!path.isEmpty())
            saveGrid(path);
    });
    saveGrid_->setShortcut(QKeySequence("Ctrl+Shift+S"));
    exportFrames_ = file->addAction(tr("Export trajectory &frames…"), this, [this] {
        const QString folder = QFileDialog::getExistingDirectory(this, tr("Export frames to"));
        if (!folder.isEmpty())
            exportFrames(folder);
    });
    exportFrames_->setShortcut(QKeySequence("Ctrl+E"));
    exportVideo_ = file->addAction(tr("Export trajectory &video…"), this, [this] {
        const QString path =
            QFileDialog::getSaveFileName(this, tr("Export video"), "trajectory.avi", tr("AVI video (*.avi)"));
        if (!path.isEmpty())
            exportVideo(path);
    });
    exportVideo_->setShortcut(QKeySequence("Ctrl+Shift+E"));
    file->addSeparator();
    QAction *quit = file->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence::Quit);

    QMenu *run = menuBar()->addMenu(tr("&Run"));
    generate_ = run->addAction(tr("&Generate"), this, &MainWindow::generate);
    generate_->setObjectName("generateAction");
    generate_->setShortcuts({QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")});
    generate_->setToolTip(tr("Generate samples with the reverse-time SDE (Ctrl+Enter)"));
    cancel_ = run->addAction(tr("&Cancel"), this, &MainWindow::cancelGeneration);
    cancel_->setObjectName("cancelAction");
    cancel_->setShortcut(QKeySequence(Qt::Key_Escape));
    cancel_->setToolTip(tr("Stop within one step, keeping the frames so far (Esc)"));
    QAction *play = run->addAction(tr("&Play / pause trajectory"), scrubber_, &TrajectoryScrubber::togglePlay);
    play->setShortcut(QKeySequence("Ctrl+P"));

    QMenu *view = menuBar()->addMenu(tr("&View"));
    for (QDockWidget *dock : {modelDock_, samplerDock_, logDock_})
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
    const bool haveModel = model_ != nullptr;
    const bool haveResult = lastResult_.samples.defined() && lastResult_.samples.numel() > 0;
    generate_->setEnabled(haveModel && !generating_);
    Workspace *workspace = currentWorkspace();
    cancel_->setEnabled(workspace ? workspace->busy() && workspace != train_ : generating_);
    open_->setEnabled(true);
    saveImages_->setEnabled(haveResult && !generating_);
    saveGrid_->setEnabled(haveResult && !generating_);
    exportFrames_->setEnabled(scrubber_->frameCount() > 0 && !generating_);
    exportVideo_->setEnabled(scrubber_->frameCount() > 0 && !generating_);
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
        reportError(tr("Could not open %1: %2").arg(nameOrPath, QString::fromStdString(e.what())), quiet);
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
    const bool points = model_->config().isPointModel();
    scrubber_->clear();
    scrubber_->setPointMode(points, points ? toyBackground(model_->config()) : torch::Tensor());
    lastResult_ = GenerationResult();
    result_->setImage(QImage());
    classPanel_->setModel(model_.get());
    for (Workspace *workspace : editors_)
        workspace->setModel(model_, info_);
    rememberRecent(QString::fromStdString(info_.path));
    setWindowTitle(tr("SDE Studio — %1").arg(QFileInfo(QString::fromStdString(info_.path)).fileName()));
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
    if (!model_ || generating_)
        return;
    SamplingSettings settings = sampler_->takeSettings();
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
    SamplingJob job = generationJob(model_, settings, sampler_->frameEvery());
    lastInputs_ = Json::object();
    if (classPanel_->active()) {
        // Class-conditional: the sampler in the dock with the classifier's guidance.
        std::shared_ptr<LoadedClassifier> classifier = classPanel_->classifier();
        classifier->network->to(model_->device());
        const int64_t label = classPanel_->classIndex();
        const double guidance = classPanel_->guidance();
        std::shared_ptr<const ScoreModel> model = model_;
        job.what = "generated " + std::to_string(settings.batch) + " sample(s) of class " +
                   classPanel_->className().toStdString();
        job.run = [model, classifier, label, guidance, settings](JobContext &context) {
            ClassifierFn classify = [classifier](const torch::Tensor &x, const torch::Tensor &t) {
                return classifier->network->forward(x, t);
            };
            return fromSampleResult(sampleClass(*model, classify, torch::full({settings.batch}, label, torch::kLong),
                                                guidance, settings, context.onStep(), context.cancelToken()));
        };
        lastInputs_["classifier"] = classPanel_->classifierName().toStdString();
        lastInputs_["class"] = label;
        lastInputs_["class_name"] = classPanel_->className().toStdString();
        lastInputs_["guidance"] = guidance;
    }
    lastSettings_ = settings;
    QSettings().setValue(samplerKey(), sampler_->saveState());
    generating_ = true;
    scrubber_->clear();
    progress_->setValue(0);
    progressLabel_->setText(tr("starting…"));
    updateActions();
    spdlog::info("generating: {}{}", describeSettings(settings),
                 classPanel_->active() ? ", class " + classPanel_->className().toStdString() : std::string());
    runner_->start(job);
}

void MainWindow::cancelGeneration()
{
    // Esc stops the run of the workspace in view (a training run is stopped with its own button).
    if (Workspace *workspace = currentWorkspace()) {
        workspace->cancel();
        return;
    }
    if (generating_) {
        runner_->cancel();
        progressLabel_->setText(tr("cancelling…"));
    }
}

void MainWindow::onFinished(const GenerationResult &result)
{
    generating_ = false;
    lastResult_ = result;
    const bool points = model_ && model_->config().isPointModel();
    if (result.samples.defined() && result.samples.numel() > 0) {
        result_->setImage(
            points ? tensorToImage(renderPointCloud(result.samples, 384, 4.5, toyBackground(model_->config())))
                   : batchToGrid(result.samples));
    }
    scrubber_->setFrames(result.frames);
    progressLabel_->setText(
        result.completed
            ? tr("%1 samples, %2 NFE, %3 s").arg(lastSettings_.batch).arg(result.nfe).arg(result.seconds, 0, 'f', 1)
            : tr("cancelled at step %1 (frames kept)").arg(result.steps));
    if (!result.completed)
        lastResult_.samples = torch::Tensor(); // a cancelled run has no finished samples to save
    updateActions();
    Q_EMIT generationFinished();
}

QStringList MainWindow::saveImages(const QString &folder)
{
    QStringList written;
    if (!model_ || !lastResult_.samples.defined())
        return written;
    try {
        GenerationRecord record;
        record.modelFile = baseName(info_.path);
        record.weights = info_.loadedWeights;
        record.settings = lastSettings_;
        record.nfe = lastResult_.nfe;
        record.inputs = lastInputs_;
        torch::Tensor images = lastResult_.samples;
        if (model_->config().isPointModel()) {
            // A toy model's sample is one point: each file shows it as a picture.
            std::vector<torch::Tensor> pictures;
            for (int64_t i = 0; i < images.size(0); ++i)
                pictures.push_back(renderPointCloud(images.slice(0, i, i + 1)));
            images = torch::stack(pictures);
        }
        for (const std::string &path : saveGeneratedBatch(folder.toStdString(), images, record, *model_))
            written << QString::fromStdString(path);
        statusBar()->showMessage(tr("Saved %1 image(s) to %2").arg(written.size()).arg(folder), 5000);
    } catch (const std::exception &e) {
        reportError(tr("Could not save the images: %1").arg(QString::fromStdString(e.what())), false);
    }
    return written;
}

void MainWindow::saveGrid(const QString &path)
{
    if (!lastResult_.samples.defined())
        return;
    try {
        savePng(path.toStdString(), model_->config().isPointModel() ? renderPointCloud(lastResult_.samples)
                                                                    : makeGrid(lastResult_.samples));
        statusBar()->showMessage(tr("Saved %1").arg(path), 5000);
    } catch (const std::exception &e) {
        reportError(tr("Could not save the grid: %1").arg(QString::fromStdString(e.what())), false);
    }
}

void MainWindow::exportFrames(const QString &folder)
{
    try {
        const bool points = model_->config().isPointModel();
        for (const TrajectoryFrame &frame : scrubber_->frames()) {
            const QString base = QDir(folder).filePath(QString("step-%1").arg(frame.step, 5, 10, QChar('0')));
            if (points) {
                savePng((base + ".png").toStdString(), renderPointCloud(frame.x));
            } else {
                savePng((base + "-x.png").toStdString(), makeGrid(frame.x));
                savePng((base + "-x0.png").toStdString(), makeGrid(frame.denoised));
            }
        }
        statusBar()->showMessage(tr("Exported %1 frames to %2").arg(scrubber_->frameCount()).arg(folder), 5000);
    } catch (const std::exception &e) {
        reportError(tr("Could not export the frames: %1").arg(QString::fromStdString(e.what())), false);
    }
}

void MainWindow::exportVideo(const QString &path)
{
    try {
        const bool points = model_->config().isPointModel();
        std::vector<torch::Tensor> frames;
        for (const TrajectoryFrame &frame : scrubber_->frames())
            frames.push_back(points ? renderPointCloud(frame.x)
                                    : torch::cat({makeGrid(frame.x), makeGrid(frame.denoised)}, 2));
        writeVideo(path.toStdString(), frames, 12.0);
        statusBar()->showMessage(tr("Exported %1").arg(path), 5000);
    } catch (const std::exception &e) {
        reportError(tr("Could not export the video: %1").arg(QString::fromStdString(e.what())), false);
    }
}

void MainWindow::resetLayout()
{
    restoreState(defaultState_);
    for (QDockWidget *dock : {modelDock_, samplerDock_, logDock_})
        dock->show();
    samplerDock_->raise();
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
        recentMenu_->addAction(QFileInfo(path).fileName(), this, [this, path] { openModel(path); })->setToolTip(path);
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
    QString name = QFileInfo(QString::fromStdString(info_.path)).fileName();
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
    runner_->cancel();
    for (Workspace *workspace : editors_)
        workspace->cancel();
    if (train_->busy())
        train_->stopRun();
    saveSettings();
    event->accept();
}

void MainWindow::dragEnterEvent(QDragEnterEvent *event)
{
    if (event->mimeData()->hasUrls())
        event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent *event)
{
    openDroppedFiles(event->mimeData()->urls());
    event->acceptProposedAction();
}

void MainWindow::openDroppedFiles(const QList<QUrl> &urls)
{
    static const QStringList imageSuffixes = {"png", "jpg", "jpeg", "bmp", "webp", "tif", "tiff", "pgm", "ppm"};
    Workspace *workspace = currentWorkspace();
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

bool MainWindow::sendSample(int index, const QString &target)
{
    if (!model_ || !lastResult_.samples.defined() || index < 0 || index >= lastResult_.samples.size(0) ||
        model_->config().isPointModel())
        return false;
    const torch::Tensor sample = lastResult_.samples[index];
    const QString name =
        tr("sample %1 (seed %2)").arg(index + 1).arg(lastSettings_.seed + static_cast<uint64_t>(index));
    if (target == "inpaint") {
        inpaint_->setImage(sample);
        workspaces_->setCurrentWidget(inpaint_);
    } else if (target == "colorize") {
        colorize_->setImage(sample);
        workspaces_->setCurrentWidget(colorize_);
    } else if (target == "start" || target == "end") {
        interpolate_->setEndpoint(target == "start" ? 0 : 1, sample);
        workspaces_->setCurrentWidget(interpolate_);
    } else if (target == "likelihood") {
        likelihood_->addImage(sample, name);
        workspaces_->setCurrentWidget(likelihood_);
    } else {
        return false;
    }
    statusBar()->showMessage(tr("Sent %1").arg(name), 5000);
    return true;
}

void MainWindow::showResultMenu(const QPoint &pos)
{
    if (!lastResult_.samples.defined() || model_->config().isPointModel())
        return;
    const auto pixel = result_->imagePixelAt(pos);
    if (!pixel)
        return;
    const int index =
        gridIndexAt(*pixel, lastResult_.samples.size(0), lastResult_.samples.size(2), lastResult_.samples.size(3));
    if (index < 0)
        return;
    QMenu menu(this);
    menu.setTitle(tr("Sample %1").arg(index + 1));
    menu.addAction(tr("Send sample %1 to Inpaint").arg(index + 1), this,
                   [this, index] { sendSample(index, "inpaint"); });
    if (model_->sampleShape()[0] == 3) // colorization needs the RGB model that made the sample
        menu.addAction(tr("Send sample %1 to Colorize").arg(index + 1), this,
                       [this, index] { sendSample(index, "colorize"); });
    menu.addAction(tr("Use as interpolation start"), this, [this, index] { sendSample(index, "start"); });
    menu.addAction(tr("Use as interpolation end"), this, [this, index] { sendSample(index, "end"); });
    menu.addAction(tr("Measure its bits/dim"), this, [this, index] { sendSample(index, "likelihood"); });
    menu.exec(result_->mapToGlobal(pos));
}

} // namespace sde::ui
