#pragma once

#include "train/trainer.h"

#include <QWidget>

class QCustomPlot;
class QCPGraph;
class QCPAxis;

namespace sde::ui {

// The live curves of a training run: the loss of each metrics record and its smoothed value on a
// log scale, the learning rate on the right-hand axis, and, for a run on a CUDA device, its peak
// GPU memory (MiB) on a second right-hand axis that appears with the first such record.
class LossChart : public QWidget {
    Q_OBJECT
public:
    explicit LossChart(QWidget *parent = nullptr);

    void clear();
    void addMetrics(const TrainingMetrics &metrics);
    int pointCount() const;
    int gpuMemoryPointCount() const;
    QCustomPlot *plot() const { return plot_; }

protected:
    void showEvent(QShowEvent *event) override;

private:
    void replot();

    QCustomPlot *plot_;
    QCPGraph *loss_, *smoothed_, *learningRate_, *gpuMemory_;
    QCPAxis *gpuAxis_;
    double lowest_ = 0.0, highest_ = 0.0, lastStep_ = 0.0, highestRate_ = 0.0, highestGpuMemory_ = 0.0;
};

} // namespace sde::ui
