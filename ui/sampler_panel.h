#pragma once

#include "config/model_config.h"
#include "sampling/sampler_catalogue.h"
#include "sampling/sampling_settings.h"

#include <QWidget>

#include <optional>
#include <string>
#include <vector>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QSpinBox;
class QStackedWidget;

namespace sde::ui {

// The Generate settings: sampler (PC with predictor, corrector, SNR and corrector steps, the
// probability-flow ODE with its solver and tolerances, or a fast sampler - DPM-Solver++, EDM,
// DDIM, adaptive reverse SDE - with its evaluation budget and options), steps, seed (random or fixed, always
// shown, copyable), batch, temperature, device, the network's precision, and how often frames are
// recorded. Shows the
// number of score evaluations a run will take.
class SamplerPanel : public QWidget {
    Q_OBJECT
public:
    explicit SamplerPanel(QWidget *parent = nullptr);

    // The settings as set; with "random seed" on, a fresh seed is drawn (and shown) first.
    SamplingSettings takeSettings();
    // The settings shown, without drawing a seed.
    SamplingSettings settings() const;
    void setSettings(const SamplingSettings &settings);
    // A model's defaults: the fast default sampler (SamplingSettings::fastDefault) chosen, every
    // other sampler's page filled from the config (the PC page with its predictor, corrector and
    // steps); the seed and batch shown stay.
    void setModelDefaults(const ModelConfig &config);
    // The loaded model's own sampler as its config sets it (the reference's, "Config's sampler"
    // button), or the fast default ("Fast default" button); the seed and batch shown stay.
    void useConfigSampler();
    void useFastDefault();

    int frameEvery() const;
    void setFrameEvery(int k);
    QString deviceName() const;
    bool randomSeed() const;
    void setRandomSeed(bool random);
    uint64_t seed() const;

    // Last-used settings as one JSON string (kept in QSettings).
    QString saveState() const;
    void restoreState(const QString &state);

Q_SIGNALS:
    void changed();

private:
    // One row of the dock per knob of the sampler catalogue: a knob key of a section (pc, ode,
    // fast) has one field, shared by the samplers of that section that have it.
    struct KnobField {
        std::string section;
        const SamplerKnob *knob;
        QWidget *widget;
        class QFormLayout *form;
    };
    void addKnobField(const std::string &section, const SamplerKnob &knob, class QFormLayout *form);
    void readField(const KnobField &field, SamplingSettings &settings) const;
    void writeField(const KnobField &field, const SamplingSettings &settings);
    void updateVisibility();
    // The NFE budget's range: that of the fast sampler's steps, as evaluations.
    void updateBudgetRange();
    void updateEstimate();
    // Enables the precisions the chosen device evaluates in; falls back to float32.
    void updatePrecisions();
    void onEdited();
    QString methodId() const;
    // The settings shown replaced by `defaults`, keeping the seed and batch.
    void applyDefaults(SamplingSettings defaults);

    QComboBox *method_;
    QString methodShown_; // the sampler the frame interval was last set for
    QStackedWidget *pages_;
    std::vector<std::string> sections_; // the page of each section, in order
    std::vector<KnobField> fields_;
    class QFormLayout *fastForm_ = nullptr;
    QSpinBox *fastNfe_;
    QComboBox *device_, *precision_;
    QSpinBox *batch_, *frameEvery_;
    QLineEdit *seed_;
    QCheckBox *randomSeed_;
    QLabel *estimate_;
    int64_t modelScales_ = 1000;
    std::optional<ModelConfig> model_; // the loaded model's config, for the step floor
};

} // namespace sde::ui
