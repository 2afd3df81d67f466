#include "likelihood_workspace.h"

#include "form_widgets.h"
#include "run_bar.h"
#include "sampler_panel.h"
#include "sampling_worker.h"

#include "data/image_data.h"
#include "imaging/image_io.h"
#include "likelihood/likelihood.h"
#include "sampling/sampler_catalogue.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QSaveFile>
#include <QTableWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <chrono>
#include <cmath>

namespace sde::ui {

namespace {
enum Column { NameColumn, BpdColumn, NfeColumn, StatusColumn, InputColumn };
}

LikelihoodWorkspace::LikelihoodWorkspace(SamplerPanel *sampler, QWidget *parent)
    : Workspace(sampler, "likelihoodWorkspace", parent), table_(new QTableWidget(0, 5, this)),
      runBar_(new RunBar(tr("Compute bits/dim"), runner_, this)),
      probe_(makeCombo(this, "hutchinsonProbe", {"rademacher", "gaussian"})),
      tolerance_(makeNumber(this, "likelihoodTolerance", kSmallestOdeTolerance, 1.0, 1e-5, 7)),
      dequantize_(new QCheckBox(tr("Dequantize"), this)), summary_(new ElidedLabel(this))
{
    table_->setObjectName("likelihoodTable");
    table_->setHorizontalHeaderLabels({tr("Image"), tr("Bits/dim"), tr("NFE"), tr("Status"), tr("Input")});
    table_->horizontalHeaderItem(InputColumn)
        ->setToolTip(tr("How the image was fitted to the model: its figure is that of the converted image"));
    for (int column : {BpdColumn, NfeColumn})
        table_->horizontalHeaderItem(column)->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    table_->horizontalHeader()->setSectionResizeMode(NameColumn, QHeaderView::Stretch);
    table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    probe_->setToolTip(tr("The Hutchinson estimator's probe noise (the reference uses Rademacher)"));
    tolerance_->setToolTip(tr("RK45 rtol and atol (the reference: 1e-5)"));
    dequantize_->setObjectName("likelihoodDequantize");
    dequantize_->setChecked(true);
    dequantize_->setToolTip(tr("Round to the 8-bit levels k and add uniform noise, x = (k + u) / 256, as the reference "
                               "evaluates (and the CLI's bpd by default); off: the image as it is"));
    summary_->setObjectName("likelihoodSummary");
    summary_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    auto *addImages = new QPushButton(tr("Add images…"), this);
    auto *addFolder = new QPushButton(tr("Add folder…"), this);
    auto *clear = new QPushButton(tr("Clear"), this);
    auto *exportCsv = new QPushButton(tr("Export CSV…"), this);
    exportCsv->setObjectName("exportLikelihood");
    connect(exportCsv, &QPushButton::clicked, this, [this] {
        const QString path =
            QFileDialog::getSaveFileName(this, tr("Export the results"), "bits-per-dim.csv", tr("CSV (*.csv)"));
        if (!path.isEmpty())
            this->exportCsv(path);
    });
    connect(addImages, &QPushButton::clicked, this, [this] {
        const QStringList paths =
            QFileDialog::getOpenFileNames(this, tr("Images to measure"), QString(),
                                          tr("Images (*.png *.jpg *.jpeg *.bmp *.pgm *.ppm);;All files (*)"));
        addFiles(paths);
    });
    connect(addFolder, &QPushButton::clicked, this, [this] {
        const QString folder = QFileDialog::getExistingDirectory(this, tr("A folder of images"));
        if (!folder.isEmpty())
            this->addFolder(folder);
    });
    connect(clear, &QPushButton::clicked, this, &LikelihoodWorkspace::clearImages);
    auto *files = new QHBoxLayout;
    files->addWidget(addImages);
    files->addWidget(addFolder);
    files->addWidget(clear);
    files->addWidget(exportCsv);
    files->addStretch(1);
    files->addWidget(new QLabel(tr("Probe"), this));
    files->addWidget(probe_);
    files->addWidget(new QLabel(tr("Tolerance"), this));
    files->addWidget(tolerance_);
    files->addWidget(dequantize_);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(files);
    layout->addWidget(runBar_);
    layout->addWidget(table_, 1);
    layout->addWidget(summary_);

    connect(runBar_, &RunBar::runRequested, this, &LikelihoodWorkspace::compute);
    // The run reports per cent of the list (each image's ODE time): said so on the run's line.
    connect(runner_, &SamplingRunner::progress, this, [this](qint64 step, qint64, qint64 nfe, double eta) {
        runBar_->setStatus(tr("%1 % of %2 image(s)  NFE %3  %4")
                               .arg(step)
                               .arg(imageCount())
                               .arg(nfe)
                               .arg(eta >= 0 ? tr("ETA %1").arg(etaText(eta)) : QString()));
    });
    connect(runner_, &SamplingRunner::partialResult, this, [this](qint64 index, const QVariantMap &values) {
        if (index < 0 || index >= imageCount())
            return;
        Entry &entry = entries_[static_cast<size_t>(index)];
        const int row = static_cast<int>(index);
        if (values.contains("error")) {
            table_->item(row, StatusColumn)->setText(values.value("error").toString());
            return;
        }
        if (values.contains("t")) { // still running: how far its ODE has come
            table_->item(row, StatusColumn)
                ->setText(
                    tr("running: t = %1 of %2").arg(values.value("t").toDouble(), 0, 'f', 3).arg(sdeEnd_, 0, 'g', 3));
            return;
        }
        entry.bpd = values.value("bpd").toDouble();
        entry.nfe = values.value("nfe").toLongLong();
        table_->item(row, BpdColumn)->setText(QString::number(entry.bpd, 'f', 4));
        table_->item(row, NfeColumn)->setText(QString::number(entry.nfe));
        table_->item(row, StatusColumn)->setText(tr("done"));
        updateSummary();
    });
    connect(runner_, &SamplingRunner::finished, this, [this](const GenerationResult &result) {
        // What was waiting or running when the run ended.
        for (int row = 0; row < imageCount(); ++row) {
            const QString status = table_->item(row, StatusColumn)->text();
            if (status == tr("waiting") || status.startsWith(tr("running")))
                table_->item(row, StatusColumn)->setText(result.completed ? QString() : tr("cancelled"));
        }
        updateSummary();
        updateReady();
    });
    connect(runner_, &SamplingRunner::failed, this, [this] { updateReady(); });
    updateReady();
}

void LikelihoodWorkspace::setModel(std::shared_ptr<ScoreModel> model, const ModelFileInfo &info)
{
    Workspace::setModel(std::move(model), info);
    // Results belong to the model that computed them; images in memory to its size.
    std::vector<Entry> kept;
    for (Entry &entry : entries_)
        if (!entry.path.isEmpty() || (model_ && entry.image.sizes() == at::IntArrayRef(model_->sampleShape())))
            kept.push_back(std::move(entry));
    entries_.clear();
    table_->setRowCount(0);
    for (Entry &entry : kept) {
        entry.bpd = -1.0;
        entry.nfe = 0;
        entry.conversion.clear(); // a file is fitted to the new model when read again
        entry.read = false;
        addEntry(std::move(entry));
    }
    updateSummary();
    runBar_->clearOutcome();
    updateReady();
}

bool LikelihoodWorkspace::openImageFile(const QString &path)
{
    addFiles({path});
    return true;
}

void LikelihoodWorkspace::addFiles(const QStringList &paths)
{
    for (const QString &path : paths) {
        Entry entry;
        entry.name = QFileInfo(path).fileName();
        entry.path = path;
        addEntry(std::move(entry));
    }
    updateReady();
}

int LikelihoodWorkspace::addFolder(const QString &folder)
{
    try {
        QStringList paths;
        for (const std::string &path : listImageFiles(folder.toStdString()))
            paths << QString::fromStdString(path);
        if (paths.isEmpty())
            Q_EMIT errorOccurred(tr("%1 holds no images (PNG, JPEG, BMP, ...)").arg(folder));
        addFiles(paths);
        return static_cast<int>(paths.size());
    } catch (const std::exception &e) {
        Q_EMIT errorOccurred(tr("Could not read the folder %1: %2").arg(folder, QString::fromStdString(e.what())));
        return 0;
    }
}

void LikelihoodWorkspace::addImage(const torch::Tensor &image, const QString &name)
{
    Entry entry;
    entry.name = name;
    entry.image = image.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    addEntry(std::move(entry));
    updateReady();
}

void LikelihoodWorkspace::clearImages()
{
    if (runner_->busy())
        return;
    entries_.clear();
    table_->setRowCount(0);
    updateSummary();
    updateReady();
}

double LikelihoodWorkspace::bitsPerDim(int index) const
{
    return entries_.at(static_cast<size_t>(index)).bpd;
}

bool LikelihoodWorkspace::exportCsv(const QString &path)
{
    const auto quoted = [](QString text) { return '"' + text.replace('"', "\"\"") + '"'; };
    QString csv = "image,bits_per_dim,nfe,conversion\n";
    for (const Entry &entry : entries_)
        csv += QString("%1,%2,%3,%4\n")
                   .arg(quoted(entry.path.isEmpty() ? entry.name : entry.path),
                        entry.bpd >= 0 ? QString::number(entry.bpd, 'f', 6) : QString(),
                        entry.bpd >= 0 ? QString::number(entry.nfe) : QString(), quoted(entry.conversion));
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly) || file.write(csv.toUtf8()) < 0 || !file.commit()) {
        Q_EMIT errorOccurred(tr("Could not write %1: %2").arg(path, file.errorString()));
        return false;
    }
    Q_EMIT statusMessage(tr("Wrote %1").arg(path));
    return true;
}

