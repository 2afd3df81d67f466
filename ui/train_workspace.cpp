#include "train_workspace.h"

#include "form_widgets.h"
#include "image_view.h"
#include "loss_chart.h"
#include "studio_style.h"
#include "tensor_image.h"
#include "training_worker.h"

#include "config/presets.h"
#include "imaging/image_io.h"
#include "io/bundled_models.h"
#include "sde/sde_catalogue.h"
#include "train/training_checkpoint.h"
#include "util/device.h"
#include "util/error.h"
#include "util/files.h"
#include "util/json_fields.h"

#include <algorithm>

#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QScrollArea>
#include <QScrollBar>
#include <QSettings>
#include <QSpinBox>
#include <QSplitter>
#include <QStandardPaths>
#include <QThread>
#include <QVBoxLayout>

#include <filesystem>

#include <spdlog/spdlog.h>

namespace sde::ui {

namespace {

// The SDEs as configs name them, from core's catalogue.
QStringList sdeNameList()
{
    QStringList names;
    for (const std::string &name : sdeNames())
        names << QString::fromStdString(name);
    return names;
}

} // namespace

namespace {

constexpr const char *kFolderData = "folder";
constexpr const char *kPatchData = "patches";

// The toy distributions, as openTrainingData names them.
const QStringList kToys = {"moons", "8gaussians", "checkerboard", "swissroll"};

} // namespace

TrainWorkspace::TrainWorkspace(SamplerPanel *sampler, QWidget *parent)
    : Workspace(sampler, "trainWorkspace", parent), worker_(new TrainingWorker(this)), chart_(new LossChart(this)),
      preview_(new ImageView(this)), folder_(new QLineEdit(this)), dataFolder_(new QLineEdit(this)),
      config_(makeCombo(this, "trainConfig", {})), data_(makeCombo(this, "trainData", {})),
      sde_(makeCombo(this, "trainSde", sdeNameList())), device_(makeCombo(this, "trainDevice", {"cpu"})),
      precision_(makeCombo(this, "trainPrecision", {"float32", "bfloat16", "float16"})),
      batch_(makeInteger(this, "trainBatch", 1, 65536, 32)),
      warmup_(makeInteger(this, "trainWarmup", 0, 10000000, 5000)),
      steps_(makeInteger(this, "trainSteps", 1, 100000000, 30000)),
      seed_(makeInteger(this, "trainSeed", 0, 2147483647, 0)),
      checkpointEvery_(makeInteger(this, "trainCheckpointEvery", 1, 10000000, 500)),
      snapshotEvery_(makeInteger(this, "trainSnapshotEvery", 0, 10000000, 500)),
      processes_(makeInteger(this, "trainProcesses", 1, std::max(1, QThread::idealThreadCount()), 1)),
      lr_(makeNumber(this, "trainLearningRate", 1e-7, 1.0, 2e-4, 7)),
      ema_(makeNumber(this, "trainEma", 0.0, 0.999999, 0.999, 6)), start_(new QPushButton(tr("Start"), this)),
      resume_(new QPushButton(tr("Resume run"), this)), pause_(new QPushButton(tr("Pause"), this)),
      stop_(new QPushButton(tr("Stop"), this)), openCheckpoint_(new QPushButton(tr("Open in Generate"), this)),
      openModel_(new QPushButton(tr("Open the run's model"), this)), browseData_(new QPushButton(tr("Browse…"), this)),
      checkpoints_(new QListWidget(this)), status_(new QLabel(this)), stats_(new ElidedLabel(this))
{
    if (torch::cuda::is_available())
        for (int64_t i = 0; i < static_cast<int64_t>(torch::cuda::device_count()); ++i)
            device_->addItem(QString("cuda:%1").arg(i));
    precision_->setToolTip(tr("The forward pass's number format under autocast: bfloat16 (CUDA, or a CPU with "
                              "AVX-512) or float16 (CUDA, with dynamic loss scaling); weights, gradients and Adam "
                              "stay float32."));
    processes_->setToolTip(tr("Data-parallel training in this many processes on this machine: each trains on its "
                              "share of every batch, one CPU core each (Gloo on loopback), or on a CUDA device one "
                              "GPU each, process i on cuda:i (NCCL). The batch is the whole job's; the result does "
                              "not depend on the number of processes. A job of more than one process cannot be "
                              "paused."));
    start_->setObjectName("startTraining");
    resume_->setObjectName("resumeTraining");
    pause_->setObjectName("pauseTraining");
    stop_->setObjectName("stopTraining");
    openCheckpoint_->setObjectName("openCheckpoint");
    checkpoints_->setObjectName("checkpointList");
    status_->setObjectName("trainStatus");
    stats_->setObjectName("trainStats");
    status_->setWordWrap(true);
    status_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    stats_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    preview_->setObjectName("trainPreview");
    preview_->setCaption(tr("preview samples"));
    preview_->setPlaceholder(tr("Previews appear every N steps while training"));
    folder_->setObjectName("trainFolder");
    dataFolder_->setObjectName("trainDataFolder");
    dataFolder_->setPlaceholderText(tr("a folder of PNG/JPEG images"));
    start_->setToolTip(tr("Start a new run in the run folder"));
    resume_->setToolTip(tr("Continue the run folder's newest checkpoint exactly (its config and batch are kept)"));
    stop_->setToolTip(tr("Stop after the current step and write a checkpoint"));
    lr_->setSingleStep(1e-5);
    ema_->setSingleStep(0.0001);
    snapshotEvery_->setSpecialValueText(tr("off"));

    for (const BundledModel &bundled : bundledModels())
        if (bundled.kind == "score") {
            const QString config = QFileInfo(QString::fromStdString(bundled.path)).dir().filePath("config.json");
            if (QFile::exists(config))
                config_->addItem(tr("bundled: %1").arg(QString::fromStdString(bundled.name)), "file:" + config);
        }
    try {
        for (const std::string &name : presetNames())
            config_->addItem(tr("preset: %1").arg(QString::fromStdString(name)),
                             "preset:" + QString::fromStdString(name));
    } catch (const std::exception &) {
        // No presets folder: the bundled configs and files remain.
    }
    config_->addItem(tr("Config file…"), "choose");
    data_->addItem(tr("Fashion-MNIST (dataset-fashion-mnist)"), "fashion-mnist");
    data_->addItem(tr("Folder of images"), kFolderData);
    data_->addItem(tr("Patches of photographs in a folder"), kPatchData);
    for (const QString &toy : kToys)
        data_->addItem(tr("2D toy: %1").arg(toy), "toy:" + toy);

    auto *browseFolder = new QPushButton(tr("Browse…"), this);
    connect(browseFolder, &QPushButton::clicked, this, [this] {
        const QString folder = QFileDialog::getExistingDirectory(this, tr("The run's folder"), folder_->text());
        if (!folder.isEmpty())
            setRunFolder(folder);
    });
    connect(browseData_, &QPushButton::clicked, this, [this] {
        const QString folder = QFileDialog::getExistingDirectory(this, tr("The training images"), dataFolder_->text());
        if (!folder.isEmpty())
            dataFolder_->setText(folder);
    });
    auto row = [this](QWidget *a, QWidget *b) {
        auto *widget = new QWidget(this);
        auto *layout = new QHBoxLayout(widget);
        layout->setContentsMargins(0, 0, 0, 0);
        layout->addWidget(a, 1);
        layout->addWidget(b);
        return widget;
    };
    auto *form = new QFormLayout;
    form->addRow(tr("Run folder"), row(folder_, browseFolder));
    form->addRow(tr("Config"), config_);
    form->addRow(tr("Data"), data_);
    form->addRow(QString(), row(dataFolder_, browseData_));
    form->addRow(tr("SDE"), sde_);
    form->addRow(tr("Batch"), batch_);
    form->addRow(tr("Learning rate"), lr_);
    form->addRow(tr("Warm-up steps"), warmup_);
    form->addRow(tr("EMA rate"), ema_);
    form->addRow(tr("Steps"), steps_);
    form->addRow(tr("Seed"), seed_);
    form->addRow(tr("Device"), device_);
    form->addRow(tr("Precision"), precision_);
    form->addRow(tr("Processes"), processes_);
    form->addRow(tr("Checkpoint every"), checkpointEvery_);
    form->addRow(tr("Preview every"), snapshotEvery_);
    auto *buttons = new QHBoxLayout;
    for (QPushButton *button : {start_, resume_, pause_, stop_})
        buttons->addWidget(button);
    auto *settingsBox = new QWidget(this);
    auto *left = new QVBoxLayout(settingsBox);
    left->addLayout(form);
    left->addLayout(buttons);
    left->addWidget(status_);
    left->addStretch(1);
    auto *scroll = new QScrollArea(this);
    scroll->setWidget(settingsBox);
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame); // no page frames its controls
    scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    scroll->setMinimumWidth(settingsBox->sizeHint().width() + scroll->verticalScrollBar()->sizeHint().width() + 4);

