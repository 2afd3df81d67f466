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
#include <QRegularExpressionValidator>
#include <QSpinBox>
#include <QStackedWidget>
#include <QStandardItemModel>
#include <QToolButton>
#include <QVBoxLayout>

#include <torch/torch.h>

namespace sde::ui {

namespace {

constexpr auto combo = makeCombo;
constexpr auto number = makeNumber;
constexpr auto integer = makeInteger;

} // namespace

SamplerPanel::SamplerPanel(QWidget *parent)
    : QWidget(parent),
      method_(combo(this, "samplerMethod", {tr("Predictor-corrector (reverse SDE)"), tr("Probability-flow ODE")})),
      pages_(new QStackedWidget(this)), fastForm_(nullptr), fastNfe_(integer(this, "fastNfe", 3, 100000, 20)),
      eta_(number(this, "ddimEta", 0.0, 1.0, 0.0, 2)), churn_(number(this, "edmChurn", 0.0, 1000.0, 0.0, 2)),
      rho_(number(this, "edmRho", 0.5, 100.0, 7.0, 1)), fastRtol_(number(this, "adaptiveRtol", 1e-4, 1.0, 0.05, 4)),
      fastAtol_(number(this, "adaptiveAtol", 1e-5, 1.0, 0.0078, 4)), grid_(combo(this, "timeGrid", {})),
      predictor_(combo(this, "predictor", {"reverse_diffusion", "euler_maruyama", "ancestral_sampling", "none"})),
      corrector_(combo(this, "corrector", {"none", "langevin", "ald"})),
      solver_(combo(this, "odeSolver", {"rk45", "euler", "heun"})), device_(combo(this, "device", {"cpu"})),
      precision_(combo(this, "precision", {tr("float32 (exact)"), tr("bfloat16 (faster)"), tr("float16 (CUDA)")})),
      snr_(number(this, "snr", 0.001, 10.0, 0.16, 3)), temperature_(number(this, "temperature", 0.0, 10.0, 1.0, 2)),
      rtol_(number(this, "rtol", 1e-7, 1e-1, 1e-5, 7)), atol_(number(this, "atol", 1e-7, 1e-1, 1e-5, 7)),
      correctorSteps_(integer(this, "correctorSteps", 1, 100, 1)), steps_(integer(this, "steps", 1, 100000, 1000)),
      odeSteps_(integer(this, "odeSteps", 1, 100000, 100)), batch_(integer(this, "batch", 1, 1024, 16)),
      frameEvery_(integer(this, "frameEvery", 1, 10000, 10)), seed_(new QLineEdit(this)),
      randomSeed_(new QCheckBox(tr("Random"), this)), estimate_(new QLabel(this))
{
    method_->setItemData(0, "pc");
    method_->setItemData(1, "ode");
    for (const std::string &id : fastSolverIds())
        method_->addItem(QString::fromStdString(fastSolverTitle(id)), QString::fromStdString(id));
    method_->setToolTip(tr("DPM-Solver++, EDM Heun and DDIM reach the quality of a 1000-step run in about 20 "
                           "evaluations; the adaptive reverse SDE chooses its own steps"));
    fastNfe_->setToolTip(tr("The most score evaluations the sampler may use: the steps are chosen to fit"));
    for (const std::string &id : timeGridIds())
        grid_->addItem(QString::fromStdString(timeGridTitle(id)), QString::fromStdString(id));
    grid_->setCurrentIndex(grid_->findData(QString::fromStdString(FastSamplerOptions{}.grid)));
    grid_->setToolTip(tr("Where DPM-Solver++ places its steps: on EDM's sigma^(1/rho) grid, which spends more "
                         "of them at high noise and does better at 10 NFE or fewer, or uniform in log-SNR"));
    eta_->setToolTip(tr("DDIM's eta: 0 is deterministic, 1 adds the noise of ancestral sampling"));
    churn_->setToolTip(tr("EDM's stochastic churn S_churn: fresh noise at every step (0: deterministic)"));
    rho_->setToolTip(tr("The exponent of the sigma^(1/rho) grid: larger values take smaller steps at low noise"));
    fastRtol_->setToolTip(tr("Relative tolerance of the adaptive reverse-SDE solver"));
    fastAtol_->setToolTip(tr("Absolute tolerance of the adaptive reverse-SDE solver (in the model's range)"));
    if (torch::cuda::is_available())
        for (int64_t i = 0; i < static_cast<int64_t>(torch::cuda::device_count()); ++i)
            device_->addItem(QString("cuda:%1").arg(i));
    for (int i = 0; i < precision_->count(); ++i)
        precision_->setItemData(i, QString::fromStdString(precisionIds().at(static_cast<size_t>(i))));
    precision_->setToolTip(tr("The number format of the score network. bfloat16 evaluates about 1.7x faster on "
                              "CPUs with AVX512-BF16; samples differ slightly from float32. The sampler's state "
                              "stays float32."));
    seed_->setObjectName("seed");
    seed_->setValidator(new QRegularExpressionValidator(QRegularExpression("[0-9]{1,18}"), seed_));
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
    steps_->setToolTip(tr("Noise levels N of the reverse SDE (the model's num_scales by default)"));
    snr_->setToolTip(tr("Signal-to-noise ratio of the Langevin corrector"));
    frameEvery_->setToolTip(tr("Record a frame (and update the live view) every k steps"));
    temperature_->setToolTip(tr("Scales the prior sample: below 1 gives smoother, more typical samples"));
    rtol_->setToolTip(tr("RK45 relative tolerance"));
    atol_->setToolTip(tr("RK45 absolute tolerance"));

    auto *pcPage = new QWidget(pages_);
    auto *pc = new QFormLayout(pcPage);
    pc->setContentsMargins(0, 0, 0, 0);
    pc->addRow(tr("Predictor"), predictor_);
    pc->addRow(tr("Corrector"), corrector_);
    pc->addRow(tr("SNR"), snr_);
    pc->addRow(tr("Corrector steps"), correctorSteps_);
    pc->addRow(tr("Steps"), steps_);
    auto *odePage = new QWidget(pages_);
    auto *ode = new QFormLayout(odePage);
    ode->setContentsMargins(0, 0, 0, 0);
    ode->addRow(tr("Solver"), solver_);
    ode->addRow(tr("rtol"), rtol_);
    ode->addRow(tr("atol"), atol_);
    ode->addRow(tr("Steps (Euler, Heun)"), odeSteps_);
    auto *fastPage = new QWidget(pages_);
    fastForm_ = new QFormLayout(fastPage);
    fastForm_->setContentsMargins(0, 0, 0, 0);
    fastForm_->addRow(tr("Budget (NFE)"), fastNfe_);
    fastForm_->addRow(tr("Time grid"), grid_);
    fastForm_->addRow(tr("Eta"), eta_);
    fastForm_->addRow(tr("Churn"), churn_);
    fastForm_->addRow(tr("Rho"), rho_);
    fastForm_->addRow(tr("rtol"), fastRtol_);
    fastForm_->addRow(tr("atol"), fastAtol_);
    pages_->addWidget(pcPage);
    pages_->addWidget(odePage);
    pages_->addWidget(fastPage);

    auto *seedRow = new QHBoxLayout;
    seedRow->addWidget(seed_, 1);
    seedRow->addWidget(copySeed);
    seedRow->addWidget(randomSeed_);
    auto *form = new QFormLayout;
    form->addRow(tr("Sampler"), method_);
    form->addRow(pages_);
    form->addRow(tr("Seed"), seedRow);
    form->addRow(tr("Batch"), batch_);
    form->addRow(tr("Temperature"), temperature_);
    form->addRow(tr("Device"), device_);
    form->addRow(tr("Precision"), precision_);
    form->addRow(tr("Frame every"), frameEvery_);
    form->addRow(tr("Evaluations"), estimate_);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addStretch(1);

    connect(device_, &QComboBox::currentIndexChanged, this, [this] { updatePrecisions(); });
    for (QComboBox *box : {method_, grid_, predictor_, corrector_, solver_, device_, precision_})
        connect(box, &QComboBox::currentIndexChanged, this, [this] {
            updateVisibility();
            updateEstimate();
            Q_EMIT changed();
        });
    for (QSpinBox *box : {correctorSteps_, steps_, odeSteps_, batch_, frameEvery_, fastNfe_})
        connect(box, &QSpinBox::valueChanged, this, [this] {
            updateEstimate();
            Q_EMIT changed();
        });
    for (QDoubleSpinBox *box : {snr_, temperature_, rtol_, atol_, eta_, churn_, rho_, fastRtol_, fastAtol_})
        connect(box, &QDoubleSpinBox::valueChanged, this, [this] { Q_EMIT changed(); });
    connect(seed_, &QLineEdit::textChanged, this, [this] { Q_EMIT changed(); });
    updatePrecisions();
    updateVisibility();
    updateEstimate();
}

QString SamplerPanel::methodId() const
{
    return method_->currentData().toString();
}

void SamplerPanel::updateVisibility()
{
    const QString method = methodId();
    pages_->setCurrentIndex(method == "pc" ? 0 : method == "ode" ? 1 : 2);
    // The stack takes the height of the page in view only, so the rows below follow it.
    for (int i = 0; i < pages_->count(); ++i)
        pages_->widget(i)->setSizePolicy(QSizePolicy::Preferred,
                                         i == pages_->currentIndex() ? QSizePolicy::Preferred : QSizePolicy::Ignored);
    pages_->adjustSize();
    const bool adaptive = method == "adaptive";
    fastForm_->setRowVisible(fastNfe_, !adaptive);
    fastForm_->setRowVisible(eta_, method == "ddim");
    fastForm_->setRowVisible(churn_, method == "edm");
    const bool gridded = usesTimeGrid(method.toStdString());
    fastForm_->setRowVisible(grid_, gridded);
    fastForm_->setRowVisible(rho_, method == "edm" || (gridded && grid_->currentData().toString() == "karras"));
    fastForm_->setRowVisible(fastRtol_, adaptive);
    fastForm_->setRowVisible(fastAtol_, adaptive);
    const bool corrector = corrector_->currentText() != "none";
    snr_->setEnabled(corrector);
    correctorSteps_->setEnabled(corrector);
    const bool fixed = solver_->currentText() != "rk45";
    odeSteps_->setEnabled(fixed);
    rtol_->setEnabled(!fixed);
    atol_->setEnabled(!fixed);
}

void SamplerPanel::updatePrecisions()
{
    torch::Device device(torch::kCPU);
    try {
        device = parseDevice(deviceName().toStdString());
    } catch (const std::exception &) {
        // A device that went away: judge by the CPU.
    }
    auto *items = qobject_cast<QStandardItemModel *>(precision_->model());
    for (int i = 0; i < precision_->count(); ++i) {
        const std::string reason =
            precisionUnsupportedReason(precisionFromId(precision_->itemData(i).toString().toStdString()), device);
        if (items)
            items->item(i)->setEnabled(reason.empty());
        precision_->setItemData(i, reason.empty() ? QVariant() : QVariant(QString::fromStdString(reason)),
                                Qt::ToolTipRole);
        if (!reason.empty() && precision_->currentIndex() == i)
            precision_->setCurrentIndex(0);
    }
}

void SamplerPanel::updateEstimate()
{
    QString text;
    const std::string method = methodId().toStdString();
    if (method == "adaptive") {
        text = tr("adaptive (set by the tolerances: typically 100 to 400)");
    } else if (isFastSolver(method)) {
        text = QString::number(plannedNfe(method, stepsForNfe(method, fastNfe_->value())));
    } else if (method == "ode") {
        const QString solver = solver_->currentText();
        if (solver == "rk45")
            text = tr("adaptive (RK45: typically 100 to 300)");
        else
            text = QString::number(odeSteps_->value() * (solver == "heun" ? 2 : 1));
    } else {
        const int perStep = (predictor_->currentText() != "none" ? 1 : 0) +
                            (corrector_->currentText() != "none" ? correctorSteps_->value() : 0);
        text = QString::number(static_cast<qint64>(steps_->value()) * perStep);
        // Below the VP schedule's floor the sampler refuses: say so before the run.
        if (model_) {
            const int64_t least = minimumPcSteps(*model_, settings().pc);
            if (steps_->value() < least) {
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
    s.pc.predictor = predictor_->currentText().toStdString();
    s.pc.corrector = corrector_->currentText().toStdString();
    s.pc.snr = snr_->value();
    s.pc.correctorSteps = correctorSteps_->value();
    s.pc.steps = steps_->value();
    s.pc.temperature = temperature_->value();
    s.ode.ode.method = odeMethodFromName(solver_->currentText().toStdString());
    s.ode.ode.rtol = rtol_->value();
    s.ode.ode.atol = atol_->value();
    s.ode.ode.steps = odeSteps_->value();
    s.ode.temperature = temperature_->value();
    if (isFastSolver(s.method)) {
        s.fast.solver = s.method;
        s.fast.steps = stepsForNfe(s.method, fastNfe_->value());
    }
    s.fast.eta = eta_->value();
    s.fast.churn = churn_->value();
    s.fast.rho = rho_->value();
    s.fast.grid = grid_->currentData().toString().toStdString();
    s.fast.rtol = fastRtol_->value();
    s.fast.atol = fastAtol_->value();
    s.fast.temperature = temperature_->value();
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
    method_->setCurrentIndex(index >= 0 ? index : 0);
    if (isFastSolver(s.method)) {
        fastNfe_->setValue(static_cast<int>(std::max<int64_t>(3, plannedNfe(s.method, s.fast.steps))));
        eta_->setValue(s.fast.eta);
        churn_->setValue(s.fast.churn);
        rho_->setValue(s.fast.rho);
        grid_->setCurrentIndex(std::max(0, grid_->findData(QString::fromStdString(s.fast.grid))));
        fastRtol_->setValue(s.fast.rtol);
        fastAtol_->setValue(s.fast.atol);
    }
    predictor_->setCurrentText(QString::fromStdString(s.pc.predictor));
    corrector_->setCurrentText(QString::fromStdString(s.pc.corrector));
    snr_->setValue(s.pc.snr);
    correctorSteps_->setValue(static_cast<int>(s.pc.correctorSteps));
    if (s.pc.steps > 0)
        steps_->setValue(static_cast<int>(s.pc.steps));
    const char *solvers[] = {"rk45", "euler", "heun"};
    solver_->setCurrentText(solvers[static_cast<int>(s.ode.ode.method)]);
    rtol_->setValue(s.ode.ode.rtol);
    atol_->setValue(s.ode.ode.atol);
    odeSteps_->setValue(static_cast<int>(s.ode.ode.steps));
    temperature_->setValue(s.temperature());
    const int precision = precision_->findData(QString::fromStdString(precisionId(s.precision)));
    const auto *items = qobject_cast<const QStandardItemModel *>(precision_->model());
    const bool usable = precision >= 0 && (!items || items->item(precision)->isEnabled());
    precision_->setCurrentIndex(usable ? precision : 0);
    seed_->setText(QString::number(s.seed));
    batch_->setValue(static_cast<int>(s.batch));
}

void SamplerPanel::setModelDefaults(const ModelConfig &config)
{
    SamplingSettings defaults = SamplingSettings::fromConfig(config);
    defaults.seed = seed();
    defaults.batch = batch_->value();
    modelScales_ = config.model.numScales;
    model_ = config;
    if (defaults.pc.steps <= 0)
        defaults.pc.steps = modelScales_;
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
