#include "sampler_panel.h"

#include "form_widgets.h"

#include "config/model_config.h"
#include "util/device.h"
#include "util/json_fields.h"

#include <QApplication>
#include <QCheckBox>
#include <QClipboard>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QRandomGenerator>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QStackedWidget>
#include <QStandardItemModel>
#include <QToolButton>
#include <QVBoxLayout>
#include <QValidator>

#include <algorithm>
#include <cmath>
#include <map>

#include <torch/torch.h>

namespace sde::ui {

namespace {

// Decimal seeds from 0 to 2^64 - 1, every one the CLI and the PNG records take (a regular
// expression cannot bound the value).
class SeedValidator : public QValidator {
public:
    using QValidator::QValidator;
    State validate(QString &input, int &) const override
    {
        if (input.isEmpty())
            return Intermediate;
        for (const QChar c : input)
            if (c < QLatin1Char('0') || c > QLatin1Char('9'))
                return Invalid;
        bool ok = false;
        input.toULongLong(&ok, 10);
        return ok ? Acceptable : Invalid;
    }
};

constexpr auto combo = makeCombo;
constexpr auto number = makeNumber;
constexpr auto integer = makeInteger;

// Knobs every sampler has: the dock shows them once, below the sampler's own rows.
bool isCommonKnob(const std::string &key)
{
    return key == "temperature" || key == "eps";
}

// The objectName of a knob's field (tests, screenshots and saved layouts find fields by it).
QString fieldName(const std::string &section, const std::string &key)
{
    static const std::map<std::pair<std::string, std::string>, QString> names{
        {{"pc", "corrector_steps"}, "correctorSteps"},
        {{"ode", "solver"}, "odeSolver"},
        {{"ode", "steps"}, "odeSteps"},
        {{"ode", "noise_removal"}, "odeNoiseRemoval"},
        {{"fast", "grid"}, "timeGrid"},
        {{"fast", "eta"}, "ddimEta"},
        {{"fast", "churn"}, "edmChurn"},
        {{"fast", "rho"}, "edmRho"},
        {{"fast", "rtol"}, "adaptiveRtol"},
        {{"fast", "atol"}, "adaptiveAtol"},
        {{"pc", "noise_removal"}, "pcNoiseRemoval"},
        {{"pc", "probability_flow"}, "probabilityFlow"},
    };
    if (auto it = names.find({section, key}); it != names.end())
        return it->second;
    return QString::fromStdString(key);
}

double smallestStep(int decimals)
{
    return std::pow(10.0, -decimals);
}

// The frame interval suggested for a sampler: each of a fast sampler's few steps; of the PC
// sampler's or the ODE's hundreds, one in ten.
int suggestedFrameEvery(const std::string &method)
{
    return isFastSolver(method) ? 1 : 10;
}

} // namespace

SamplerPanel::SamplerPanel(QWidget *parent)
    : QWidget(parent), method_(combo(this, "samplerMethod", {})), pages_(new QStackedWidget(this)),
      fastNfe_(integer(this, "fastNfe", 3, 100000, static_cast<int>(kDefaultFastNfe))),
      device_(combo(this, "device", {"cpu"})),
      precision_(combo(this, "precision", {tr("float32 (exact)"), tr("bfloat16 (faster)"), tr("float16 (CUDA)")})),
      batch_(integer(this, "batch", 1, static_cast<int>(kLargestBatch), 16)),
      frameEvery_(integer(this, "frameEvery", 1, 10000, 10)), seed_(new QLineEdit(this)),
      randomSeed_(new QCheckBox(tr("Random"), this)), estimate_(new QLabel(this))
{
    // The samplers and their rows come from core's catalogue: a new sampler or knob needs no
    // change here.
    for (const SamplerDescription &sampler : samplerCatalogue()) {
        method_->addItem(QString::fromStdString(sampler.title), QString::fromStdString(sampler.id));
        method_->setItemData(method_->count() - 1, QString::fromStdString(sampler.summary), Qt::ToolTipRole);
        if (std::find(sections_.begin(), sections_.end(), sampler.section) == sections_.end()) {
            sections_.push_back(sampler.section);
            auto *page = new QWidget(pages_);
            auto *form = new QFormLayout(page);
            form->setContentsMargins(0, 0, 0, 0);
            pages_->addWidget(page);
            if (sampler.section == "fast") {
                fastForm_ = form;
                form->addRow(tr("Budget (NFE)"), fastNfe_);
            }
        }
        const auto page = std::find(sections_.begin(), sections_.end(), sampler.section) - sections_.begin();
        auto *form = static_cast<QFormLayout *>(pages_->widget(static_cast<int>(page))->layout());
        for (const SamplerKnob &knob : sampler.knobs) {
            const bool budget = sampler.section == "fast" && knob.key == "steps"; // the NFE budget sets it
            const bool known = std::any_of(fields_.begin(), fields_.end(), [&](const KnobField &f) {
                return f.knob->key == knob.key && (f.section == sampler.section || isCommonKnob(knob.key));
            });
            if (!budget && !known)
                addKnobField(isCommonKnob(knob.key) ? std::string() : sampler.section, knob,
                             isCommonKnob(knob.key) ? nullptr : form);
        }
    }
    method_->setToolTip(tr("DPM-Solver++, EDM Heun and DDIM reach the quality of a 1000-step run in about 20 "
                           "evaluations; the adaptive reverse SDE chooses its own steps"));
    fastNfe_->setToolTip(tr("The most score evaluations the sampler may use: the steps are chosen to fit"));
    if (torch::cuda::is_available())
        for (int64_t i = 0; i < static_cast<int64_t>(torch::cuda::device_count()); ++i)
            device_->addItem(QString("cuda:%1").arg(i));
    for (int i = 0; i < precision_->count(); ++i)
        precision_->setItemData(i, QString::fromStdString(precisionIds().at(static_cast<size_t>(i))));
    precision_->setToolTip(tr("The number format of the score network. bfloat16 evaluates about 1.7x faster on "
                              "CPUs with AVX512-BF16; samples differ slightly from float32. The sampler's state "
                              "stays float32."));
    seed_->setObjectName("seed");
    seed_->setValidator(new SeedValidator(seed_));
    seed_->setText("0");
    seed_->setToolTip(
        tr("The seed of sample 1; sample i uses seed + i - 1. Always shown, so a result can be made again."));
    randomSeed_->setObjectName("randomSeed");
    randomSeed_->setToolTip(tr("Draw a new seed for every run"));
    auto *copySeed = new QToolButton(this);
    copySeed->setObjectName("copySeed");
    copySeed->setText(tr("Copy"));
    copySeed->setToolTip(tr("Copy the seed to the clipboard"));
    connect(copySeed, &QToolButton::clicked, this, [this] { QApplication::clipboard()->setText(seed_->text()); });
    estimate_->setObjectName("nfeEstimate");
    estimate_->setWordWrap(true);
    frameEvery_->setToolTip(tr("Record a frame (and update the live view) every k steps"));

    auto *seedRow = new QHBoxLayout;
    seedRow->addWidget(seed_, 1);
    seedRow->addWidget(copySeed);
    seedRow->addWidget(randomSeed_);
    // The two starting points one click away: the fast default and the config's own sampler.
    auto *fastDefault = new QToolButton(this);
    fastDefault->setObjectName("useFastDefault");
    fastDefault->setText(tr("Fast default"));
    fastDefault->setToolTip(tr("%1 on the Karras grid with %2 score evaluations: close to the reference sampler's "
                               "quality in a fraction of its time")
                                .arg(QString::fromStdString(fastSolverTitle(kDefaultFastSolver)))
                                .arg(kDefaultFastNfe));
    connect(fastDefault, &QToolButton::clicked, this, [this] { useFastDefault(); });
    auto *configSampler = new QToolButton(this);
    configSampler->setObjectName("useConfigSampler");
    configSampler->setText(tr("Config's sampler"));
    configSampler->setToolTip(tr("The sampler the model's config names (the PC sampler or the probability-flow ODE), "
                                 "as the reference implementation runs it: hundreds to thousands of evaluations, "
                                 "minutes on a CPU"));
    connect(configSampler, &QToolButton::clicked, this, [this] { useConfigSampler(); });
    auto *presetRow = new QHBoxLayout;
    presetRow->addWidget(fastDefault);
    presetRow->addWidget(configSampler);
    presetRow->addStretch(1);

    auto *form = new QFormLayout;
    form->addRow(tr("Sampler"), method_);
    form->addRow(QString(), presetRow);
    form->addRow(pages_);
    form->addRow(tr("Seed"), seedRow);
    form->addRow(tr("Batch"), batch_);
    for (const KnobField &field : fields_)
        if (field.section.empty())
            form->addRow(QString::fromStdString(field.knob->title), field.widget);
    form->addRow(tr("Device"), device_);
    form->addRow(tr("Precision"), precision_);
    form->addRow(tr("Frame every"), frameEvery_);
    form->addRow(tr("Evaluations"), estimate_);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addStretch(1);

    connect(device_, &QComboBox::currentIndexChanged, this, [this] { updatePrecisions(); });
    // The frame interval follows the sampler chosen while it holds the one suggested for the
    // sampler before (each of a fast sampler's few steps, one in ten of a 1000-step run); a value
    // typed stays.
    connect(method_, &QComboBox::currentIndexChanged, this, [this] {
        if (frameEvery_->value() == suggestedFrameEvery(methodShown_.toStdString()))
            frameEvery_->setValue(suggestedFrameEvery(methodId().toStdString()));
        methodShown_ = methodId();
    });
    for (QComboBox *box : {method_, device_, precision_})
        connect(box, &QComboBox::currentIndexChanged, this, [this] { onEdited(); });
    for (QSpinBox *box : {batch_, frameEvery_, fastNfe_})
        connect(box, &QSpinBox::valueChanged, this, [this] { onEdited(); });
    connect(seed_, &QLineEdit::textChanged, this, [this] { Q_EMIT changed(); });
    methodShown_ = methodId();
    updatePrecisions();
    updateVisibility();
    updateEstimate();
}

void SamplerPanel::addKnobField(const std::string &section, const SamplerKnob &knob, QFormLayout *form)
{
    const QString name = fieldName(section, knob.key);
    const QByteArray objectName = name.toUtf8();
    QWidget *widget = nullptr;
    switch (knob.kind) {
    case KnobKind::Integer: {
        auto *box = integer(this, objectName.constData(), static_cast<int>(knob.minimum),
                            static_cast<int>(knob.maximum), static_cast<int>(knob.defaultValue));
        connect(box, &QSpinBox::valueChanged, this, [this] { onEdited(); });
        widget = box;
        break;
    }
    case KnobKind::Real: {
        const double low = knob.minimumOpen ? knob.minimum + smallestStep(knob.decimals) : knob.minimum;
        auto *box = number(this, objectName.constData(), knob.zeroMeansDefault ? 0.0 : low, knob.maximum,
                           knob.defaultValue, knob.decimals);
        if (knob.zeroMeansDefault)
            box->setSpecialValueText(tr("default"));
        connect(box, &QDoubleSpinBox::valueChanged, this, [this] { onEdited(); });
        widget = box;
        break;
    }
    case KnobKind::Flag: {
        auto *box = new QCheckBox(this);
        box->setObjectName(name);
        box->setChecked(knob.defaultValue != 0.0);
        connect(box, &QCheckBox::toggled, this, [this] { onEdited(); });
        widget = box;
        break;
    }
    case KnobKind::Choice: {
        auto *box = combo(this, objectName.constData(), {});
        for (size_t i = 0; i < knob.choices.size(); ++i)
            box->addItem(QString::fromStdString(i < knob.choiceTitles.size() ? knob.choiceTitles[i] : knob.choices[i]),
                         QString::fromStdString(knob.choices[i]));
        box->setCurrentIndex(std::max(0, box->findData(QString::fromStdString(knob.defaultChoice))));
        connect(box, &QComboBox::currentIndexChanged, this, [this] { onEdited(); });
        widget = box;
        break;
    }
    }
    widget->setToolTip(QString::fromStdString(knob.help));
    if (form)
        form->addRow(QString::fromStdString(knob.title), widget);
    fields_.push_back({section, &knob, widget, form});
}

void SamplerPanel::onEdited()
{
    updateVisibility();
    updateEstimate();
    Q_EMIT changed();
}

void SamplerPanel::readField(const KnobField &field, SamplingSettings &s) const
{
    // A common knob goes to every sampler's options; a section's knob to that section's.
    const auto write = [&](const SamplerKnob &knob) {
        switch (knob.kind) {
        case KnobKind::Integer:
            knob.setNumber(s, static_cast<QSpinBox *>(field.widget)->value());
            break;
        case KnobKind::Real:
            knob.setNumber(s, static_cast<QDoubleSpinBox *>(field.widget)->value());
            break;
        case KnobKind::Flag:
            knob.setNumber(s, static_cast<QCheckBox *>(field.widget)->isChecked() ? 1.0 : 0.0);
            break;
        case KnobKind::Choice:
            knob.setChoice(s, static_cast<QComboBox *>(field.widget)->currentData().toString().toStdString());
            break;
        }
    };
    for (const SamplerDescription &sampler : samplerCatalogue())
        if (field.section.empty() || sampler.section == field.section)
            if (const SamplerKnob *knob = findKnob(sampler, field.knob->key))
                write(*knob);
}

void SamplerPanel::writeField(const KnobField &field, const SamplingSettings &s)
{
    const SamplerKnob &knob = *field.knob;
    const QSignalBlocker blocker(field.widget);
    if (knob.kind == KnobKind::Choice) {
        auto *box = static_cast<QComboBox *>(field.widget);
        box->setCurrentIndex(std::max(0, box->findData(QString::fromStdString(knob.choice(s)))));
        return;
    }
    const double value = knob.number(s);
    if (knob.kind == KnobKind::Integer && knob.zeroMeansDefault && value == 0.0)
        return; // the field keeps the model's default it shows
    switch (knob.kind) {
    case KnobKind::Integer:
        static_cast<QSpinBox *>(field.widget)->setValue(static_cast<int>(value));
        break;
    case KnobKind::Real:
        static_cast<QDoubleSpinBox *>(field.widget)->setValue(value);
        break;
    case KnobKind::Flag:
        static_cast<QCheckBox *>(field.widget)->setChecked(value != 0.0);
        break;
    case KnobKind::Choice:
        break;
    }
}

QString SamplerPanel::methodId() const
{
    return method_->currentData().toString();
}

void SamplerPanel::updateBudgetRange()
{
    const std::string id = methodId().toStdString();
    if (!isFastSolver(id))
        return;
    const auto [fewest, most] = plannedNfeRange(id);
    if (most == 0)
        return; // the adaptive sampler plans no budget
    const QSignalBlocker blocker(fastNfe_);
    fastNfe_->setRange(static_cast<int>(fewest), static_cast<int>(most));
}

void SamplerPanel::updateVisibility()
{
    const SamplerDescription *sampler = findSampler(methodId().toStdString());
    if (!sampler)
        return;
    updateBudgetRange();
    const auto page = std::find(sections_.begin(), sections_.end(), sampler->section) - sections_.begin();
    pages_->setCurrentIndex(static_cast<int>(page));
    // The stack takes the height of the page in view only, so the rows below follow it.
    for (int i = 0; i < pages_->count(); ++i)
        pages_->widget(i)->setSizePolicy(QSizePolicy::Preferred,
                                         i == pages_->currentIndex() ? QSizePolicy::Preferred : QSizePolicy::Ignored);
    pages_->adjustSize();
    const SamplingSettings s = settings();
    for (const KnobField &field : fields_) {
        if (!field.form)
            continue;
        const SamplerKnob *knob = findKnob(*sampler, field.knob->key);
        field.form->setRowVisible(field.widget,
                                  field.section == sampler->section && knob != nullptr && knob->appliesTo(s));
    }
    fastForm_->setRowVisible(fastNfe_, sampler->section == "fast" && !sampler->adaptive);
}

void SamplerPanel::updatePrecisions()
{
    allowPrecisions(precision_, deviceName());
}

void SamplerPanel::updateEstimate()
{
    const SamplingSettings s = settings();
    const SamplerDescription *sampler = findSampler(s.method);
    if (!sampler)
        return;
    QString text;
    if (sampler->adaptive && sampler->section == "fast") {
        text = tr("adaptive (set by the tolerances: typically 100 to 400)");
    } else if (sampler->section == "fast") {
        text = QString::number(plannedNfe(s.method, s.fast.steps));
    } else if (s.method == "ode") {
        if (s.ode.ode.method == OdeMethod::Rk45)
            text = tr("adaptive (RK45: typically 100 to 300)");
        else
            text = QString::number(s.ode.ode.steps * (s.ode.ode.method == OdeMethod::Heun ? 2 : 1));
    } else {
        const int64_t perStep =
            (s.pc.predictor != "none" ? 1 : 0) + (s.pc.corrector != "none" ? s.pc.correctorSteps : 0);
        text = QString::number(static_cast<qint64>(s.pc.steps * perStep));
        // Below the DDPM schedule's floor the sampler refuses: say so before the run.
        if (model_) {
            const int64_t least = minimumPcSteps(*model_, s.pc);
            if (s.pc.steps < least) {
                estimate_->setText(tr("%1 score evaluations; this model needs at least %2 steps with this "
                                      "predictor and corrector (or euler_maruyama without a corrector)")
                                       .arg(text)
                                       .arg(least));
                return;
            }
        }
    }
    estimate_->setText(tr("%1 score evaluations").arg(text));
}

SamplingSettings SamplerPanel::settings() const
{
    SamplingSettings s;
    s.method = methodId().toStdString();
    for (const KnobField &field : fields_)
        readField(field, s);
    if (isFastSolver(s.method)) {
        s.fast.solver = s.method;
        s.fast.steps = stepsForNfe(s.method, fastNfe_->value());
    }
    s.precision = precisionFromId(precision_->currentData().toString().toStdString());
    s.seed = seed();
    s.batch = batch_->value();
    return s;
}

SamplingSettings SamplerPanel::takeSettings()
{
    if (randomSeed_->isChecked())
        seed_->setText(QString::number(QRandomGenerator::global()->bounded(static_cast<quint64>(1000000000))));
    return settings();
}

void SamplerPanel::setSettings(const SamplingSettings &s)
{
    const int index = method_->findData(QString::fromStdString(s.method));
    {
        const QSignalBlocker blocker(method_);
        method_->setCurrentIndex(index >= 0 ? index : 0);
    }
    methodShown_ = methodId();
    const std::string section = samplerDescription(methodId().toStdString()).section;
    if (isFastSolver(s.method)) {
        updateBudgetRange();
        const QSignalBlocker blocker(fastNfe_);
        fastNfe_->setValue(static_cast<int>(plannedNfe(s.method, s.fast.steps)));
    }
    // The settings' own sampler's rows and the common ones; other samplers keep what they show.
    for (const KnobField &field : fields_)
        if (field.section.empty() || field.section == section)
            writeField(field, s);
    const int precision = precision_->findData(QString::fromStdString(precisionId(s.precision)));
    const auto *items = qobject_cast<const QStandardItemModel *>(precision_->model());
    const bool usable = precision >= 0 && (!items || items->item(precision)->isEnabled());
    precision_->setCurrentIndex(usable ? precision : 0);
    seed_->setText(QString::number(s.seed));
    batch_->setValue(static_cast<int>(s.batch));
    onEdited();
}

void SamplerPanel::setModelDefaults(const ModelConfig &config)
{
    // A point model draws a cloud of points; an image model after one, a grid again.
    const bool wasPoints = model_ && model_->isPointModel();
    if (config.isPointModel() && batch_->value() < kPointCloudSamples)
        batch_->setValue(static_cast<int>(kPointCloudSamples));
    else if (!config.isPointModel() && wasPoints && batch_->value() == kPointCloudSamples)
        batch_->setValue(static_cast<int>(kImagePreviewSamples));
    modelScales_ = config.model.numScales;
    model_ = config;
    applyDefaults(SamplingSettings::fastDefault(config));
}

void SamplerPanel::useConfigSampler()
{
    if (model_)
        applyDefaults(SamplingSettings::fromConfig(*model_));
}

void SamplerPanel::useFastDefault()
{
    if (model_)
        applyDefaults(SamplingSettings::fastDefault(*model_));
}

void SamplerPanel::applyDefaults(SamplingSettings defaults)
{
    defaults.seed = seed();
    defaults.batch = batch_->value();
    if (defaults.pc.steps <= 0)
        defaults.pc.steps = modelScales_;
    // Every sampler's page shows the model's values (the PC page the config's predictor,
    // corrector and steps), not only the chosen one's: setSettings writes that one's alone.
    for (const KnobField &field : fields_)
        if (!field.section.empty())
            writeField(field, defaults);
    frameEvery_->setValue(suggestedFrameEvery(defaults.method));
    setSettings(defaults);
}

int SamplerPanel::frameEvery() const
{
    return frameEvery_->value();
}
void SamplerPanel::setFrameEvery(int k)
{
    frameEvery_->setValue(k);
}
QString SamplerPanel::deviceName() const
{
    return device_->currentText();
}
bool SamplerPanel::randomSeed() const
{
    return randomSeed_->isChecked();
}
void SamplerPanel::setRandomSeed(bool random)
{
    randomSeed_->setChecked(random);
}
uint64_t SamplerPanel::seed() const
{
    return seed_->text().toULongLong();
}

QString SamplerPanel::saveState() const
{
    Json state = settings().toJson();
    state["frame_every"] = static_cast<int64_t>(frameEvery());
    state["random_seed"] = randomSeed();
    return QString::fromStdString(dumpJson(state));
}

void SamplerPanel::restoreState(const QString &text)
{
    try {
        const Json state = parseJson(text.toStdString());
        setSettings(SamplingSettings::fromJson(state));
        if (state.contains("frame_every"))
            setFrameEvery(static_cast<int>(json::getInt64(state, "frame_every")));
        if (state.contains("random_seed"))
            setRandomSeed(json::getBool(state, "random_seed"));
    } catch (const std::exception &) {
        // Settings of another version: keep the defaults.
    }
}

} // namespace sde::ui