    auto *checkpointButtons = new QHBoxLayout;
    checkpointButtons->addWidget(openCheckpoint_);
    checkpointButtons->addWidget(openModel_);
    // Two titled columns whose headings share a line: the newest preview, the run's checkpoints.
    auto *lower = new QHBoxLayout;
    auto *previewBox = new QVBoxLayout;
    previewBox->addWidget(makeHeading(tr("Preview"), this));
    previewBox->addWidget(preview_, 1);
    auto *checkpointBox = new QVBoxLayout;
    checkpointBox->addWidget(makeHeading(tr("Checkpoints"), this));
    checkpointBox->addWidget(checkpoints_, 1);
    checkpointBox->addLayout(checkpointButtons);
    lower->addLayout(previewBox, 3);
    lower->addLayout(checkpointBox, 2);
    auto *right = new QWidget(this);
    auto *rightLayout = new QVBoxLayout(right);
    rightLayout->addWidget(chart_, 3);
    rightLayout->addWidget(stats_);
    rightLayout->addLayout(lower, 2);
    auto *splitter = new QSplitter(Qt::Horizontal, this);
    splitter->setObjectName("trainSplitter");
    splitter->addWidget(scroll);
    splitter->addWidget(right);
    splitter->setStretchFactor(0, 2);
    splitter->setStretchFactor(1, 5);
    auto *layout = new QVBoxLayout(this);
    layout->addWidget(splitter);

