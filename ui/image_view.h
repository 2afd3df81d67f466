#pragma once

#include <QImage>
#include <QString>
#include <QWidget>

namespace sde::ui {

// Shows an image scaled to fit, aspect kept; small images are enlarged with square pixels so a
// 28 x 28 sample stays crisp. An optional caption is drawn under it.
class ImageView : public QWidget {
    Q_OBJECT
public:
    explicit ImageView(QWidget *parent = nullptr);

    void setImage(const QImage &image);
    const QImage &image() const { return image_; }
    void setCaption(const QString &caption);
    void setPlaceholder(const QString &text);

    QSize sizeHint() const override { return {256, 256}; }

protected:
    void paintEvent(QPaintEvent *event) override;

private:
    QImage image_;
    QString caption_;
    QString placeholder_;
};

} // namespace sde::ui
