#include "image_view.h"

#include "studio_style.h"

#include <QMouseEvent>
#include <QPainter>

#include <algorithm>

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

namespace {

constexpr int kMargin = 4;     // around the image
constexpr int kCaptionGap = 3; // between the image and its caption

} // namespace

int ImageView::captionHeight() const
{
    return caption_.isEmpty() ? 0 : fontMetrics().height() + 4;
}

int ImageView::heightToFit(int width) const
{
    const int inner = std::max(1, width - 2 * kMargin);
    const int image = image_.isNull() || image_.width() <= 0 ? inner : inner * image_.height() / image_.width();
    return image + 2 * kMargin + captionHeight();
}

QRect ImageView::imageRect() const
{
    const QRect area = rect().adjusted(kMargin, kMargin, -kMargin, -kMargin - captionHeight());
    if (image_.isNull())
        return area;
    // At the top of the area, centred across it (the studio's picture alignment, studio_style.h).
    const QSize target = image_.size().scaled(area.size(), Qt::KeepAspectRatio);
    return {QPoint(area.center().x() - target.width() / 2, area.top()), target};
}

QRect ImageView::captionRect() const
{
    if (caption_.isEmpty())
        return {};
    // Right under the image (under the empty area without one).
    return {0, imageRect().bottom() + kCaptionGap, width(), captionHeight()};
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
    if (!caption_.isEmpty()) {
        painter.setPen(captionColor(palette()));
        painter.drawText(captionRect(), Qt::AlignCenter, caption_);
    }
}

} // namespace sde::ui
