#include "generate_workspace.h"

#include "class_panel.h"
#include "form_widgets.h"
#include "image_view.h"
#include "run_bar.h"
#include "sampler_panel.h"
#include "sampling_worker.h"
#include "tensor_image.h"
#include "trajectory_scrubber.h"

#include "data/toy_data.h"
#include "editing/guidance.h"
#include "imaging/image_io.h"
#include "imaging/point_plot.h"
#include "imaging/video_writer.h"
#include "util/error.h"
#include "util/files.h"

#include <QDir>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QLabel>
#include <QMenu>
#include <QProgressBar>
#include <QSplitter>
#include <QVBoxLayout>

#include <spdlog/spdlog.h>

namespace sde::ui {

namespace {

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

GenerateWorkspace::GenerateWorkspace(SamplerPanel *sampler, QWidget *parent)
    : Workspace(sampler, "generateWorkspace", parent), classPanel_(new ClassPanel(this)), result_(new ImageView(this)),
      scrubber_(new TrajectoryScrubber(this)), progressLabel_(new ElidedLabel(this)), progress_(new QProgressBar(this))
{
    result_->setObjectName("resultView");
    result_->setCaption(tr("samples"));
    result_->setPlaceholder(tr("Load a model in the Model dock"));
    result_->setContextMenuPolicy(Qt::CustomContextMenu);
    result_->setToolTip(tr("Right-click a sample to send it to another workspace"));
    scrubber_->setObjectName("trajectoryScrubber");
    classPanel_->setObjectName("classPanel");
    progress_->setObjectName("progressBar");
    progress_->setMaximumWidth(240);
    progress_->setValue(0);
    auto *splitter = new QSplitter(Qt::Horizontal, this);
    splitter->setObjectName("generateSplitter");
    splitter->addWidget(result_);
    splitter->addWidget(scrubber_);
    // The finished samples are the page's largest element.
    splitter->setStretchFactor(0, 3);
    splitter->setStretchFactor(1, 2);
    // The progress line; a window takes its widgets into its status bar (the row is then empty).
    auto *progress = new QHBoxLayout;
    progress->addStretch(1);
    progress->addWidget(progressLabel_);
    progress->addWidget(progress_);
    auto *layout = new QVBoxLayout(this);
    layout->addWidget(classPanel_);
    layout->addWidget(splitter, 1);
    layout->addLayout(progress);

    connect(result_, &QWidget::customContextMenuRequested, this, &GenerateWorkspace::showResultMenu);
    connect(classPanel_, &ClassPanel::errorOccurred, this, &Workspace::errorOccurred);
    connect(runner_, &SamplingRunner::progress, this, [this](qint64 step, qint64 total, qint64 nfe, double eta) {
        progress_->setRange(0, total > 0 ? static_cast<int>(total) : 0);
        progress_->setValue(static_cast<int>(step));
        progressLabel_->setText(progressText(step, total, nfe, eta));
    });
    connect(runner_, &SamplingRunner::frameReady, scrubber_, &TrajectoryScrubber::appendFrame);
    connect(runner_, &SamplingRunner::finished, this, &GenerateWorkspace::onFinished);
    connect(runner_, &SamplingRunner::failed, this, [this] {
        progressLabel_->setText(tr("failed"));
        Q_EMIT finished();
    });
}

void GenerateWorkspace::setModel(std::shared_ptr<ScoreModel> model, const ModelFileInfo &info)
{
    Workspace::setModel(std::move(model), info);
    const bool points = model_ && model_->config().isPointModel();
    // What the previous model made, and its run's line, go with it.
    result_->setPlaceholder(model_ ? tr("Press Generate (Ctrl+Enter)") : tr("Load a model in the Model dock"));
    progressLabel_->clear();
    progress_->setRange(0, 1);
    progress_->setValue(0);
    scrubber_->clear();
    scrubber_->setPointMode(points, points ? toyBackground(model_->config()) : torch::Tensor());
    lastResult_ = GenerationResult();
    result_->setImage(QImage());
    classPanel_->setModel(model_.get());
}

bool GenerateWorkspace::hasSamples() const
{
    return lastResult_.samples.defined() && lastResult_.samples.numel() > 0;
}

bool GenerateWorkspace::hasFrames() const
{
    return scrubber_->frameCount() > 0;
}

QString GenerateWorkspace::failureMessage(const QString &message) const
{
    return tr("Sampling failed: %1").arg(message);
}

bool GenerateWorkspace::generate()
{
    if (!model_ || busy())
        return false;
    SamplingSettings settings = sampler_->takeSettings();
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
    scrubber_->clear();
    progress_->setValue(0);
    progressLabel_->setText(tr("starting…"));
    spdlog::info("generating: {}{}", describeSettings(settings),
                 classPanel_->active() ? ", class " + classPanel_->className().toStdString() : std::string());
    return runner_->start(job);
}

void GenerateWorkspace::cancel()
{
    if (!busy())
        return;
    runner_->cancel();
    progressLabel_->setText(tr("cancelling…"));
}

void GenerateWorkspace::onFinished(const GenerationResult &result)
{
    lastResult_ = result;
    const bool points = model_ && model_->config().isPointModel();
    if (result.samples.defined() && result.samples.numel() > 0) {
        result_->setImage(points ? pointCloudImage(result.samples, 384, palette(), toyBackground(model_->config()))
                                 : batchToGrid(result.samples));
    }
    scrubber_->setFrames(result.frames);
    progressLabel_->setText(
        result.completed
            ? tr("%1 samples, %2 NFE, %3 s").arg(lastSettings_.batch).arg(result.nfe).arg(result.seconds, 0, 'f', 1)
            : tr("cancelled at step %1 (frames kept)").arg(result.steps));
    if (!result.completed)
        lastResult_.samples = torch::Tensor(); // a cancelled run has no finished samples to save
    else if (!points && hasSamples())
        Q_EMIT resultMade("generate", lastResult_.samples, lastSettings_);
    Q_EMIT finished();
}

QStringList GenerateWorkspace::saveImages(const QString &folder)
{
    if (!model_ || !lastResult_.samples.defined())
        return {};
    torch::Tensor images = lastResult_.samples;
    if (model_->config().isPointModel()) {
        // A toy model's sample is one point: each file shows it as a picture.
        std::vector<torch::Tensor> pictures;
        for (int64_t i = 0; i < images.size(0); ++i)
            pictures.push_back(renderPointCloud(images.slice(0, i, i + 1)));
        images = torch::stack(pictures);
    }
    return saveResults(images, "sample", lastSettings_, lastResult_.nfe, lastInputs_, folder);
}

bool GenerateWorkspace::saveGrid(QString path)
{
    if (!model_ || !lastResult_.samples.defined())
        return false;
    if (path.isEmpty())
        path = QFileDialog::getSaveFileName(this, tr("Save grid"), "grid.png", tr("PNG images (*.png)"));
    return !path.isEmpty() && reportingErrors(tr("Could not save the grid"), [&] {
        savePng(path.toStdString(), model_->config().isPointModel() ? renderPointCloud(lastResult_.samples)
                                                                    : makeGrid(lastResult_.samples));
        return tr("Saved %1").arg(path);
    });
}

bool GenerateWorkspace::exportFrames(QString folder)
{
    if (!model_ || !hasFrames())
        return false;
    if (folder.isEmpty())
        folder = QFileDialog::getExistingDirectory(this, tr("Export frames to"));
    return !folder.isEmpty() && reportingErrors(tr("Could not export the frames"), [&] {
        const bool points = model_->config().isPointModel();
        OutputFolder output(folder.toStdString());
        std::vector<FileContents> files;
        for (const TrajectoryFrame &frame : scrubber_->frames()) {
            const std::string base =
                QDir(folder).filePath(QString("step-%1").arg(frame.step, 5, 10, QChar('0'))).toStdString();
            if (points) {
                files.push_back({base + ".png", encodePng(renderPointCloud(frame.x))});
            } else {
                files.push_back({base + "-x.png", encodePng(makeGrid(frame.x))});
                files.push_back({base + "-x0.png", encodePng(makeGrid(frame.denoised))});
            }
        }
        writeFilesAtomically(files);
        return tr("Exported %1 frames to %2").arg(scrubber_->frameCount()).arg(folder);
    });
}

bool GenerateWorkspace::exportVideo(QString path)
{
    if (!model_ || !hasFrames())
        return false;
    if (path.isEmpty())
        path = QFileDialog::getSaveFileName(this, tr("Export video"), "trajectory.avi", tr("AVI video (*.avi)"));
    return !path.isEmpty() && reportingErrors(tr("Could not export the video"), [&] {
        const bool points = model_->config().isPointModel();
        std::vector<torch::Tensor> frames;
        for (const TrajectoryFrame &frame : scrubber_->frames())
            frames.push_back(points ? renderPointCloud(frame.x)
                                    : torch::cat({makeGrid(frame.x), makeGrid(frame.denoised)}, 2));
        writeVideo(path.toStdString(), frames, 12.0);
        return tr("Exported %1").arg(path);
    });
}

bool GenerateWorkspace::sendSample(int index, SampleTarget target)
{
    if (!model_ || !lastResult_.samples.defined() || index < 0 || index >= lastResult_.samples.size(0) ||
        model_->config().isPointModel())
        return false;
    const QString name =
        tr("sample %1 (seed %2)").arg(index + 1).arg(lastSettings_.seed + static_cast<uint64_t>(index));
    Q_EMIT sampleSent(lastResult_.samples[index], name, target);
    return true;
}

void GenerateWorkspace::showResultMenu(const QPoint &pos)
{
    if (!model_ || !lastResult_.samples.defined() || model_->config().isPointModel())
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
    auto send = [&](const QString &text, SampleTarget target) {
        menu.addAction(text, this, [this, index, target] { sendSample(index, target); });
    };
    send(tr("Send sample %1 to Inpaint").arg(index + 1), SampleTarget::Inpaint);
    if (model_->sampleShape()[0] == 3) // colorization needs the RGB model that made the sample
        send(tr("Send sample %1 to Colorize").arg(index + 1), SampleTarget::Colorize);
    send(tr("Use as interpolation start"), SampleTarget::InterpolationStart);
    send(tr("Use as interpolation end"), SampleTarget::InterpolationEnd);
    send(tr("Measure its bits/dim"), SampleTarget::Likelihood);
    menu.exec(result_->mapToGlobal(pos));
}

} // namespace sde::ui
