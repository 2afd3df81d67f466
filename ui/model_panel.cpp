#include "model_panel.h"

#include "studio_style.h"

#include "io/bundled_models.h"
#include "util/files.h"

#include <QLabel>
#include <QListWidget>
#include <QLocale>
#include <QPushButton>
#include <QVBoxLayout>

namespace sde::ui {

ModelPanel::ModelPanel(QWidget *parent) : QWidget(parent), summary_(new QLabel(this)), bundled_(new QListWidget(this))
{
    summary_->setObjectName("modelSummary");
    summary_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    summary_->setWordWrap(true);
    summary_->setText(tr("No model loaded"));
    bundled_->setObjectName("bundledModels");
    for (const BundledModel &model : bundledModels()) {
        if (model.kind != "score")
            continue;
        auto *item = new QListWidgetItem(QString::fromStdString(model.name), bundled_);
        item->setData(Qt::UserRole, QString::fromStdString(model.path));
        item->setToolTip(QString::fromStdString(model.summary));
    }
    auto *open = new QPushButton(tr("Open model file…"), this);
    open->setObjectName("openModelButton");
    connect(open, &QPushButton::clicked, this, &ModelPanel::openDialogRequested);
    connect(bundled_, &QListWidget::itemActivated, this,
            [this](QListWidgetItem *item) { Q_EMIT openRequested(item->data(Qt::UserRole).toString()); });

    auto *layout = new QVBoxLayout(this);
    layout->addWidget(summary_);
    layout->addWidget(makeHeading(tr("Bundled models"), this));
    layout->addWidget(new QLabel(tr("Double-click one to load it."), this));
    layout->addWidget(bundled_, 1);
    layout->addWidget(open);
}

void ModelPanel::showModel(const ScoreModel &model, const ModelFileInfo &info)
{
    const ModelConfig &config = model.config();
    const QString shape = config.isPointModel()
                              ? tr("%1-D points").arg(config.data.numChannels)
                              : tr("%1 × %1, %2 channel(s)").arg(config.data.imageSize).arg(config.data.numChannels);
    QString text;
    text += tr("<b>%1</b><br>").arg(QString::fromStdString(modelName(info.path)).toHtmlEscaped());
    text += tr("Architecture: %1<br>").arg(QString::fromStdString(config.architectureName()).toHtmlEscaped());
    text += tr("SDE: %1<br>").arg(QString::fromStdString(config.sdeDescription()).toHtmlEscaped());
    text += tr("Data: %1<br>").arg(shape);
    text += tr("Parameters: %1<br>").arg(QLocale().toString(static_cast<qlonglong>(model.parameterCount())));
    text += tr("Weights: %1%2<br>")
                .arg(QString::fromStdString(info.loadedWeights))
                .arg(info.hasEma ? tr(" (EMA present)") : tr(" (no EMA)"));
    if (info.step >= 0)
        text += tr("Training step: %1<br>").arg(info.step);
    text += tr("Config: %1<br>").arg(QString::fromStdString(info.configOrigin).toHtmlEscaped());
    text += tr("Device: %1").arg(QString::fromStdString(model.device().str()));
    summary_->setText(text);
    summary_->setToolTip(QString::fromStdString(info.path));
}

QString ModelPanel::summaryText() const
{
    return summary_->text();
}

} // namespace sde::ui
