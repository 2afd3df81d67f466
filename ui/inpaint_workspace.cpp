#include "inpaint_workspace.h"

#include "form_widgets.h"
#include "image_view.h"
#include "mask_canvas.h"
#include "run_bar.h"
#include "sampler_panel.h"
#include "sampling_worker.h"
#include "tensor_image.h"
#include "trajectory_scrubber.h"
#include "variant_strip.h"

#include "editing/inpainting.h"
#include "imaging/mask_file.h"
#include "sampling/sampler_catalogue.h"

#include <QAction>
#include <QActionGroup>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QPointer>
#include <QPushButton>
#include <QSlider>
#include <QSpinBox>
#include <QSplitter>
#include <QToolBar>
#include <QUndoStack>
#include <QVBoxLayout>

#include <spdlog/spdlog.h>

namespace sde::ui {

namespace {

QSlider *percentSlider(QWidget *parent, const char *name, int value, const QString &tip)
{
    auto *slider = new QSlider(Qt::Horizontal, parent);
    slider->setObjectName(name);
    slider->setRange(0, 100);
    slider->setValue(value);
    slider->setMaximumWidth(90);
    slider->setToolTip(tip);
    return slider;
}

} // namespace

InpaintWorkspace::InpaintWorkspace(SamplerPanel *sampler, QWidget *parent)
    : Workspace(sampler, "inpaintWorkspace", parent), canvas_(new MaskCanvas(this)),
      runBar_(new RunBar(tr("Inpaint"), runner_, this)), results_(new VariantStrip(this)),
      scrubber_(new TrajectoryScrubber(this)), variants_(makeInteger(this, "inpaintVariants", 1, 64, 4)),
      brushSize_(makeNumber(this, "brushSize", 1, 512, 6, 1)),
      hardness_(percentSlider(this, "brushHardness", 100, tr("Hardness: 100 % paints a hard edge, less feathers it"))),
      opacity_(percentSlider(this, "maskOpacity", 50, tr("Opacity of the mask overlay")))
{
    variants_->setToolTip(tr("Results side by side, one per seed (seed, seed + 1, ...)"));
    brushSize_->setSuffix(tr(" px"));
    brushSize_->setToolTip(tr("Brush diameter in image pixels ([ and ])"));
    // Three rows of tools over the canvas: files and view; brush; the mask's edits.
    QToolBar *files = new QToolBar(this), *brushes = new QToolBar(this), *edits = new QToolBar(this);
    files->setObjectName("inpaintFileTools");
    brushes->setObjectName("inpaintTools");
    edits->setObjectName("inpaintMaskTools");
    auto shortcut = [this](QAction *action, const QKeySequence &keys) {
        action->setShortcut(keys);
        action->setShortcutContext(Qt::WidgetWithChildrenShortcut);
        addAction(action);
        return action;
    };
    files->addAction(tr("Open image…"), this, [this] {
        const QString path = askImageFile(tr("Open an image to inpaint"));
        if (!path.isEmpty())
            openImageFile(path);
    });
    files->addAction(tr("Load mask…"), this, [this] {
        const QString path = askImageFile(tr("Load a mask"));
        if (!path.isEmpty())
            loadMask(path);
    });
    files->addAction(tr("Save mask…"), this, [this] {
        const QString path =
            QFileDialog::getSaveFileName(this, tr("Save the mask"), "mask.png", tr("PNG images (*.png)"));
        if (!path.isEmpty())
            saveMask(path);
    });
    files->addSeparator();
    QAction *fit = shortcut(files->addAction(tr("Fit"), canvas_, &MaskCanvas::fitToWindow), QKeySequence("Ctrl+0"));
    fit->setObjectName("fitView");
    fit->setToolTip(tr("Fit the image to the view (Ctrl+0)"));
    QAction *actual = shortcut(files->addAction(tr("100 %"), canvas_, &MaskCanvas::actualSize), QKeySequence("Ctrl+1"));
    actual->setObjectName("actualSize");
    actual->setToolTip(tr("One image pixel per screen pixel (Ctrl+1)"));

    auto *toolGroup = new QActionGroup(this);
    brush_ = shortcut(brushes->addAction(tr("Brush")), QKeySequence(Qt::Key_B));
    brush_->setObjectName("brushTool");
    brush_->setToolTip(tr("Paint the region to fill (B)"));
    eraser_ = shortcut(brushes->addAction(tr("Eraser")), QKeySequence(Qt::Key_E));
    eraser_->setObjectName("eraserTool");
    eraser_->setToolTip(tr("Erase the mask (E)"));
    for (QAction *action : {brush_, eraser_}) {
        action->setCheckable(true);
        toolGroup->addAction(action);
    }
    brush_->setChecked(true);
    connect(brush_, &QAction::triggered, this, [this] { canvas_->setTool(MaskCanvas::Tool::Brush); });
    connect(eraser_, &QAction::triggered, this, [this] { canvas_->setTool(MaskCanvas::Tool::Eraser); });
    brushes->addSeparator();
    brushes->addWidget(new QLabel(tr("Size"), this));
    brushes->addWidget(brushSize_);
    QAction *smaller = shortcut(new QAction(tr("Smaller brush"), this), QKeySequence(Qt::Key_BracketLeft));
    QAction *larger = shortcut(new QAction(tr("Larger brush"), this), QKeySequence(Qt::Key_BracketRight));
    connect(smaller, &QAction::triggered, this, [this] {
        brushSize_->setValue(std::max(1.0, brushSize_->value() - std::max(1.0, brushSize_->value() * 0.15)));
    });
    connect(larger, &QAction::triggered, this,
            [this] { brushSize_->setValue(brushSize_->value() + std::max(1.0, brushSize_->value() * 0.15)); });
    brushes->addSeparator();
    brushes->addWidget(new QLabel(tr("Hardness"), this));
    brushes->addWidget(hardness_);

    edits->addWidget(new QLabel(tr("Overlay"), this));
    edits->addWidget(opacity_);
    QAction *invert =
        shortcut(edits->addAction(tr("Invert"), canvas_, &MaskCanvas::invertMask), QKeySequence("Shift+V"));
    invert->setObjectName("invertMask");
    invert->setToolTip(tr("Invert the mask (Shift+V)"));
    QAction *clear = edits->addAction(tr("Clear"), canvas_, &MaskCanvas::clearMask);
    clear->setObjectName("clearMask");
    // Undo and redo keep short names; the step they act on is their tooltip.
    QUndoStack *stack = canvas_->undoStack();
    QAction *undo = shortcut(edits->addAction(tr("Undo"), stack, &QUndoStack::undo), QKeySequence::Undo);
    undo->setObjectName("undoMask");
    QAction *redo = shortcut(edits->addAction(tr("Redo"), stack, &QUndoStack::redo), QKeySequence("Ctrl+Shift+Z"));
    redo->setObjectName("redoMask");
    // Guarded: the stack outlives the toolbar while the workspace is torn down.
    auto followStack = [stack, undo = QPointer<QAction>(undo), redo = QPointer<QAction>(redo)] {
        if (!undo || !redo)
            return;
        undo->setEnabled(stack->canUndo());
        redo->setEnabled(stack->canRedo());
        undo->setToolTip(tr("Undo %1 (Ctrl+Z)").arg(stack->undoText()));
        redo->setToolTip(tr("Redo %1 (Ctrl+Shift+Z)").arg(stack->redoText()));
    };
    connect(stack, &QUndoStack::indexChanged, edits, followStack);
    connect(stack, &QUndoStack::cleanChanged, edits, followStack);
    followStack();

    connect(brushSize_, &QDoubleSpinBox::valueChanged, canvas_, &MaskCanvas::setBrushSize);
    connect(canvas_, &MaskCanvas::toolChanged, this, [this] {
        brushSize_->setValue(canvas_->brushSize());
        (canvas_->tool() == MaskCanvas::Tool::Brush ? brush_ : eraser_)->setChecked(true);
    });
    connect(hardness_, &QSlider::valueChanged, this, [this](int v) { canvas_->setHardness(v / 100.0); });
    connect(opacity_, &QSlider::valueChanged, this, [this](int v) { canvas_->setOverlayOpacity(v / 100.0); });
    connect(canvas_, &MaskCanvas::maskChanged, this, &InpaintWorkspace::updateReady);

    auto *left = new QWidget(this);
    auto *leftLayout = new QVBoxLayout(left);
    leftLayout->setContentsMargins(0, 0, 0, 0);
    for (QToolBar *row : {files, brushes, edits})
        leftLayout->addWidget(row);
    leftLayout->addWidget(canvas_, 1);

    auto *right = new QWidget(this);
    auto *rightLayout = new QVBoxLayout(right);
    rightLayout->setContentsMargins(0, 0, 0, 0);
    auto *options = new QHBoxLayout;
    options->addWidget(new QLabel(tr("Variants"), this));
    options->addWidget(variants_);
    options->addWidget(runBar_, 1);
    rightLayout->addLayout(options);
    rightLayout->addWidget(results_); // as tall as its pictures: the trajectory takes the rest
    auto *resultActions = new QToolBar(this);
    sendBack_ = resultActions->addAction(tr("Send to canvas"), this, &InpaintWorkspace::sendResultToCanvas);
    sendBack_->setObjectName("sendToCanvas");
    sendBack_->setToolTip(tr("Continue from the chosen result: it becomes the image to paint on"));
    saveResults_ = resultActions->addAction(tr("Save results…"), this, [this] {
        Json inputs = Json::object();
        inputs["mask_pixels"] = static_cast<int64_t>((canvas_->maskTensor() > 0).sum().item<int64_t>());
        saveResults(lastResult_.samples, "inpaint", lastSettings_, lastResult_.nfe, inputs);
    });
    rightLayout->addWidget(resultActions);
    rightLayout->addWidget(scrubber_, 3);
    scrubber_->stateView()->setPlaceholder(tr("The trajectory of the chosen variant's batch shows here"));

    auto *splitter = new QSplitter(Qt::Horizontal, this);
    splitter->setObjectName("inpaintSplitter");
    splitter->addWidget(left);
    splitter->addWidget(right);
    splitter->setStretchFactor(0, 3);
    splitter->setStretchFactor(1, 2);
    splitter->setSizes({540, 360});
    auto *layout = new QVBoxLayout(this);
    layout->addWidget(splitter);

    connect(runBar_, &RunBar::runRequested, this, &InpaintWorkspace::inpaint);
    connect(runner_, &SamplingRunner::frameReady, scrubber_, &TrajectoryScrubber::appendFrame);
    connect(runner_, &SamplingRunner::finished, this, [this](const GenerationResult &result) {
        showVariants(result, lastSettings_.seed, results_, scrubber_, lastResult_);
        if (result.completed)
            Q_EMIT resultMade("inpaint", result.samples, lastSettings_);
        updateReady();
    });
    connect(runner_, &SamplingRunner::failed, this, [this] { updateReady(); });
    updateReady();
}

void InpaintWorkspace::setModel(std::shared_ptr<ScoreModel> model, const ModelFileInfo &info)
{
    Workspace::setModel(std::move(model), info);
    const bool fits = model_ && !model_->config().isPointModel() && image_.defined() &&
                      image_.sizes() == at::IntArrayRef(model_->sampleShape());
    if (!fits) {
        image_ = torch::Tensor();
        canvas_->setImage(QImage());
    }
    // The results were the previous model's; an image and mask that fit stay.
    results_->clear();
    scrubber_->clear();
    lastResult_ = GenerationResult();
    runBar_->clearOutcome();
    updateReady();
}

bool InpaintWorkspace::openImageFile(const QString &path)
{
    torch::Tensor image = loadImageForModel(path);
    if (!image.defined())
        return false;
    setImage(image);
    return true;
}

void InpaintWorkspace::setImage(const torch::Tensor &image)
{
    image_ = image.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    canvas_->setImage(tensorToImage(image_));
    updateReady();
}

bool InpaintWorkspace::loadMask(const QString &path)
{
    if (!canvas_->hasImage()) {
        Q_EMIT errorOccurred(tr("Open an image before its mask"));
        return false;
    }
    try {
        // The CLI's reader: the same file means the same fill weights here (README, Masks).
        const torch::Tensor fill =
            loadFillMask(path.toStdString(), canvas_->image().height(), canvas_->image().width());
        canvas_->setMask(tensorToImage(fill));
    } catch (const std::exception &e) {
        Q_EMIT errorOccurred(tr("Could not load the mask: %1").arg(QString::fromStdString(e.what())));
        return false;
    }
    return true;
}

bool InpaintWorkspace::saveMask(const QString &path)
{
    if (!canvas_->hasImage()) {
        Q_EMIT errorOccurred(tr("Could not save the mask to %1: no image is open").arg(path));
        return false;
    }
    try {
        saveFillMask(path.toStdString(), canvas_->maskTensor());
    } catch (const std::exception &e) {
        Q_EMIT errorOccurred(tr("Could not save the mask to %1: %2").arg(path, QString::fromStdString(e.what())));
        return false;
    }
    Q_EMIT statusMessage(tr("Saved the mask to %1").arg(path));
    return true;
}

void InpaintWorkspace::updateReady()
{
    QString reason;
    if (!model_)
        reason = tr("Load a model first");
    else if (model_->config().isPointModel())
        reason = tr("Inpainting needs an image model; this one generates 2D points");
    else if (!image_.defined())
        reason = tr("Open an image (or send one from Generate)");
    else if (canvas_->maskIsEmpty())
        reason = tr("Paint the region to fill");
    runBar_->setReady(reason.isEmpty(), reason);
    const bool haveResult = lastResult_.samples.defined() && lastResult_.samples.numel() > 0;
    sendBack_->setEnabled(haveResult && !runner_->busy());
    saveResults_->setEnabled(haveResult && !runner_->busy());
}

void InpaintWorkspace::inpaint()
{
    if (!model_ || !image_.defined() || runner_->busy() || canvas_->maskIsEmpty())
        return;
    SamplingSettings settings = sampler_->takeSettings();
    settings.batch = variants_->value();
    lastSettings_ = settings;
    // Only a sampler that draws fresh noise as it goes can correct a fill that started to disagree
    // with the kept pixels (README, Benchmarks: inpainting).
    if (!drawsNoise(settings))
        spdlog::info("inpainting with a deterministic sampler ({}): its fills follow the kept pixels less "
                     "closely than those of a sampler that draws noise, such as DDIM with eta 1",
                     describeSettings(settings));
    const torch::Tensor fill = canvas_->maskTensor().unsqueeze(0); // [1, 1, H, W], soft edges in (0, 1)
    const torch::Tensor images = image_.unsqueeze(0).expand({settings.batch, -1, -1, -1}).contiguous();
    std::shared_ptr<const ScoreModel> model = model_;
    SamplingJob job;
    job.model = model;
    job.frameEvery = sampler_->frameEvery();
    job.what = "inpainted " + std::to_string(settings.batch) + " variant(s)";
    job.run = [model, settings, images, fill](JobContext &context) {
        const torch::Device device = model->device();
        // The CLI's inpainting: the same mask fills and blends the same pixels (README, Masks).
        return fromSampleResult(sde::inpaintWithFillMask(*model, images.to(device), fill.to(device), settings,
                                                         context.onStep(), context.cancelToken()));
    };
    scrubber_->clear();
    runner_->start(job);
    updateReady();
}

void InpaintWorkspace::sendResultToCanvas()
{
    const int chosen = results_->selected();
    if (chosen < 0)
        return;
    const QImage mask = canvas_->mask();
    setImage(results_->image(chosen));
    canvas_->setMask(mask);
    Q_EMIT statusMessage(tr("Variant %1 is the new image; the mask is kept").arg(chosen + 1));
}

} // namespace sde::ui
