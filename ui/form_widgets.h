#pragma once

#include <QStringList>

class QComboBox;
class QDoubleSpinBox;
class QSpinBox;
class QWidget;

namespace sde::ui {

// Form fields with an objectName (tests and saved state find them by it).
QComboBox *makeCombo(QWidget *parent, const char *name, const QStringList &items);
QDoubleSpinBox *makeNumber(QWidget *parent, const char *name, double low, double high, double value, int decimals);
QSpinBox *makeInteger(QWidget *parent, const char *name, int low, int high, int value);

} // namespace sde::ui
