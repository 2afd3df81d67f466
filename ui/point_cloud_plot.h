#pragma once

#include <QWidget>

#include <torch/torch.h>

class QCustomPlot;
class QCPGraph;

namespace sde::ui {

// A scatter of 2D particles (a toy model's samples moving along the reverse SDE) over a lighter
// scatter of the data distribution, with fixed axes so frames can be compared.
class PointCloudPlot : public QWidget {
    Q_OBJECT
public:
    explicit PointCloudPlot(QWidget *parent = nullptr);

    void setBackground(const torch::Tensor &points); // [N, 2]
    void setParticles(const torch::Tensor &points);  // [N, 2] or [N, 2, 1, 1]
    int particleCount() const;
    QCustomPlot *plot() const { return plot_; }

private:
    QCustomPlot *plot_;
    QCPGraph *background_;
    QCPGraph *particles_;
};

} // namespace sde::ui
