#pragma once

#include <QLabel>
#include <QString>
#include <QStringList>

class QComboBox;
class QDoubleSpinBox;
class QSpinBox;
class QWidget;

namespace sde::ui {

// A one-line label that never widens the window: text longer than its width is cut with "…" and
// shown whole in the tooltip. For status lines whose text the program does not bound (a reason
// naming a path, an error message).
class ElidedLabel : public QLabel {
public:
    explicit ElidedLabel(QWidget *parent = nullptr);
    QSize minimumSizeHint() const override;

protected:
    void paintEvent(QPaintEvent *event) override;
    bool event(QEvent *event) override;

private:
    bool elided() const;
};

// Form fields with an objectName (tests and saved state find them by it).
QComboBox *makeCombo(QWidget *parent, const char *name, const QStringList &items);
QDoubleSpinBox *makeNumber(QWidget *parent, const char *name, double low, double high, double value, int decimals);
QSpinBox *makeInteger(QWidget *parent, const char *name, int low, int high, int value);

// Enables the items of a precision selector, whose item data are precision ids (precisionIds()),
// that the device named `deviceName` evaluates and trains in (precisionUnsupportedReason); the
// others are disabled with the reason as their tooltip, and a disabled choice falls back to the
// first item (float32). A name that no longer parses (a device that went away) counts as the CPU.
void allowPrecisions(QComboBox *precision, const QString &deviceName);

} // namespace sde::ui
