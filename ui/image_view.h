#pragma once

#include <QImage>
#include <QString>
#include <QWidget>

#include <optional>

namespace sde::ui {

// Shows an image scaled to fit, aspect kept, at the top of the widget and centred across it; small
// images are enlarged with square pixels so a 28 x 28 sample stays crisp. An optional caption is
// drawn right under it in the caption color (studio_style.h).
class ImageView : public QWidget {
    Q_OBJECT
public:
    explicit ImageView(QWidget *parent = nullptr);

    void setImage(const QImage &image);
    const QImage &image() const { return image_; }
    void setCaption(const QString &caption);
    void setPlaceholder(const QString &text);
    const QString &caption() const { return caption_; }
    const QString &placeholder() const { return placeholder_; }
    // A highlighted frame around the image (the chosen one of several variants).
    void setSelected(bool selected);
    bool isSelected() const { return selected_; }
    // Where the image is drawn, and the image pixel under a widget position (null when outside).
    QRect imageRect() const;
    // Where the caption is drawn (empty without one).
    QRect captionRect() const;
    // The height at which the image, drawn `width` pixels wide, fits with its margins and caption
    // (the image's aspect; square without an image).
    int heightToFit(int width) const;
    std::optional<QPoint> imagePixelAt(const QPoint &widgetPos) const;

    QSize sizeHint() const override { return {256, 256}; }

Q_SIGNALS:
    // A left click on the image, with the pixel under the cursor.
    void clicked(const QPoint &pixel);

protected:
    void paintEvent(QPaintEvent *event) override;
    void mousePressEvent(QMouseEvent *event) override;

private:
    int captionHeight() const; // 0 without a caption

    QImage image_;
    QString caption_;
    QString placeholder_;
    bool selected_ = false;
};

} // namespace sde::ui