    connect(config_, &QComboBox::activated, this, [this] {
        if (config_->currentData().toString() == "choose") {
            const QString path =
                QFileDialog::getOpenFileName(this, tr("A config file"), QString(), tr("JSON (*.json)"));
            if (path.isEmpty()) {
                config_->setCurrentIndex(0);
            } else {
                config_->insertItem(config_->count() - 1, tr("file: %1").arg(QFileInfo(path).fileName()),
                                    "file:" + path);
                config_->setCurrentIndex(config_->count() - 2);
            }
        }
        applyConfigDefaults();
    });
    connect(data_, &QComboBox::currentIndexChanged, this, [this] {
        const QString kind = data_->currentData().toString();
        const bool folder = kind == kFolderData || kind == kPatchData;
        dataFolder_->setEnabled(folder);
        browseData_->setEnabled(folder);
    });
    // A format the device cannot train in (float16 on the CPU; bfloat16 on a CPU without AVX-512
    // and oneDNN) is disabled with the reason as its tooltip, and the selector falls back to float32.
    for (int i = 0; i < precision_->count(); ++i)
        precision_->setItemData(i, precision_->itemText(i)); // the ids allowPrecisions reads
    auto updatePrecision = [this] { allowPrecisions(precision_, device_->currentText()); };
    connect(device_, &QComboBox::currentIndexChanged, this, updatePrecision);
    connect(precision_, &QComboBox::currentIndexChanged, this, updatePrecision);
    updatePrecision();
    connect(folder_, &QLineEdit::editingFinished, this, [this] { setRunFolder(folder_->text()); });
    connect(start_, &QPushButton::clicked, this, &TrainWorkspace::startRun);
    connect(resume_, &QPushButton::clicked, this, &TrainWorkspace::resumeRun);
    connect(pause_, &QPushButton::clicked, this, &TrainWorkspace::togglePause);
    connect(stop_, &QPushButton::clicked, this, &TrainWorkspace::stopRun);
    connect(checkpoints_, &QListWidget::currentRowChanged, this, [this] { updateButtons(); });
    connect(checkpoints_, &QListWidget::itemDoubleClicked, openCheckpoint_, &QPushButton::click);
    connect(openCheckpoint_, &QPushButton::clicked, this, [this] {
        if (QListWidgetItem *item = checkpoints_->currentItem())
            Q_EMIT openCheckpointRequested(item->data(Qt::UserRole).toString());
    });
    connect(openModel_, &QPushButton::clicked, this, [this] {
        const QDir run(runFolder());
        Q_EMIT openModelRequested(run.filePath("model.safetensors"));
    });

