#include "mask_canvas.h"

#include <QKeyEvent>
#include <QMouseEvent>
#include <QPainter>
#include <QUndoCommand>
#include <QUndoStack>
#include <QWheelEvent>

#include <algorithm>
#include <cmath>

namespace sde::ui {

// One change of the mask, stored as the masks before and after (images are small).
class MaskEdit : public QUndoCommand {
public:
    MaskEdit(MaskCanvas *canvas, QImage before, QImage after, const QString &text)
        : QUndoCommand(text), canvas_(canvas), before_(std::move(before)), after_(std::move(after))
    {}
    void undo() override { canvas_->applyMask(before_); }
    void redo() override { canvas_->applyMask(after_); }

private:
    MaskCanvas *canvas_;
    QImage before_, after_;
};

namespace {

double distanceToSegment(const QPointF &p, const QPointF &a, const QPointF &b)
{
    const QPointF ab = b - a, ap = p - a;
    const double length2 = QPointF::dotProduct(ab, ab);
    const double s = length2 > 0 ? std::clamp(QPointF::dotProduct(ap, ab) / length2, 0.0, 1.0) : 0.0;
    const QPointF d = ap - s * ab;
    return std::sqrt(QPointF::dotProduct(d, d));
}

} // namespace

MaskCanvas::MaskCanvas(QWidget *parent) : QWidget(parent), undo_(new QUndoStack(this))
{
    setObjectName("maskCanvas");
    setMouseTracking(true);
    setFocusPolicy(Qt::StrongFocus);
    setCursor(Qt::CrossCursor);
    setMinimumSize(160, 160);
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
}

void MaskCanvas::setImage(const QImage &image)
{
    image_ = image;
    mask_ = QImage(image.size(), QImage::Format_Grayscale8);
    mask_.fill(0);
    undo_->clear();
    fitted_ = true;
    fitToWindow();
    Q_EMIT maskChanged();
}

void MaskCanvas::setMask(const QImage &mask)
{
    if (mask.size() != image_.size())
        return;
    QImage before = mask_;
    applyMask(mask.convertToFormat(QImage::Format_Grayscale8));
    pushEdit(before, tr("Load mask"));
}

torch::Tensor MaskCanvas::maskTensor() const
{
    const int h = mask_.height(), w = mask_.width();
    torch::Tensor out = torch::empty({1, h, w}, torch::kUInt8);
    uint8_t *data = out.data_ptr<uint8_t>();
    for (int y = 0; y < h; ++y)
        std::memcpy(data + static_cast<size_t>(y) * w, mask_.constScanLine(y), static_cast<size_t>(w));
    return out.to(torch::kFloat32) / 255.0;
}

bool MaskCanvas::maskIsEmpty() const
{
    for (int y = 0; y < mask_.height(); ++y) {
        const uchar *row = mask_.constScanLine(y);
        if (std::any_of(row, row + mask_.width(), [](uchar v) { return v != 0; }))
            return false;
    }
    return true;
}

void MaskCanvas::setTool(Tool tool)
{
    tool_ = tool;
    Q_EMIT toolChanged();
}

void MaskCanvas::setBrushSize(double pixels)
{
    brushSize_ = std::clamp(pixels, 1.0, 512.0);
    update();
    Q_EMIT toolChanged();
}

void MaskCanvas::setHardness(double hardness)
{
    hardness_ = std::clamp(hardness, 0.0, 1.0);
    Q_EMIT toolChanged();
}

void MaskCanvas::setOverlayOpacity(double opacity)
{
    opacity_ = std::clamp(opacity, 0.0, 1.0);
    update();
}

QPointF MaskCanvas::toImage(const QPointF &widgetPos) const
{
    return (widgetPos - offset_) / zoom_;
}

QPointF MaskCanvas::toWidget(const QPointF &imagePos) const
{
    return imagePos * zoom_ + offset_;
}

void MaskCanvas::invertMask()
{
    if (!hasImage())
        return;
    QImage before = mask_, inverted = mask_;
    inverted.invertPixels();
    applyMask(inverted);
    pushEdit(before, tr("Invert mask"));
}

void MaskCanvas::clearMask()
{
    if (!hasImage() || maskIsEmpty())
        return;
    QImage before = mask_, cleared = mask_;
    cleared.fill(0);
    applyMask(cleared);
    pushEdit(before, tr("Clear mask"));
}

void MaskCanvas::fitToWindow()
{
    fitted_ = true;
    if (image_.isNull())
        return;
    const QRectF area = QRectF(rect()).adjusted(8, 8, -8, -8);
    zoom_ = std::max(0.01, std::min(area.width() / image_.width(), area.height() / image_.height()));
    offset_ = area.center() - QPointF(image_.width(), image_.height()) * zoom_ / 2.0;
    update();
    Q_EMIT viewChanged();
}

void MaskCanvas::actualSize()
{
    if (image_.isNull())
        return;
    fitted_ = false;
    const QPointF centre = toImage(QRectF(rect()).center());
    zoom_ = 1.0;
    offset_ = QRectF(rect()).center() - centre * zoom_;
    update();
    Q_EMIT viewChanged();
}

void MaskCanvas::applyMask(const QImage &mask)
{
    mask_ = mask;
    update();
    Q_EMIT maskChanged();
}

void MaskCanvas::pushEdit(const QImage &before, const QString &text)
{
    if (before == mask_)
        return;
    // The change is applied already; the command's first redo() sets the same mask again.
    undo_->push(new MaskEdit(this, before, mask_, text));
}

void MaskCanvas::paintSegment(const QPointF &from, const QPointF &to)
{
    const double radius = brushSize_ / 2.0;
    const double inner = radius * hardness_;
    const int x0 = std::max(0, static_cast<int>(std::floor(std::min(from.x(), to.x()) - radius)));
    const int x1 = std::min(mask_.width() - 1, static_cast<int>(std::ceil(std::max(from.x(), to.x()) + radius)));
    const int y0 = std::max(0, static_cast<int>(std::floor(std::min(from.y(), to.y()) - radius)));
    const int y1 = std::min(mask_.height() - 1, static_cast<int>(std::ceil(std::max(from.y(), to.y()) + radius)));
    for (int y = y0; y <= y1; ++y) {
        uchar *row = mask_.scanLine(y);
        for (int x = x0; x <= x1; ++x) {
            const double d = distanceToSegment(QPointF(x + 0.5, y + 0.5), from, to);
            double value = 0.0;
            if (d <= inner)
                value = 1.0;
            else if (d < radius)
                value = (radius - d) / (radius - inner);
            if (value <= 0.0)
                continue;
            const int level = static_cast<int>(std::lround(value * 255.0));
            row[x] = static_cast<uchar>(tool_ == Tool::Brush ? std::max<int>(row[x], level)
                                                             : std::min<int>(row[x], 255 - level));
        }
    }
    update();
}

void MaskCanvas::paintEvent(QPaintEvent *)
{
    QPainter painter(this);
    painter.fillRect(rect(), palette().color(QPalette::Base).darker(115));
    if (image_.isNull()) {
        painter.setPen(palette().color(QPalette::PlaceholderText));
        painter.drawText(rect(), Qt::AlignCenter | Qt::TextWordWrap,
                         tr("Open an image (or drop one here, or send a sample from Generate), then paint the "
                            "region to fill"));
        return;
    }
    const QRectF target(offset_, QSizeF(image_.size()) * zoom_);
    painter.setRenderHint(QPainter::SmoothPixmapTransform, zoom_ < 1.0);
    painter.drawImage(target, image_);
    // The mask as a red overlay whose alpha is the mask value times the opacity.
    QImage overlay(mask_.size(), QImage::Format_ARGB32_Premultiplied);
    for (int y = 0; y < mask_.height(); ++y) {
        const uchar *m = mask_.constScanLine(y);
        auto *out = reinterpret_cast<QRgb *>(overlay.scanLine(y));
        for (int x = 0; x < mask_.width(); ++x) {
            const int alpha = static_cast<int>(std::lround(m[x] * opacity_));
            out[x] = qPremultiply(qRgba(255, 40, 40, alpha));
        }
    }
    painter.drawImage(target, overlay);
    painter.setPen(QPen(palette().color(QPalette::Mid), 1));
    painter.drawRect(target.adjusted(-0.5, -0.5, 0.5, 0.5));
    if (cursor_.x() >= 0 && !panning_) {
        // The brush outline at its size in image pixels.
        const double r = brushSize_ / 2.0 * zoom_;
        painter.setRenderHint(QPainter::Antialiasing);
        painter.setPen(QPen(Qt::black, 2));
        painter.drawEllipse(cursor_, r, r);
        painter.setPen(QPen(tool_ == Tool::Brush ? Qt::white : QColor(120, 200, 255), 1));
        painter.drawEllipse(cursor_, r, r);
    }
}

void MaskCanvas::mousePressEvent(QMouseEvent *event)
{
    if (image_.isNull())
        return;
    const QPointF pos = event->position();
    if (event->button() == Qt::MiddleButton || (event->button() == Qt::LeftButton && spaceHeld_)) {
        panning_ = true;
        panStart_ = pos;
        offsetAtPanStart_ = offset_;
        setCursor(Qt::ClosedHandCursor);
        return;
    }
    if (event->button() != Qt::LeftButton)
        return;
    painting_ = true;
    strokeStart_ = mask_;
    lastImagePos_ = toImage(pos);
    paintSegment(lastImagePos_, lastImagePos_);
}

void MaskCanvas::mouseMoveEvent(QMouseEvent *event)
{
    const QPointF pos = event->position();
    cursor_ = pos;
    if (panning_) {
        fitted_ = false;
        offset_ = offsetAtPanStart_ + (pos - panStart_);
        Q_EMIT viewChanged();
    } else if (painting_) {
        const QPointF here = toImage(pos);
        paintSegment(lastImagePos_, here);
        lastImagePos_ = here;
    }
    update();
}

void MaskCanvas::mouseReleaseEvent(QMouseEvent *event)
{
    if (panning_ && (event->button() == Qt::MiddleButton || event->button() == Qt::LeftButton)) {
        panning_ = false;
        setCursor(Qt::CrossCursor);
        return;
    }
    if (painting_ && event->button() == Qt::LeftButton) {
        painting_ = false;
        pushEdit(strokeStart_, tool_ == Tool::Brush ? tr("Brush stroke") : tr("Eraser stroke"));
        Q_EMIT maskChanged();
    }
}

void MaskCanvas::wheelEvent(QWheelEvent *event)
{
    if (image_.isNull())
        return;
    const double steps = event->angleDelta().y() / 120.0;
    if (steps == 0)
        return;
    const QPointF anchor = event->position();
    const QPointF imagePos = toImage(anchor);
    zoom_ = std::clamp(zoom_ * std::pow(1.25, steps), 0.05, 200.0);
    offset_ = anchor - imagePos * zoom_;
    fitted_ = false;
    update();
    Q_EMIT viewChanged();
}

void MaskCanvas::keyPressEvent(QKeyEvent *event)
{
    if (event->key() == Qt::Key_Space && !event->isAutoRepeat()) {
        spaceHeld_ = true;
        setCursor(Qt::OpenHandCursor);
        return;
    }
    QWidget::keyPressEvent(event);
}

void MaskCanvas::keyReleaseEvent(QKeyEvent *event)
{
    if (event->key() == Qt::Key_Space && !event->isAutoRepeat()) {
        spaceHeld_ = false;
        setCursor(Qt::CrossCursor);
        return;
    }
    QWidget::keyReleaseEvent(event);
}

void MaskCanvas::resizeEvent(QResizeEvent *)
{
    if (fitted_)
        fitToWindow();
}

void MaskCanvas::leaveEvent(QEvent *)
{
    cursor_ = QPointF(-1, -1);
    update();
}

} // namespace sde::ui