void LikelihoodWorkspace::addEntry(Entry entry)
{
    const int row = table_->rowCount();
    table_->insertRow(row);
    table_->setItem(row, NameColumn, new QTableWidgetItem(entry.name));
    table_->item(row, NameColumn)->setToolTip(entry.path.isEmpty() ? tr("a generated sample") : entry.path);
    table_->setItem(row, BpdColumn, new QTableWidgetItem(entry.bpd >= 0 ? QString::number(entry.bpd, 'f', 4) : ""));
    table_->setItem(row, NfeColumn, new QTableWidgetItem(entry.nfe > 0 ? QString::number(entry.nfe) : ""));
    table_->setItem(row, StatusColumn, new QTableWidgetItem());
    table_->setItem(row, InputColumn, new QTableWidgetItem());
    // Figures line up on their last digit.
    for (int column : {BpdColumn, NfeColumn})
        table_->item(row, column)->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    entries_.push_back(std::move(entry));
    showInput(row);
    updateSummary();
}

void LikelihoodWorkspace::showInput(int row)
{
    const Entry &entry = entries_.at(static_cast<size_t>(row));
    QTableWidgetItem *item = table_->item(row, InputColumn);
    // A file is known once it has been read (at Compute); an image in memory has the model's shape.
    item->setText(!entry.conversion.isEmpty()          ? tr("converted: %1").arg(entry.conversion)
                  : entry.read || entry.path.isEmpty() ? tr("as is")
                                                       : QString());
    item->setToolTip(entry.conversion);
}

