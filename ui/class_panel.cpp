#include "class_panel.h"

#include "form_widgets.h"

#include "editing/guidance.h"
#include "io/bundled_models.h"
#include "util/failure_message.h"
#include "util/files.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QLabel>
#include <QToolButton>

namespace sde::ui {

namespace {
constexpr const char *kBundledClassifier = "fashion-mnist-classifier";
}

ClassPanel::ClassPanel(QWidget *parent)
    : QWidget(parent), enabled_(new QCheckBox(tr("Class-conditional"), this)),
      class_(makeCombo(this, "classChoice", {})),
      guidance_(makeNumber(this, "guidanceScale", 0.0, kMaxGuidanceScale, 1.0, 2)), info_(new ElidedLabel(this))
{
    enabled_->setObjectName("classConditional");
    enabled_->setToolTip(tr("Guide sampling towards a class with a noise-conditional classifier; "
                            "any sampler of the Sampler dock"));
    guidance_->setToolTip(tr("Guidance scale: 1 is exact Bayes, larger sharpens the class"));
    info_->setObjectName("classifierInfo");
    auto *open = new QToolButton(this);
    open->setText(tr("Classifier…"));
    open->setToolTip(tr("Open another noise-conditional classifier (.safetensors)"));
    connect(open, &QToolButton::clicked, this, [this] {
        const QString path =
            QFileDialog::getOpenFileName(this, tr("Open a classifier"), QString(), tr("Classifiers (*.safetensors)"));
        if (!path.isEmpty())
            loadClassifier(path);
    });
    // Wide enough for the longest class name ("T-shirt/top", "Ankle boot") whatever the classifier.
    class_->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    auto *layout = new QHBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(enabled_);
    layout->addWidget(class_);
    layout->addWidget(new QLabel(tr("Guidance"), this));
    layout->addWidget(guidance_);
    layout->addWidget(open);
    layout->addWidget(info_, 1);
    connect(enabled_, &QCheckBox::toggled, this, [this] { updateState(); });
    updateState();
}

void ClassPanel::setModel(const ScoreModel *model)
{
    model_ = model;
    if (!classifier_ && model_ && !model_->config().isPointModel()) {
        // The bundled classifier, when it is there and fits; quietly nothing otherwise.
        for (const BundledModel &bundled : bundledModels())
            if (bundled.name == kBundledClassifier) {
                try {
                    auto loaded = std::make_shared<LoadedClassifier>(loadClassifierFile(bundled.path));
                    classifier_ = loaded;
                    classifierName_ = kBundledClassifier;
                } catch (const std::exception &) {
                }
            }
    }
    updateState();
}

bool ClassPanel::loadClassifier(const QString &nameOrPath)
{
    try {
        classifier_ = std::make_shared<LoadedClassifier>(loadClassifierFile(nameOrPath.toStdString()));
        classifierName_ = QString::fromStdString(baseName(resolveModelPath(nameOrPath.toStdString())));
        updateState();
        return true;
    } catch (const std::exception &e) {
        Q_EMIT errorOccurred(QString::fromStdString(openFailureMessage("the classifier", nameOrPath.toStdString(), e)));
        return false;
    }
}

bool ClassPanel::active() const
{
    return fits_ && enabled_->isChecked();
}

int64_t ClassPanel::classIndex() const
{
    return class_->currentIndex();
}

QString ClassPanel::className() const
{
    return class_->currentText();
}

void ClassPanel::setClassIndex(int64_t index)
{
    class_->setCurrentIndex(static_cast<int>(index));
}

double ClassPanel::guidance() const
{
    return guidance_->value();
}

void ClassPanel::setActive(bool on)
{
    enabled_->setChecked(on);
}

void ClassPanel::updateState()
{
    fits_ = false;
    QString reason;
    if (!classifier_) {
        reason = tr("no classifier loaded");
    } else if (!model_) {
        reason = tr("no model loaded");
    } else {
        const ModelConfig &config = classifier_->config().scoreConfig;
        const auto shape = model_->sampleShape();
        fits_ = config.data.numChannels == shape[0] && config.data.imageSize == shape[1] &&
                config.training.sde == model_->config().training.sde;
        if (!fits_)
            reason = tr("%1 was trained for %2 x %3 x %4 images of the %5; the model differs")
                         .arg(classifierName_)
                         .arg(config.data.numChannels)
                         .arg(config.data.imageSize)
                         .arg(config.data.imageSize)
                         .arg(QString::fromStdString(config.training.sde));
    }
    if (classifier_ && class_->count() != classifier_->config().numClasses) {
        class_->clear();
        const auto &names = classifier_->config().classNames;
        for (int64_t i = 0; i < classifier_->config().numClasses; ++i)
            class_->addItem(i < static_cast<int64_t>(names.size())
                                ? QString::fromStdString(names[static_cast<size_t>(i)])
                                : tr("class %1").arg(i));
    }
    enabled_->setEnabled(fits_);
    class_->setEnabled(active());
    guidance_->setEnabled(active());
    info_->setText(fits_ ? tr("classifier: %1").arg(classifierName_) : reason);
}

} // namespace sde::ui
