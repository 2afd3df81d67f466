#include "workspace.h"

#include "sampling_worker.h"

#include "data/image_data.h"
#include "imaging/generation_record.h"
#include "imaging/image_io.h"
#include "io/bundled_models.h"
#include "util/failure_message.h"
#include "util/files.h"

#include <QFileDialog>
#include <QFileInfo>
#include <QSettings>

namespace sde::ui {

Workspace::Workspace(SamplerPanel *sampler, const QString &name, QWidget *parent)
    : QWidget(parent), sampler_(sampler), runner_(new SamplingRunner(name + "Thread", this))
{
    setObjectName(name);
    connect(runner_, &SamplingRunner::started, this, &Workspace::busyChanged);
    connect(runner_, &SamplingRunner::finished, this, &Workspace::busyChanged);
    connect(runner_, &SamplingRunner::failed, this, [this](const QString &message) {
        Q_EMIT errorOccurred(failureMessage(message));
        Q_EMIT busyChanged();
    });
}

void Workspace::setModel(std::shared_ptr<ScoreModel> model, const ModelFileInfo &info)
{
    model_ = std::move(model);
    info_ = info;
}

bool Workspace::busy() const
{
    return runner_->busy();
}

void Workspace::cancel()
{
    runner_->cancel();
}

torch::Tensor Workspace::loadImageForModel(const QString &path, int64_t channels, QString *conversion)
{
    if (conversion)
        conversion->clear();
    if (!model_) {
        Q_EMIT errorOccurred(tr("Load a model first: images are fitted to its size."));
        return {};
    }
    try {
        const auto shape = model_->sampleShape();
        const int64_t wanted = channels > 0 ? channels : shape[0];
        // The file's own channels first; a file of other channels is read again converted, as
        // the CLI reads it (luma in the file's depth), so both measure the same pixels.
        torch::Tensor image = loadImage(path.toStdString(), 0);
        const int64_t own = image.size(0);
        const int64_t height = image.size(1), width = image.size(2);
        if (own != wanted)
            image = loadImage(path.toStdString(), wanted);
        QStringList done;
        if (height != shape[1] || width != shape[2]) {
            image = resizeShorterSide(image, shape[1], shape[1]);
            done << (height * shape[2] == width * shape[1] ? tr("scaled") : tr("scaled, center-cropped"));
        }
        // (Channels the caller asks for are its page's own reading: Colorize reads every photograph
        // as RGB, a gray one too.)
        if (own != wanted && channels == 0)
            done << (wanted == 1 ? tr("turned gray") : tr("gray copied to RGB"));
        if (!done.isEmpty()) {
            const auto kind = [](int64_t c) { return c == 1 ? tr("gray") : tr("color"); };
            const QString text = tr("%1 × %2 %3 → %4 × %5 %6: %7")
                                     .arg(width)
                                     .arg(height)
                                     .arg(kind(own))
                                     .arg(shape[2])
                                     .arg(shape[1])
                                     .arg(kind(wanted))
                                     .arg(done.join(", "));
            if (conversion)
                *conversion = text;
            Q_EMIT statusMessage(tr("%1 was converted for the model (%2)").arg(QFileInfo(path).fileName(), text));
        }
        return image;
    } catch (const std::exception &e) {
        Q_EMIT errorOccurred(QString::fromStdString(openFailureMessage("the image", path.toStdString(), e)));
        return {};
    }
}

QString Workspace::askImageFile(const QString &title)
{
    QSettings settings;
    const QString path = QFileDialog::getOpenFileName(
        this, title, settings.value("lastImageFolder").toString(),
        tr("Images (*.png *.jpg *.jpeg *.bmp *.webp *.tif *.tiff *.pgm *.ppm);;All files (*)"));
    if (!path.isEmpty())
        settings.setValue("lastImageFolder", QFileInfo(path).absolutePath());
    return path;
}

QStringList Workspace::saveResults(const torch::Tensor &images, const std::string &operation,
                                   const SamplingSettings &settings, int64_t nfe, const Json &inputs, QString folder)
{
    QStringList written;
    if (!model_ || !images.defined())
        return written;
    if (folder.isEmpty())
        folder = QFileDialog::getExistingDirectory(this, tr("Save the results to"));
    if (folder.isEmpty())
        return written;
    reportingErrors(tr("Could not save the results"), [&] {
        GenerationRecord record;
        record.operation = operation;
        record.modelFile = modelName(info_.path);
        record.weights = info_.loadedWeights;
        record.settings = settings;
        record.nfe = nfe;
        record.inputs = inputs;
        OutputFolder output(folder.toStdString());
        for (const std::string &path : saveGeneratedBatch(folder.toStdString(), images, record, *model_))
            written << QString::fromStdString(path);
        return tr("Saved %1 image(s) to %2").arg(written.size()).arg(folder);
    });
    return written;
}

bool Workspace::reportingErrors(const QString &failure, const std::function<QString()> &work)
{
    try {
        Q_EMIT statusMessage(work());
        return true;
    } catch (const std::exception &e) {
        Q_EMIT errorOccurred(QString("%1: %2").arg(failure, QString::fromStdString(e.what())));
        return false;
    }
}

} // namespace sde::ui
