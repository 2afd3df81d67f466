#include "interpolate_workspace.h"

#include "form_widgets.h"
#include "image_view.h"
#include "run_bar.h"
#include "sampler_panel.h"
#include "sampling_worker.h"
#include "tensor_image.h"

#include "editing/interpolation.h"
#include "imaging/image_io.h"
#include "imaging/video_writer.h"
#include "sampling/sampling_settings.h"
#include "util/files.h"

#include <QComboBox>
#include <QDir>
#include <QFileDialog>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSlider>
#include <QSpinBox>
#include <QTimer>
#include <QVBoxLayout>

#include <algorithm>
#include <optional>

namespace sde::ui {

InterpolateWorkspace::InterpolateWorkspace(SamplerPanel *sampler, QWidget *parent)
    : Workspace(sampler, "interpolateWorkspace", parent), endViews_{new ImageView(this), new ImageView(this)},
      frameView_(new ImageView(this)), runBar_(new RunBar(tr("Interpolate"), runner_, this)),
      count_(makeInteger(this, "interpolationFrames", 2, 257, 17)),
      decoder_(makeCombo(
          this, "interpolationDecoder",
          {tr("fast: %1, %2 NFE").arg(QString::fromStdString(fastSolverTitle(kDefaultFastSolver))).arg(kDefaultFastNfe),
           tr("exact: RK45 (the reference's)")})),
      position_(new QSlider(Qt::Horizontal, this)), temperature_(new QSlider(Qt::Horizontal, this)),
      positionLabel_(new QLabel(this)), temperatureLabel_(new QLabel(this)), errorLabel_(new ElidedLabel(this)),
      exportFrames_(new QPushButton(tr("Export frames…"), this)),
      exportVideo_(new QPushButton(tr("Export video…"), this)), redecodeTimer_(new QTimer(this))
{
    const QString names[2] = {tr("start (alpha 0)"), tr("end (alpha 1)")};
    auto *ends = new QGridLayout;
    for (int which = 0; which < 2; ++which) {
        endViews_[which]->setObjectName(which == 0 ? "startView" : "endView");
        endViews_[which]->setCaption(names[which]);
        endViews_[which]->setPlaceholder(tr("Open an image or send a sample from Generate"));
        auto *open = new QPushButton(which == 0 ? tr("Open start…") : tr("Open end…"), this);
        connect(open, &QPushButton::clicked, this, [this, which] {
            const QString path = askImageFile(tr("Open an image"));
            if (path.isEmpty())
                return;
            torch::Tensor image = loadImageForModel(path);
            if (image.defined())
                setEndpoint(which, image);
        });
        ends->addWidget(endViews_[which], 0, which);
        ends->addWidget(open, 1, which);
    }
    frameView_->setObjectName("interpolationFrame");
    frameView_->setPlaceholder(tr("Interpolate to decode the frames between the two images"));
    count_->setToolTip(tr("Frames from the start to the end, both included"));
    decoder_->setToolTip(tr("How the frames are decoded from their latents: the fast default solver of the "
                            "probability-flow ODE (the slider answers at once), or RK45 at the Sampler dock's "
                            "tolerance (exact, as the reference decodes; much slower). Encoding is RK45 either way."));
    connect(decoder_, &QComboBox::currentIndexChanged, this, [this] {
        if (latents_.defined())
            redecodeTimer_->start();
    });
    position_->setObjectName("interpolationPosition");
    position_->setEnabled(false);
    position_->setToolTip(tr("Slide from the start (0) to the end (1); the frames are decoded ahead"));
    temperature_->setObjectName("interpolationTemperature");
    temperature_->setRange(50, 150);
    temperature_->setValue(100);
    temperature_->setToolTip(tr("Scales the interpolated latents; below 1 smoother, above 1 more varied"));
    errorLabel_->setObjectName("reconstructionError");
    errorLabel_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    redecodeTimer_->setSingleShot(true);
    redecodeTimer_->setInterval(400);

    auto *options = new QHBoxLayout;
    options->addWidget(new QLabel(tr("Frames"), this));
    options->addWidget(count_);
    options->addWidget(new QLabel(tr("Decode"), this));
    options->addWidget(decoder_);
    options->addWidget(new QLabel(tr("Temperature"), this));
    options->addWidget(temperature_);
    options->addWidget(temperatureLabel_);
    options->addWidget(runBar_, 1);
    auto *slide = new QHBoxLayout;
    slide->addWidget(position_, 1);
    slide->addWidget(positionLabel_);
    auto *bottom = new QHBoxLayout;
    bottom->addWidget(errorLabel_, 1);
    bottom->addWidget(exportFrames_);
    bottom->addWidget(exportVideo_);
    auto *right = new QVBoxLayout;
    right->addWidget(frameView_, 1);
    right->addLayout(slide);
    auto *body = new QHBoxLayout;
    body->addLayout(ends, 2);
    body->addLayout(right, 3);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(options);
    layout->addLayout(body, 1);
    layout->addLayout(bottom);

    connect(runBar_, &RunBar::runRequested, this, &InterpolateWorkspace::interpolate);
    connect(position_, &QSlider::valueChanged, this, &InterpolateWorkspace::showFrame);
    connect(temperature_, &QSlider::valueChanged, this, [this] {
        temperatureLabel_->setText(QString::number(temperature(), 'f', 2));
        if (latents_.defined())
            redecodeTimer_->start();
    });
    connect(redecodeTimer_, &QTimer::timeout, this, &InterpolateWorkspace::redecode);
    connect(exportFrames_, &QPushButton::clicked, this, [this] {
        const QString folder = QFileDialog::getExistingDirectory(this, tr("Export the frames to"));
        if (!folder.isEmpty())
            exportFrames(folder);
    });
    connect(exportVideo_, &QPushButton::clicked, this, [this] {
        const QString path =
            QFileDialog::getSaveFileName(this, tr("Export video"), "interpolation.avi", tr("AVI video (*.avi)"));
        if (!path.isEmpty())
            exportVideo(path);
    });
    connect(runner_, &SamplingRunner::finished, this, [this](const GenerationResult &result) {
        if (result.completed) {
            if (result.latents.defined())
                latents_ = result.latents;
            frames_ = result.samples;
            alphas_ = pendingAlphas_;
            decodedTemperature_ = result.values.value("temperature").toDouble();
            decodedFast_ = result.values.value("fast").toBool();
            reconstructionError_ = result.values.value("reconstructionError", -1.0).toDouble();
            position_->setRange(0, static_cast<int>(frames_.size(0)) - 1);
        }
        showCurrentFrames();
        updateReady();
        // The temperature moved while decoding: decode again for the newest value.
        if (latents_.defined() && std::abs(temperature() - decodedTemperature_) > 1e-9 && result.completed)
            redecodeTimer_->start();
    });
    // The slider's frame, decoded ahead of the others when the temperature changes.
    connect(runner_, &SamplingRunner::partialResult, this, [this](qint64 index, const QVariantMap &values) {
        if (!values.contains("frame") || index != position_->value())
            return;
        frameView_->setImage(values.value("frame").value<QImage>());
        frameView_->setCaption(tr("frame %1, temperature %2 (the others decoding…)")
                                   .arg(index + 1)
                                   .arg(values.value("temperature").toDouble(), 0, 'f', 2));
    });
    // A run that did not finish leaves the frames it had (the slider's early frame goes).
    connect(runner_, &SamplingRunner::failed, this, [this] {
        showCurrentFrames();
        updateReady();
    });
    temperatureLabel_->setText("1.00");
    updateReady();
}

double InterpolateWorkspace::temperature() const
{
    return temperature_->value() / 100.0;
}

void InterpolateWorkspace::setFastDecode(bool fast)
{
    decoder_->setCurrentIndex(fast ? 0 : 1);
}

bool InterpolateWorkspace::fastDecode() const
{
    return decoder_->currentIndex() == 0;
}

void InterpolateWorkspace::setModel(std::shared_ptr<ScoreModel> model, const ModelFileInfo &info)
{
    Workspace::setModel(std::move(model), info);
    // Latents and frames belong to the model that made them.
    latents_ = frames_ = torch::Tensor();
    reconstructionError_ = -1.0;
    for (int which = 0; which < 2; ++which)
        if (ends_[which].defined() && (!model_ || ends_[which].sizes() != at::IntArrayRef(model_->sampleShape()))) {
            ends_[which] = torch::Tensor();
            endViews_[which]->setImage(QImage());
        }
    frameView_->setImage(QImage());
    frameView_->setCaption(QString());
    positionLabel_->clear();
    runBar_->clearOutcome();
    updateReady();
}

bool InterpolateWorkspace::openImageFile(const QString &path)
{
    torch::Tensor image = loadImageForModel(path);
    if (!image.defined())
        return false;
    setEndpoint(ends_[0].defined() && !ends_[1].defined() ? 1 : 0, image);
    return true;
}

void InterpolateWorkspace::setEndpoint(int which, const torch::Tensor &image)
{
    ends_[which] = image.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    endViews_[which]->setImage(tensorToImage(ends_[which]));
    latents_ = frames_ = torch::Tensor();
    reconstructionError_ = -1.0;
    updateReady();
}

void InterpolateWorkspace::interpolate()
{
    startDecode(true);
}

void InterpolateWorkspace::redecode()
{
    if (runner_->busy() || !latents_.defined())
        return;
    startDecode(false);
}

void InterpolateWorkspace::startDecode(bool encode)
{
    if (!model_ || !ends_[0].defined() || !ends_[1].defined() || runner_->busy())
        return;
    OdeSamplerOptions exact = sampler_->settings().ode;
    exact.temperature = temperature();
    std::optional<FastSamplerOptions> fast;
    if (fastDecode()) {
        fast = SamplingSettings::fastDefault(model_->config()).fast;
        fast->temperature = temperature();
    }
    const int count = encode ? count_->value() : static_cast<int>(alphas_.size());
    const std::vector<double> alphas = evenPositions(count);
    pendingAlphas_ = alphas; // alphas_ stays the shown frames' until this run completes
    // The frame on the slider is decoded first (frames do not depend on their batch).
    const int64_t shown = std::clamp<int64_t>(position_->value(), 0, count - 1);
    std::shared_ptr<const ScoreModel> model = model_;
    const torch::Tensor pair = torch::stack({ends_[0], ends_[1]});
    const torch::Tensor known = encode ? torch::Tensor() : latents_;
    SamplingJob job;
    job.model = model;
    job.what = (encode ? "interpolated " + std::to_string(count) + " frames" : "decoded the interpolation again") +
               std::string(fast ? " (fast decode)" : " (RK45 decode)");
    job.run = [model, exact, fast, alphas, shown, pair, known](JobContext &context) {
        // Progress only: trajectory frames of an ODE batch are not shown here.
        SamplerCallback report = [&context](const SamplerStep &step) {
            context.progress(step.step, step.totalSteps, step.nfe);
        };
        GenerationResult result;
        torch::Tensor latents = known;
        if (!latents.defined()) {
            OdeSamplerOptions encodeOptions = exact;
            encodeOptions.temperature = 1.0;
            SampleResult encoded = encodeLatent(*model, model->scaler(pair.to(model->device())), encodeOptions, report,
                                                context.cancelToken());
            result.nfe = encoded.nfe;
            if (!encoded.completed) {
                result.completed = false;
                return result;
            }
            latents = encoded.x;
            result.latents = latents.to(torch::kCPU);
        }
        latents = latents.to(model->device());
        const auto decode = [&](const std::vector<double> &at) {
            Interpolation decoded =
                fast ? decodeInterpolation(*model, latents, at, *fast, report, context.cancelToken())
                     : decodeInterpolation(*model, latents, at, exact, report, context.cancelToken());
            result.nfe += decoded.nfe;
            return decoded;
        };
        const double temperature = fast ? fast->temperature : exact.temperature;
        result.values["fast"] = fast.has_value();
        torch::Tensor frames;
        if (!fast) {
            // RK45: all frames in one batch (a lone frame would take LibTorch's slow batch-of-one path).
            Interpolation all = decode(alphas);
            if (!all.completed) {
                result.completed = false;
                return result;
            }
            frames = all.frames.to(torch::kCPU);
        } else {
            Interpolation first = decode({alphas[static_cast<size_t>(shown)]});
            if (!first.completed) {
                result.completed = false;
                return result;
            }
            context.partial(shown,
                            {{"frame", tensorToImage(first.frames[0].to(torch::kCPU))}, {"temperature", temperature}});
            frames = first.frames.to(torch::kCPU);
        }
        std::vector<double> others = alphas;
        others.erase(others.begin() + shown);
        if (fast && !others.empty()) {
            Interpolation rest = decode(others);
            if (!rest.completed) {
                result.completed = false;
                return result;
            }
            const torch::Tensor restFrames = rest.frames.to(torch::kCPU);
            frames = torch::cat({restFrames.slice(0, 0, shown), frames, restFrames.slice(0, shown)});
        }
        result.completed = true;
        result.samples = frames;
        result.values["temperature"] = temperature;
        if (std::abs(temperature - 1.0) < 1e-12) {
            const double error = std::max((result.samples[0] - pair[0]).abs().max().item<double>(),
                                          (result.samples[-1] - pair[1]).abs().max().item<double>());
            result.values["reconstructionError"] = error;
        }
        return result;
    };
    runner_->start(job);
    updateReady();
}

void InterpolateWorkspace::showCurrentFrames()
{
    if (frames_.defined()) {
        showFrame(position_->value());
    } else {
        frameView_->setImage(QImage());
        frameView_->setCaption(QString());
    }
}

void InterpolateWorkspace::showFrame(int index)
{
    if (!frames_.defined() || index < 0 || index >= frames_.size(0))
        return;
    frameView_->setImage(tensorToImage(frames_[index]));
    const double alpha = static_cast<size_t>(index) < alphas_.size() ? alphas_[static_cast<size_t>(index)] : 0.0;
    positionLabel_->setText(tr("alpha %1").arg(alpha, 0, 'f', 3));
    frameView_->setCaption(tr("frame %1 of %2, alpha %3, temperature %4")
                               .arg(index + 1)
                               .arg(frames_.size(0))
                               .arg(alpha, 0, 'f', 3)
                               .arg(decodedTemperature_, 0, 'f', 2));
}

void InterpolateWorkspace::updateReady()
{
    QString reason;
    if (!model_)
        reason = tr("Load a model first");
    else if (model_->config().isPointModel())
        reason = tr("Interpolation needs an image model");
    else if (!ends_[0].defined() || !ends_[1].defined())
        reason = tr("Choose the two images to slide between");
    runBar_->setReady(reason.isEmpty(), reason);
    const bool haveFrames = frames_.defined() && !runner_->busy();
    position_->setEnabled(haveFrames);
    exportFrames_->setEnabled(haveFrames);
    exportVideo_->setEnabled(haveFrames);
    if (reconstructionError_ >= 0)
        errorLabel_->setText(tr("Reconstruction error of the ends (RK45 encode, then %1 decode at temperature 1): "
                                "%2 max |difference| (%3 of 255 levels)")
                                 .arg(decodedFast_ ? tr("fast") : tr("RK45"))
                                 .arg(reconstructionError_, 0, 'g', 3)
                                 .arg(reconstructionError_ * 255.0, 0, 'f', 2));
    else
        errorLabel_->setText(frames_.defined() ? tr("Reconstruction error: measured at temperature 1") : QString());
}

bool InterpolateWorkspace::exportFrames(const QString &folder)
{
    return reportingErrors(tr("Could not export the frames"), [&] {
        OutputFolder output(folder.toStdString());
        std::vector<FileContents> files;
        for (int64_t i = 0; i < frames_.size(0); ++i)
            files.push_back({QDir(folder).filePath(QString("frame-%1.png").arg(i, 3, 10, QChar('0'))).toStdString(),
                             encodePng(frames_[i])});
        files.push_back(
            {QDir(folder).filePath("contact.png").toStdString(), encodePng(makeGrid(frames_, frames_.size(0)))});
        writeFilesAtomically(files);
        return tr("Exported %1 frames to %2").arg(frames_.size(0)).arg(folder);
    });
}

bool InterpolateWorkspace::exportVideo(const QString &path)
{
    return reportingErrors(tr("Could not export the video"), [&] {
        std::vector<torch::Tensor> frames;
        for (int64_t i = 0; i < frames_.size(0); ++i)
            frames.push_back(frames_[i]);
        for (int64_t i = frames_.size(0) - 2; i > 0; --i) // and back again
            frames.push_back(frames_[i]);
        writeVideo(path.toStdString(), frames, 12.0);
        return tr("Exported %1").arg(path);
    });
}

} // namespace sde::ui