    connect(worker_, &TrainingWorker::started, this, [this](const QString &description) {
        status_->setText(tr("Training: %1").arg(description));
        Q_EMIT busyChanged();
    });
    connect(worker_, &TrainingWorker::stepDone, this, [this](qint64 step, qint64 total, double) {
        lastStep_ = step;
        status_->setText(
            tr("Training: step %1 of %2%3").arg(step).arg(total).arg(worker_->paused() ? tr(" (paused)") : ""));
    });
    connect(worker_, &TrainingWorker::metrics, this, [this](const TrainingMetrics &m) {
        chart_->addMetrics(m);
        lastStep_ = m.step;
        QString text = tr("step %1   loss %2 (smoothed %3)   lr %4   grad norm %5   %6 steps/s   %7 MiB")
                           .arg(m.step)
                           .arg(m.loss, 0, 'g', 4)
                           .arg(m.emaLoss, 0, 'g', 4)
                           .arg(m.learningRate, 0, 'g', 3)
                           .arg(m.gradNorm, 0, 'g', 3)
                           .arg(m.stepsPerSecond, 0, 'f', 2)
                           .arg(m.memoryMiB, 0, 'f', 0);
        if (m.gpuMemoryMiB >= 0.0)
            text += tr("   GPU %1 MiB").arg(m.gpuMemoryMiB, 0, 'f', 0);
        if (m.lossScale >= 0.0)
            text += tr("   loss scale %1").arg(m.lossScale, 0, 'g', 6);
        stats_->setText(text);
    });
    connect(worker_, &TrainingWorker::snapshot, this,
            [this](qint64 step, const QImage &image) { showPreview(image, tr("preview at step %1").arg(step)); });
    connect(worker_, &TrainingWorker::checkpoint, this, [this] { refreshCheckpoints(); });
    connect(worker_, &TrainingWorker::warning, this, [this](const QString &message) { Q_EMIT statusMessage(message); });
    connect(worker_, &TrainingWorker::pausedChanged, this, [this](bool paused) {
        status_->setText(paused ? tr("Paused at step %1").arg(lastStep_)
                                : tr("Training: continuing at step %1").arg(lastStep_));
        updateButtons();
    });
    connect(worker_, &TrainingWorker::finished, this,
            [this](const QString &outcome, qint64 step, const QString &message, const QString &modelPath) {
                lastStep_ = step;
                status_->setText(tr("Run %1 at step %2: %3. Model: %4").arg(outcome).arg(step).arg(message, modelPath));
                refreshCheckpoints();
                updateButtons();
                Q_EMIT busyChanged();
                if (outcome == "diverged")
                    Q_EMIT errorOccurred(tr("Training diverged: %1").arg(message));
            });
    connect(worker_, &TrainingWorker::failed, this, [this](const QString &message) {
        status_->setText(tr("Training failed: %1").arg(message));
        updateButtons();
        Q_EMIT busyChanged();
        Q_EMIT errorOccurred(tr("Training failed: %1").arg(message));
    });

    QSettings settings;
    const QString defaultFolder =
        QDir(QStandardPaths::writableLocation(QStandardPaths::AppDataLocation)).filePath("runs/run-1");
    const QString configKey = settings.value("train/config").toString();
    const int configIndex = config_->findData(configKey);
    config_->setCurrentIndex(configIndex >= 0 ? configIndex : 0);
    applyConfigDefaults();
    const int dataIndex = data_->findData(settings.value("train/data").toString());
    if (dataIndex >= 0)
        data_->setCurrentIndex(dataIndex);
    dataFolder_->setText(settings.value("train/dataFolder").toString());
    Q_EMIT data_->currentIndexChanged(data_->currentIndex());
    setRunFolder(settings.value("train/folder", defaultFolder).toString());
}

bool TrainWorkspace::busy() const
{
    return worker_->running();
}

QString TrainWorkspace::runFolder() const
{
    return folder_->text().trimmed();
}

void TrainWorkspace::setRunFolder(const QString &folder)
{
    folder_->setText(folder);
    QSettings().setValue("train/folder", folder);
    if (!worker_->running()) {
        loadRunHistory();
        refreshCheckpoints();
    }
    updateButtons();
}

QString TrainWorkspace::dataSpec() const
{
    const QString kind = data_->currentData().toString();
    if (kind == kFolderData)
        return dataFolder_->text().trimmed();
    if (kind == kPatchData)
        return "patches:" + dataFolder_->text().trimmed();
    return kind;
}

ModelConfig TrainWorkspace::configFromForm() const
{
    const QString source = config_->currentData().toString();
    ModelConfig config = source.startsWith("preset:") ? loadPreset(source.mid(7).toStdString())
                                                      : loadConfigFile(source.mid(5).toStdString());
    config.training.sde = sde_->currentText().toStdString();
    config.training.batchSize = batch_->value();
    config.training.nIters = steps_->value();
    config.optim.lr = lr_->value();
    config.optim.warmup = warmup_->value();
    config.model.emaRate = ema_->value();
    return config;
}

