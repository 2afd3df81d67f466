#pragma once

#include "workspace.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QTableWidget;

namespace sde::ui {

class RunBar;

// Likelihood: bits/dim of images (files, a folder, or samples sent from Generate) through the
// probability-flow ODE, as the reference computes them, with each image's result and NFE as it
// finishes, progress over the images and Cancel within one ODE step.
class LikelihoodWorkspace : public Workspace {
    Q_OBJECT
public:
    LikelihoodWorkspace(SamplerPanel *sampler, QWidget *parent = nullptr);

    void setModel(std::shared_ptr<ScoreModel> model, const ModelFileInfo &info) override;
    bool openImageFile(const QString &path) override; // adds it to the list
    void addFiles(const QStringList &paths);
    // Adds the images of a folder and its subfolders; returns how many.
    int addFolder(const QString &folder);
    // An image given as a tensor [C, H, W] in [0, 1] (a generated sample).
    void addImage(const torch::Tensor &image, const QString &name);
    void clearImages();
    int imageCount() const { return static_cast<int>(entries_.size()); }

    RunBar *runBar() const { return runBar_; }
    QTableWidget *table() const { return table_; }
    // The bits/dim of entry i (negative until computed).
    double bitsPerDim(int index) const;
    // The table as CSV (image, bits/dim, NFE), written atomically.
    bool exportCsv(const QString &path);

public Q_SLOTS:
    void compute();

private:
    struct Entry {
        QString name, path; // path empty for an image held in memory
        torch::Tensor image;
        double bpd = -1.0;
        int64_t nfe = 0;
        QString conversion; // what was done to fit the file to the model (empty: read as it is)
        bool read = false;  // a file read for the model (at Compute); images in memory always are
    };
    void addEntry(Entry entry);
    void updateSummary();
    void showInput(int row); // the Input column of `row`: the conversion, "as is", or empty until read
    void updateReady();

    std::vector<Entry> entries_;
    double sdeEnd_ = 1.0; // T of the model being measured (the running images' status)
    QTableWidget *table_;
    RunBar *runBar_;
    QComboBox *probe_;
    QDoubleSpinBox *tolerance_;
    QCheckBox *dequantize_;
    QLabel *summary_;
};

} // namespace sde::ui
