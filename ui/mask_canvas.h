#pragma once

#include <QImage>
#include <QPointF>
#include <QWidget>

#include <torch/torch.h>

class QUndoStack;

namespace sde::ui {

// An image with a mask painted over it, for inpainting. The mask has the image's size, one byte a
// pixel: 0 keeps the pixel, 255 fills it, values between blend the filled pixel into the kept one
// (a soft brush edge). The brush is sized in image pixels: a pixel whose centre lies within
// size / 2 of the stroke is painted fully when the hardness is 1; with a lower hardness the value
// falls linearly from radius * hardness to the radius. Each stroke (press to release), invert and
// clear is one step of the undo stack. Wheel zooms about the cursor, the middle button (or Space
// with the left button) pans.
class MaskCanvas : public QWidget {
    Q_OBJECT
public:
    enum class Tool { Brush, Eraser };

    explicit MaskCanvas(QWidget *parent = nullptr);

    // A new image clears the mask and the undo history.
    void setImage(const QImage &image);
    const QImage &image() const { return image_; }
    bool hasImage() const { return !image_.isNull(); }
    const QImage &mask() const { return mask_; }
    // Replaces the mask (an undoable step); it must have the image's size.
    void setMask(const QImage &mask);
    // The mask as a tensor [1, H, W] in [0, 1].
    torch::Tensor maskTensor() const;
    bool maskIsEmpty() const;

    QUndoStack *undoStack() const { return undo_; }
    Tool tool() const { return tool_; }
    void setTool(Tool tool);
    double brushSize() const { return brushSize_; }
    void setBrushSize(double pixels);
    double hardness() const { return hardness_; }
    void setHardness(double hardness);
    double overlayOpacity() const { return opacity_; }
    void setOverlayOpacity(double opacity);

    double zoom() const { return zoom_; }
    // Image coordinates (pixels, continuous) of a widget position, and back.
    QPointF toImage(const QPointF &widgetPos) const;
    QPointF toWidget(const QPointF &imagePos) const;

    QSize sizeHint() const override { return {480, 480}; }

public Q_SLOTS:
    void invertMask();
    void clearMask();
    void fitToWindow();
    void actualSize();

Q_SIGNALS:
    void maskChanged();
    void toolChanged();
    void viewChanged();

protected:
    void paintEvent(QPaintEvent *event) override;
    void mousePressEvent(QMouseEvent *event) override;
    void mouseMoveEvent(QMouseEvent *event) override;
    void mouseReleaseEvent(QMouseEvent *event) override;
    void wheelEvent(QWheelEvent *event) override;
    void keyPressEvent(QKeyEvent *event) override;
    void keyReleaseEvent(QKeyEvent *event) override;
    void resizeEvent(QResizeEvent *event) override;
    void leaveEvent(QEvent *event) override;

private:
    friend class MaskEdit;
    void paintSegment(const QPointF &from, const QPointF &to);
    void applyMask(const QImage &mask); // without an undo step
    void pushEdit(const QImage &before, const QString &text);

    QImage image_;
    QImage mask_;
    QImage strokeStart_;
    QUndoStack *undo_;
    Tool tool_ = Tool::Brush;
    double brushSize_ = 6.0;
    double hardness_ = 1.0;
    double opacity_ = 0.5;
    double zoom_ = 1.0;
    QPointF offset_;
    bool fitted_ = true; // follows the window's size until the user zooms
    bool painting_ = false, panning_ = false, spaceHeld_ = false;
    QPointF lastImagePos_, panStart_, offsetAtPanStart_;
    QPointF cursor_{-1, -1};
};

} // namespace sde::ui
