#include "form_widgets.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QSpinBox>

namespace sde::ui {

QComboBox *makeCombo(QWidget *parent, const char *name, const QStringList &items)
{
    auto *box = new QComboBox(parent);
    box->setObjectName(name);
    box->addItems(items);
    return box;
}

QDoubleSpinBox *makeNumber(QWidget *parent, const char *name, double low, double high, double value, int decimals)
{
    auto *box = new QDoubleSpinBox(parent);
    box->setObjectName(name);
    box->setRange(low, high);
    box->setDecimals(decimals);
    box->setValue(value);
    return box;
}

QSpinBox *makeInteger(QWidget *parent, const char *name, int low, int high, int value)
{
    auto *box = new QSpinBox(parent);
    box->setObjectName(name);
    box->setRange(low, high);
    box->setValue(value);
    return box;
}

} // namespace sde::ui
