#pragma once

#include "config/model_config.h"
#include "sampling/sampling_settings.h"

#include <QWidget>

#include <optional>

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
    // Defaults of a model's config (its sampler, its number of scales).
    void setModelDefaults(const ModelConfig &config);

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
    void updateVisibility();
    void updateEstimate();
    // Enables the precisions the chosen device evaluates in; falls back to float32.
    void updatePrecisions();

    QString methodId() const;

    QComboBox *method_;
    QStackedWidget *pages_;
    class QFormLayout *fastForm_;
    QSpinBox *fastNfe_;
    QDoubleSpinBox *eta_, *churn_, *rho_, *fastRtol_, *fastAtol_;
    QComboBox *grid_, *predictor_, *corrector_, *solver_, *device_, *precision_;
    QDoubleSpinBox *snr_, *temperature_, *rtol_, *atol_;
    QSpinBox *correctorSteps_, *steps_, *odeSteps_, *batch_, *frameEvery_;
    QLineEdit *seed_;
    QCheckBox *randomSeed_;
    QLabel *estimate_;
    int64_t modelScales_ = 1000;
    std::optional<ModelConfig> model_; // the loaded model's config, for the step floor
};

} // namespace sde::ui
