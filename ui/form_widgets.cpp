#include "form_widgets.h"

#include "nets/inference.h"
#include "util/device.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QHelpEvent>
#include <QPainter>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QToolTip>

namespace sde::ui {

ElidedLabel::ElidedLabel(QWidget *parent) : QLabel(parent)
{
    setSizePolicy(QSizePolicy::Preferred, QSizePolicy::Preferred);
    setWordWrap(false);
}

QSize ElidedLabel::minimumSizeHint() const
{
    return {fontMetrics().averageCharWidth() * 6, QLabel::minimumSizeHint().height()};
}

bool ElidedLabel::elided() const
{
    return fontMetrics().horizontalAdvance(text()) > contentsRect().width();
}

bool ElidedLabel::event(QEvent *event)
{
    // A cut text shows whole as the tooltip (unless the label has a tooltip of its own).
    if (event->type() == QEvent::ToolTip && toolTip().isEmpty() && elided()) {
        QToolTip::showText(static_cast<QHelpEvent *>(event)->globalPos(), text(), this);
        return true;
    }
    return QLabel::event(event);
}

void ElidedLabel::paintEvent(QPaintEvent *event)
{
    if (!elided()) { // the label's own painting: a selection shows
        QLabel::paintEvent(event);
        return;
    }
    QPainter painter(this);
    const QRect area = contentsRect();
    const QString shown = fontMetrics().elidedText(text(), Qt::ElideRight, area.width());
    painter.setPen(palette().color(isEnabled() ? QPalette::Active : QPalette::Disabled, foregroundRole()));
    painter.drawText(area, static_cast<int>(alignment() | Qt::TextSingleLine), shown);
}

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

void allowPrecisions(QComboBox *precision, const QString &deviceName)
{
    torch::Device device(torch::kCPU);
    try {
        device = parseDevice(deviceName.toStdString());
    } catch (const std::exception &) {
        // A device that went away: judge by the CPU.
    }
    auto *items = qobject_cast<QStandardItemModel *>(precision->model());
    for (int i = 0; i < precision->count(); ++i) {
        const std::string reason =
            precisionUnsupportedReason(precisionFromId(precision->itemData(i).toString().toStdString()), device);
        if (items)
            items->item(i)->setEnabled(reason.empty());
        precision->setItemData(i, reason.empty() ? QVariant() : QVariant(QString::fromStdString(reason)),
                               Qt::ToolTipRole);
        if (!reason.empty() && precision->currentIndex() == i)
            precision->setCurrentIndex(0);
    }
}

} // namespace sde::ui
