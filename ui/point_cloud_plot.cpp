#include "point_cloud_plot.h"

#include <QVBoxLayout>

#include "qcustomplot_include.h"
#include "studio_style.h"

namespace sde::ui {

namespace {

void setPoints(QCPGraph *graph, const torch::Tensor &points)
{
    torch::Tensor xy = points.reshape({points.size(0), -1}).to(torch::kCPU, torch::kFloat64).contiguous();
    QVector<double> x(static_cast<int>(xy.size(0))), y(static_cast<int>(xy.size(0)));
    const double *data = xy.data_ptr<double>();
    for (int i = 0; i < x.size(); ++i) {
        x[i] = data[2 * i];
        y[i] = data[2 * i + 1];
    }
    graph->setData(x, y, /*alreadySorted=*/false);
}

} // namespace

PointCloudPlot::PointCloudPlot(QWidget *parent) : QWidget(parent), plot_(new QCustomPlot(this))
{
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(plot_);
    plot_->setObjectName("pointCloudPlot");
    background_ = plot_->addGraph();
    background_->setLineStyle(QCPGraph::lsNone);
    background_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, QColor(120, 160, 220, 90), 3));
    background_->setName(tr("data"));
    particles_ = plot_->addGraph();
    particles_->setLineStyle(QCPGraph::lsNone);
    particles_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, QColor(210, 60, 30, 200), 3));
    particles_->setName(tr("particles"));
    plot_->xAxis->setRange(-5, 5);
    plot_->yAxis->setRange(-5, 5);
    plot_->legend->setVisible(true);
    applyPlotPalette(plot_, palette());
    plot_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    setMinimumSize(200, 200);
}

void PointCloudPlot::setBackground(const torch::Tensor &points)
{
    setPoints(background_, points);
    plot_->replot(QCustomPlot::rpQueuedReplot);
}

void PointCloudPlot::setParticles(const torch::Tensor &points)
{
    setPoints(particles_, points);
    plot_->replot(QCustomPlot::rpQueuedReplot);
}

int PointCloudPlot::particleCount() const
{
    return particles_->dataCount();
}

} // namespace sde::ui
