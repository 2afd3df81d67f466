#pragma once

#include "io/classifier_file.h"
#include "model/score_model.h"

#include <QWidget>

#include <memory>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;

namespace sde::ui {

// Class-conditional generation in the Generate workspace: a noise-conditional classifier (the
// bundled Fashion-MNIST one by default, or a file), the class by name and the guidance scale.
// Enabled when the classifier fits the loaded model (size, channels, SDE).
class ClassPanel : public QWidget {
    Q_OBJECT
public:
    explicit ClassPanel(QWidget *parent = nullptr);

    // Follows the loaded model; loads the bundled classifier when it fits and none is loaded.
    void setModel(const ScoreModel *model);
    bool loadClassifier(const QString &nameOrPath);
    // On, with a classifier that fits the model.
    bool active() const;
    std::shared_ptr<LoadedClassifier> classifier() const { return classifier_; }
    QString classifierName() const { return classifierName_; }
    int64_t classIndex() const;
    QString className() const;
    void setClassIndex(int64_t index);
    double guidance() const;
    void setActive(bool on);

Q_SIGNALS:
    void errorOccurred(const QString &message);

private:
    void updateState();

    const ScoreModel *model_ = nullptr;
    std::shared_ptr<LoadedClassifier> classifier_;
    QString classifierName_;
    bool fits_ = false;
    QCheckBox *enabled_;
    QComboBox *class_;
    QDoubleSpinBox *guidance_;
    QLabel *info_;
};

} // namespace sde::ui
