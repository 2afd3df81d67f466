#pragma once

#include "io/model_file.h"

#include <QWidget>

class QLabel;
class QListWidget;
class QPushButton;

namespace sde::ui {

// The loaded model (architecture, SDE, resolution, channels, parameters, EMA, device, file) and
// the bundled models with their cards; double-clicking one, or Open, asks to load it.
class ModelPanel : public QWidget {
    Q_OBJECT
public:
    explicit ModelPanel(QWidget *parent = nullptr);

    void showModel(const ScoreModel &model, const ModelFileInfo &info);
    QString summaryText() const;
    QListWidget *bundledList() const { return bundled_; }

Q_SIGNALS:
    void openRequested(const QString &path);
    void openDialogRequested();

private:
    QLabel *summary_;
    QListWidget *bundled_;
};

} // namespace sde::ui