void TrainWorkspace::applyConfigDefaults()
{
    const QString source = config_->currentData().toString();
    if (source == "choose")
        return;
    QSettings().setValue("train/config", source);
    try {
        const ModelConfig config = source.startsWith("preset:") ? loadPreset(source.mid(7).toStdString())
                                                                : loadConfigFile(source.mid(5).toStdString());
        sde_->setCurrentText(QString::fromStdString(config.training.sde));
        batch_->setValue(static_cast<int>(config.training.batchSize));
        steps_->setValue(static_cast<int>(std::min<int64_t>(config.training.nIters, steps_->maximum())));
        lr_->setValue(config.optim.lr);
        warmup_->setValue(static_cast<int>(config.optim.warmup));
        ema_->setValue(config.model.emaRate);
        const QString dataset = QString::fromStdString(config.data.dataset).toLower();
        if (dataset.startsWith("toy:"))
            data_->setCurrentIndex(data_->findData(dataset));
        else if (dataset.contains("fashion"))
            data_->setCurrentIndex(data_->findData("fashion-mnist"));
        else if (dataset.contains("patch"))
            data_->setCurrentIndex(data_->findData(kPatchData));
    } catch (const std::exception &e) {
        Q_EMIT errorOccurred(tr("Could not read the config: %1").arg(QString::fromStdString(e.what())));
    }
}

void TrainWorkspace::showPreview(const QImage &picture, const QString &caption)
{
    // The trainer's picture (white gaps, white paper) in the palette's colors, by the layout of the
    // run that drew it; as it is when that is not known.
    preview_->setImage(previewLayout_ ? previewForScreen(picture, *previewLayout_, palette()) : picture);
    preview_->setCaption(caption);
}

std::optional<PreviewLayout> TrainWorkspace::runPreviewLayout() const
{
    // The run's own config, from its newest checkpoint: the form may say another.
    try {
        const std::vector<std::string> checkpoints = listCheckpoints(runFolder().toStdString());
        if (!checkpoints.empty()) {
            const CheckpointInfo info = readCheckpointInfo(checkpoints.back());
            if (info.kind == "score")
                return previewLayout(ModelConfig::fromJson(info.definition));
        }
    } catch (const std::exception &) {
        // A folder without a readable checkpoint: its pictures are shown as they are.
    }
    return std::nullopt;
}

void TrainWorkspace::loadRunHistory()
{
    // The curves of an earlier (or interrupted) run in the folder, so a resumed run continues them.
    previewLayout_ = runPreviewLayout();
    chart_->clear();
    preview_->setImage(QImage());
    preview_->setCaption(tr("preview samples"));
    lastStep_ = 0;
    const QString metrics = QDir(runFolder()).filePath("metrics.jsonl");
    if (!QFileInfo::exists(metrics))
        return;
    try {
        requireReadableFile(metrics.toStdString()); // a FIFO would block the open below
    } catch (const std::exception &e) {
        spdlog::warn("could not show the run's curves: {}", e.what());
        return;
    }
    QFile file(metrics);
    if (!file.open(QIODevice::ReadOnly))
        return;
    while (!file.atEnd()) {
        const QByteArray line = file.readLine().trimmed();
        if (line.isEmpty())
            continue;
        try {
            const TrainingMetrics m = TrainingMetrics::fromJson(parseJson(line.toStdString()));
            chart_->addMetrics(m);
            lastStep_ = m.step;
        } catch (const std::exception &) {
            // A line cut short by a crash: the run's checkpoint is what counts.
        }
    }
    const QStringList previews =
        QDir(QDir(runFolder()).filePath("samples")).entryList({"step-*.png"}, QDir::Files, QDir::Name);
    if (!previews.isEmpty()) {
        const QString path = QDir(QDir(runFolder()).filePath("samples")).filePath(previews.last());
        try {
            showPreview(loadTrainingPreview(path), tr("preview %1").arg(previews.last()));
        } catch (const std::exception &e) {
            spdlog::warn("could not show the preview: {}", e.what());
        }
    }
}

void TrainWorkspace::refreshCheckpoints()
{
    checkpoints_->clear();
    try {
        for (const std::string &path : listCheckpoints(runFolder().toStdString())) {
            const QString file = QString::fromStdString(path);
            auto *item = new QListWidgetItem(QFileInfo(file).fileName(), checkpoints_);
            item->setData(Qt::UserRole, file);
        }
    } catch (const std::exception &) {
        // A folder that does not exist yet has no checkpoints.
    }
    if (checkpoints_->count() > 0)
        checkpoints_->setCurrentRow(checkpoints_->count() - 1);
    updateButtons();
}

