#include "colorize_workspace.h"

#include "form_widgets.h"
#include "image_view.h"
#include "run_bar.h"
#include "sampler_panel.h"
#include "sampling_worker.h"
#include "tensor_image.h"
#include "trajectory_scrubber.h"
#include "variant_strip.h"

#include "editing/colorization.h"
#include "io/bundled_models.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QVBoxLayout>

namespace sde::ui {

namespace {
constexpr const char *kRgbModel = "photo-rgb";
}

ColorizeWorkspace::ColorizeWorkspace(SamplerPanel *sampler, QWidget *parent)
    : Workspace(sampler, "colorizeWorkspace", parent), originalView_(new ImageView(this)),
      grayView_(new ImageView(this)), runBar_(new RunBar(tr("Colorize"), runner_, this)),
      results_(new VariantStrip(this)), scrubber_(new TrajectoryScrubber(this)),
      variants_(makeInteger(this, "colorizeVariants", 1, 64, 4)),
      loadRgb_(new QPushButton(tr("Load the bundled RGB model"), this)),
      save_(new QPushButton(tr("Save results…"), this))
{
    originalView_->setObjectName("originalView");
    originalView_->setCaption(tr("original"));
    originalView_->setPlaceholder(tr("Open or drop a color or gray photograph"));
    grayView_->setObjectName("grayView");
    grayView_->setCaption(tr("gray input"));
    scrubber_->stateView()->setPlaceholder(tr("The trajectory of the chosen colorization shows here"));
    variants_->setToolTip(tr("Colorizations side by side, one per seed"));
    loadRgb_->setObjectName("loadRgbModel");
    loadRgb_->setToolTip(tr("Colorization needs a model of RGB images: open the bundled %1").arg(kRgbModel));
    auto *open = new QPushButton(tr("Open image…"), this);
    connect(open, &QPushButton::clicked, this, [this] {
        const QString path = askImageFile(tr("Open an image to colorize"));
        if (!path.isEmpty())
            openImageFile(path);
    });
    connect(loadRgb_, &QPushButton::clicked, this, [this] { Q_EMIT modelRequested(kRgbModel); });
    connect(save_, &QPushButton::clicked, this,
            [this] { saveResults(lastResult_.samples, "colorize", lastSettings_, lastResult_.nfe, Json::object()); });

    auto *controls = new QHBoxLayout;
    controls->addWidget(open);
    controls->addWidget(loadRgb_);
    controls->addWidget(new QLabel(tr("Variants"), this));
    controls->addWidget(variants_);
    controls->addWidget(runBar_, 1);
    controls->addWidget(save_);
    auto *inputs = new QHBoxLayout;
    inputs->addWidget(originalView_);
    inputs->addWidget(grayView_);
    auto *top = new QWidget(this);
    auto *topLayout = new QVBoxLayout(top);
    topLayout->setContentsMargins(0, 0, 0, 0);
    topLayout->addLayout(inputs, 2);
    topLayout->addWidget(results_, 2); // the results as large as the inputs
    auto *splitter = new QSplitter(Qt::Vertical, this);
    splitter->addWidget(top);
    splitter->addWidget(scrubber_);
    splitter->setStretchFactor(0, 3);
    splitter->setStretchFactor(1, 2);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(controls);
    layout->addWidget(splitter, 1);

    connect(runBar_, &RunBar::runRequested, this, &ColorizeWorkspace::colorize);
    connect(runner_, &SamplingRunner::frameReady, scrubber_, &TrajectoryScrubber::appendFrame);
    connect(runner_, &SamplingRunner::finished, this, [this](const GenerationResult &result) {
        showVariants(result, lastSettings_.seed, results_, scrubber_, lastResult_);
        if (result.completed)
            Q_EMIT resultMade("colorize", result.samples, lastSettings_);
        updateReady();
    });
    connect(runner_, &SamplingRunner::failed, this, [this] { updateReady(); });
    updateReady();
}

void ColorizeWorkspace::setModel(std::shared_ptr<ScoreModel> model, const ModelFileInfo &info)
{
    Workspace::setModel(std::move(model), info);
    if (gray_.defined() && model_ && gray_.size(1) != model_->sampleShape()[1]) {
        original_ = gray_ = torch::Tensor();
        originalView_->setImage(QImage());
        originalView_->setCaption(tr("original"));
        grayView_->setImage(QImage());
    }
    // The results were the previous model's; an image that fits stays.
    results_->clear();
    scrubber_->clear();
    lastResult_ = GenerationResult();
    runBar_->clearOutcome();
    updateReady();
}

bool ColorizeWorkspace::openImageFile(const QString &path)
{
    // Read as color when the file has color, so the original can be shown beside the result.
    torch::Tensor image = loadImageForModel(path, 3);
    if (!image.defined())
        return false;
    setImage(image);
    return true;
}

void ColorizeWorkspace::setImage(const torch::Tensor &image)
{
    original_ = image.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    gray_ = grayLevel(original_.unsqueeze(0))[0];
    const bool color = original_.size(0) == 3 && (original_ - gray_).abs().max().item<double>() > 1.0 / 255.0;
    originalView_->setImage(tensorToImage(original_));
    originalView_->setCaption(color ? tr("original") : tr("original (gray already)"));
    grayView_->setImage(tensorToImage(gray_));
    results_->clear();
    lastResult_ = GenerationResult();
    updateReady();
}

void ColorizeWorkspace::updateReady()
{
    QString reason;
    const bool rgb = model_ && !model_->config().isPointModel() && model_->sampleShape()[0] == 3;
    if (!model_)
        reason = tr("Load a model first");
    else if (!rgb)
        reason = tr("Colorization needs an RGB model; %1 is not one (load the bundled %2)")
                     .arg(QString::fromStdString(modelName(info_.path)), kRgbModel);
    else if (!gray_.defined())
        reason = tr("Open or drop an image to colorize");
    loadRgb_->setVisible(!rgb);
    runBar_->setReady(reason.isEmpty(), reason);
    save_->setEnabled(lastResult_.samples.defined() && !runner_->busy());
}

void ColorizeWorkspace::colorize()
{
    if (!model_ || !gray_.defined() || runner_->busy() || model_->sampleShape()[0] != 3)
        return;
    SamplingSettings settings = sampler_->takeSettings();
    settings.batch = variants_->value();
    lastSettings_ = settings;
    const torch::Tensor gray = gray_.unsqueeze(0).expand({settings.batch, -1, -1, -1}).contiguous();
    std::shared_ptr<const ScoreModel> model = model_;
    SamplingJob job;
    job.model = model;
    job.frameEvery = sampler_->frameEvery();
    job.what = "colorized " + std::to_string(settings.batch) + " variant(s)";
    job.run = [model, settings, gray](JobContext &context) {
        return fromSampleResult(
            sde::colorize(*model, gray.to(model->device()), settings, context.onStep(), context.cancelToken()));
    };
    scrubber_->clear();
    runner_->start(job);
    updateReady();
}

} // namespace sde::ui
