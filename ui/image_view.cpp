#include "image_view.h"

#include <QMouseEvent>
#include <QPainter>

namespace sde::ui {

ImageView::ImageView(QWidget *parent) : QWidget(parent)
{
    setMinimumSize(96, 96);
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
}

void ImageView::setImage(const QImage &image)
{
    image_ = image;
    update();
}

void ImageView::setCaption(const QString &caption)
{
    caption_ = caption;
    update();
}

void ImageView::setPlaceholder(const QString &text)
{
    placeholder_ = text;
    update();
}

void ImageView::setSelected(bool selected)
{
    selected_ = selected;
    update();
}

QRect ImageView::imageRect() const
{
    const int captionHeight = caption_.isEmpty() ? 0 : fontMetrics().height() + 4;
    const QRect area = rect().adjusted(4, 4, -4, -4 - captionHeight);
    if (image_.isNull())
        return area;
    const QSize target = image_.size().scaled(area.size(), Qt::KeepAspectRatio);
    return {area.center() - QPoint(target.width() / 2, target.height() / 2), target};
}

std::optional<QPoint> ImageView::imagePixelAt(const QPoint &widgetPos) const
{
    const QRect where = imageRect();
    if (image_.isNull() || !where.contains(widgetPos) || where.width() <= 0 || where.height() <= 0)
        return std::nullopt;
    const QPoint local = widgetPos - where.topLeft();
    return QPoint(std::min(image_.width() - 1, local.x() * image_.width() / where.width()),
                  std::min(image_.height() - 1, local.y() * image_.height() / where.height()));
}

void ImageView::mousePressEvent(QMouseEvent *event)
{
    if (event->button() == Qt::LeftButton)
        if (auto pixel = imagePixelAt(event->position().toPoint()))
            Q_EMIT clicked(*pixel);
    QWidget::mousePressEvent(event);
}

void ImageView::paintEvent(QPaintEvent *)
{
    QPainter painter(this);
    const int captionHeight = caption_.isEmpty() ? 0 : fontMetrics().height() + 4;
    const QRect where = imageRect();
    if (image_.isNull()) {
        painter.setPen(palette().color(QPalette::PlaceholderText));
        painter.drawText(where, Qt::AlignCenter | Qt::TextWordWrap, placeholder_);
    } else {
        // Enlarged samples keep square pixels (no smoothing); reduced ones are filtered.
        painter.setRenderHint(QPainter::SmoothPixmapTransform, where.width() < image_.width());
        painter.drawImage(where, image_);
        if (selected_) {
            painter.setPen(QPen(palette().color(QPalette::Highlight), 3));
            painter.drawRect(where.adjusted(-2, -2, 1, 1));
        }
    }
    if (captionHeight > 0) {
        painter.setPen(palette().color(QPalette::WindowText));
        painter.drawText(QRect(0, height() - captionHeight, width(), captionHeight), Qt::AlignCenter, caption_);
    }
}

} // namespace sde::ui
