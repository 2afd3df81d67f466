#include "image_view.h"

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

void ImageView::paintEvent(QPaintEvent *)
{
    QPainter painter(this);
    const int captionHeight = caption_.isEmpty() ? 0 : fontMetrics().height() + 4;
    const QRect area = rect().adjusted(4, 4, -4, -4 - captionHeight);
    if (image_.isNull()) {
        painter.setPen(palette().color(QPalette::PlaceholderText));
        painter.drawText(area, Qt::AlignCenter | Qt::TextWordWrap, placeholder_);
    } else {
        const QSize target = image_.size().scaled(area.size(), Qt::KeepAspectRatio);
        const QRect where(area.center() - QPoint(target.width() / 2, target.height() / 2), target);
        // Enlarged samples keep square pixels (no smoothing); reduced ones are filtered.
        painter.setRenderHint(QPainter::SmoothPixmapTransform, target.width() < image_.width());
        painter.drawImage(where, image_);
    }
    if (captionHeight > 0) {
        painter.setPen(palette().color(QPalette::WindowText));
        painter.drawText(QRect(0, height() - captionHeight, width(), captionHeight), Qt::AlignCenter, caption_);
    }
}

} // namespace sde::ui