void LikelihoodWorkspace::updateSummary()
{
    double sum = 0.0;
    int done = 0;
    for (const Entry &entry : entries_)
        if (entry.bpd >= 0) {
            sum += entry.bpd;
            ++done;
        }
    const auto converted =
        std::count_if(entries_.begin(), entries_.end(), [](const Entry &entry) { return !entry.conversion.isEmpty(); });
    QString text =
        done > 0 ? tr("Mean %1 bits/dim over %2 of %3 image(s)").arg(sum / done, 0, 'f', 4).arg(done).arg(imageCount())
                 : tr("%1 image(s)").arg(imageCount());
    if (converted > 0)
        text += tr("; %1 converted to the model's size and channels (see Input): their figures are those of the "
                   "converted images")
                    .arg(converted);
    summary_->setText(text);
}

void LikelihoodWorkspace::updateReady()
{
    QString reason;
    if (!model_)
        reason = tr("Load a model first");
    else if (model_->config().isPointModel())
        reason = tr("Bits/dim are measured for image models");
    else if (entries_.empty())
        reason = tr("Add images or a folder (or send samples from Generate)");
    runBar_->setReady(reason.isEmpty(), reason);
}

void LikelihoodWorkspace::compute()
{
    if (!model_ || entries_.empty() || runner_->busy())
        return;
    // Files are read here, on the UI thread, so a broken one is named before the run starts.
    // Every file first: one that cannot be read stops the run before any row's figure is cleared.
    std::vector<torch::Tensor> images;
    for (size_t i = 0; i < entries_.size(); ++i) {
        Entry &entry = entries_[i];
        torch::Tensor image = entry.image;
        if (!image.defined()) {
            image = loadImageForModel(entry.path, 0, &entry.conversion);
            entry.read = image.defined();
            showInput(static_cast<int>(i));
            if (!image.defined()) {
                table_->item(static_cast<int>(i), StatusColumn)->setText(tr("unreadable"));
                updateSummary();
                return;
            }
        }
        images.push_back(image);
    }
    for (size_t i = 0; i < entries_.size(); ++i) {
        Entry &entry = entries_[i];
        entry.bpd = -1.0;
        table_->item(static_cast<int>(i), BpdColumn)->setText("");
        table_->item(static_cast<int>(i), NfeColumn)->setText("");
        table_->item(static_cast<int>(i), StatusColumn)->setText(tr("waiting"));
    }
    updateSummary();
    LikelihoodOptions options;
    options.probe = probe_->currentIndex() == 0 ? HutchinsonProbe::Rademacher : HutchinsonProbe::Gaussian;
    options.ode.rtol = options.ode.atol = tolerance_->value();
    const uint64_t seed = sampler_->settings().seed;
    const bool dequantize = dequantize_->isChecked();
    sdeEnd_ = model_->sde().T();
    std::shared_ptr<const ScoreModel> model = model_;
    SamplingJob job;
    job.model = model;
    job.what = "bits/dim of " + std::to_string(images.size()) + " image(s)";
    job.run = [model, options, images, seed, dequantize](JobContext &context) {
        GenerationResult result;
        const int64_t count = static_cast<int64_t>(images.size());
        const double t1 = model->sde().T();
        // kBitsPerDimBatch images at a time, as the CLI groups them: each figure is its own
        // (image i: seed + i, its own RK45 steps) and a batch costs about what one image costs.
        constexpr int64_t kChunk = kBitsPerDimBatch;
        auto lastShown = std::chrono::steady_clock::now() - std::chrono::seconds(1);
        int64_t nfeBefore = 0; // the evaluations of the chunks done
        for (int64_t start = 0; start < count && !context.cancelled(); start += kChunk) {
            const int64_t end = std::min(count, start + kChunk);
            const std::vector<torch::Tensor> chunk(images.begin() + start, images.begin() + end);
            ImagesBitsPerDimCallbacks callbacks;
            callbacks.onRound = [&](const torch::Tensor &t, double integrated, int64_t nfe) {
                // The progress of the whole list in per cent, and each running image's time.
                const auto now = std::chrono::steady_clock::now();
                const double done = static_cast<double>(start) + integrated;
                context.progress(static_cast<int64_t>(100.0 * done / static_cast<double>(count)), 100, nfeBefore + nfe);
                if (now - lastShown > std::chrono::milliseconds(250)) {
                    lastShown = now;
                    for (int64_t j = 0; j < t.size(0); ++j)
                        if (t[j].item<double>() < t1)
                            context.partial(start + j, {{"t", t[j].item<double>()}});
                }
                return !context.cancelled();
            };
            callbacks.onImage = [&](int64_t j, double bpd, int64_t nfe) {
                context.partial(start + j, {{"bpd", bpd}, {"nfe", static_cast<qlonglong>(nfe)}});
            };
            // Image i uses seed + i, as the CLI's bpd does.
            LikelihoodResult r =
                imagesBitsPerDim(*model, chunk, dequantize, seed + static_cast<uint64_t>(start), options, callbacks);
            result.nfe += r.nfe;
            nfeBefore += r.nfe;
            if (!r.completed)
                break;
            result.steps = end;
        }
        result.completed = !context.cancelled();
        return result;
    };
    runner_->start(job);
    updateReady();
}

} // namespace sde::ui