void TrainWorkspace::updateButtons()
{
    const bool running = worker_->running();
    const bool haveRun = checkpoints_->count() > 0;
    start_->setEnabled(!running);
    resume_->setEnabled(!running && haveRun);
    pause_->setEnabled(worker_->pausable());
    pause_->setText(worker_->paused() ? tr("Continue") : tr("Pause"));
    stop_->setEnabled(running);
    openCheckpoint_->setEnabled(checkpoints_->currentItem() != nullptr);
    openModel_->setEnabled(QFile::exists(QDir(runFolder()).filePath("model.safetensors")));
    for (QWidget *field :
         std::initializer_list<QWidget *>{folder_, config_, data_, dataFolder_, sde_, batch_, lr_, warmup_, ema_, seed_,
                                          device_, checkpointEvery_, snapshotEvery_, processes_})
        field->setEnabled(!running);
    precision_->setEnabled(!running);
    steps_->setEnabled(!running);
    if (!running) {
        const QString kind = data_->currentData().toString();
        dataFolder_->setEnabled(kind == kFolderData || kind == kPatchData);
        browseData_->setEnabled(dataFolder_->isEnabled());
    }
}

void TrainWorkspace::startRun()
{
    start(false);
}

void TrainWorkspace::resumeRun()
{
    start(true);
}

void TrainWorkspace::start(bool resume)
{
    if (worker_->running())
        return;
    const QString folder = runFolder();
    if (folder.isEmpty()) {
        Q_EMIT errorOccurred(tr("Choose a run folder: checkpoints, curves and the model go there."));
        return;
    }
    TrainingRunRequest request;
    request.data = dataSpec().toStdString();
    const QString kind = data_->currentData().toString();
    if ((kind == kFolderData || kind == kPatchData) && dataFolder_->text().trimmed().isEmpty()) {
        Q_EMIT errorOccurred(tr("Choose the folder of training images."));
        return;
    }
    TrainerOptions &options = request.options;
    options.outDir = folder.toStdString();
    options.resume = resume;
    request.steps = steps_->value();
    options.seed = static_cast<uint64_t>(seed_->value());
    options.checkpointEvery = checkpointEvery_->value();
    options.snapshotEvery = snapshotEvery_->value();
    options.logEvery = 10;
    try {
        options.device = parseDevice(device_->currentText().toStdString());
        if (resume) {
            // The run goes on in the precision it was trained in.
            const auto checkpoints = listCheckpoints(options.outDir);
            if (!checkpoints.empty())
                precision_->setCurrentText(
                    QString::fromStdString(precisionId(readCheckpointInfo(checkpoints.back()).precision)));
        }
        request.precision = precisionFromId(precision_->currentText().toStdString());
        if (!resume) {
            if (!listCheckpoints(options.outDir).empty()) {
                Q_EMIT errorOccurred(tr("%1 already holds a run: resume it, or choose another run folder for a new "
                                        "one.")
                                         .arg(folder));
                return;
            }
            request.config = configFromForm();
            request.config->validate();
            options.batchSize = batch_->value();
        }
    } catch (const std::exception &e) {
        Q_EMIT errorOccurred(tr("Cannot start: %1").arg(QString::fromStdString(e.what())));
        return;
    }
    options.snapshotCount = 0; // 16 images, or a point model's few thousand points
    options.snapshotSteps = 100;
    QSettings settings;
    settings.setValue("train/data", kind);
    settings.setValue("train/dataFolder", dataFolder_->text());
    if (!resume)
        loadRunHistory(); // a new run: empty curves
    previewLayout_ = resume ? runPreviewLayout() : std::optional(previewLayout(*request.config));
    worker_->start(request, processes_->value());
    status_->setText(resume ? tr("Resuming the run in %1…").arg(folder) : tr("Starting a run in %1…").arg(folder));
    updateButtons();
    Q_EMIT busyChanged();
}

void TrainWorkspace::togglePause()
{
    if (worker_->paused())
        worker_->resume();
    else
        worker_->pause();
    updateButtons();
}

void TrainWorkspace::stopRun()
{
    worker_->stop();
    status_->setText(tr("Stopping after this step; a checkpoint is written…"));
}

} // namespace sde::ui
