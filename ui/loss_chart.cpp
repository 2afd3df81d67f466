#include "loss_chart.h"

#include "qcustomplot_include.h"
#include "studio_style.h"

#include <QVBoxLayout>

#include <cmath>

namespace sde::ui {

LossChart::LossChart(QWidget *parent) : QWidget(parent), plot_(new QCustomPlot(this))
{
    gpuAxis_ = plot_->axisRect()->addAxis(QCPAxis::atRight);
    plot_->setObjectName("lossChart");
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(plot_);
    applyPlotPalette(plot_, palette());
    plot_->xAxis->setLabel(tr("step"));
    plot_->yAxis->setLabel(tr("loss"));
    plot_->yAxis->setScaleType(QCPAxis::stLogarithmic);
    plot_->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
    plot_->yAxis2->setVisible(true);
    plot_->yAxis2->setLabel(tr("learning rate"));
    loss_ = plot_->addGraph();
    loss_->setName(tr("loss"));
    loss_->setPen(QPen(QColor(90, 150, 230, 140), 1));
    smoothed_ = plot_->addGraph();
    smoothed_->setName(tr("smoothed (EMA 0.98)"));
    smoothed_->setPen(QPen(QColor(240, 120, 40), 2));
    learningRate_ = plot_->addGraph(plot_->xAxis, plot_->yAxis2);
    learningRate_->setName(tr("learning rate"));
    learningRate_->setPen(QPen(QColor(120, 190, 90), 1, Qt::DashLine));
    gpuAxis_->setLabel(tr("GPU memory (MiB)"));
    gpuMemory_ = plot_->addGraph(plot_->xAxis, gpuAxis_);
    gpuMemory_->setName(tr("peak GPU memory"));
    gpuMemory_->setPen(QPen(QColor(170, 110, 200), 1, Qt::DotLine));
    plot_->legend->setVisible(true);
    // The legend in a row of its own above the plot, so that it covers none of the curves.
    plot_->axisRect()->insetLayout()->take(plot_->legend);
    plot_->plotLayout()->insertRow(0);
    plot_->plotLayout()->addElement(0, 0, plot_->legend);
    plot_->plotLayout()->setRowStretchFactor(0, 0.001);
    plot_->legend->setFillOrder(QCPLegend::foColumnsFirst);
    plot_->legend->setBorderPen(Qt::NoPen);
    plot_->legend->setBrush(Qt::NoBrush);
    plot_->legend->setMargins(QMargins(4, 2, 4, 2));
    plot_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    clear();
}

void LossChart::clear()
{
    loss_->data()->clear();
    smoothed_->data()->clear();
    learningRate_->data()->clear();
    gpuMemory_->data()->clear();
    gpuMemory_->removeFromLegend();
    gpuAxis_->setVisible(false);
    lowest_ = highest_ = lastStep_ = highestRate_ = highestGpuMemory_ = 0.0;
    plot_->xAxis->setRange(0, 100);
    plot_->yAxis->setRange(1e-3, 1.0);
    plot_->yAxis2->setRange(0, 1e-3);
    replot();
}

void LossChart::replot()
{
    // A plot not on screen yet has no paint buffer to draw into; showEvent draws it then.
    if (plot_->isVisible() && plot_->width() > 0 && plot_->height() > 0)
        plot_->replot(QCustomPlot::rpQueuedReplot);
}

void LossChart::showEvent(QShowEvent *event)
{
    QWidget::showEvent(event);
    plot_->replot(QCustomPlot::rpQueuedReplot);
}

void LossChart::addMetrics(const TrainingMetrics &metrics)
{
    const double step = static_cast<double>(metrics.step);
    // A resumed run may repeat steps already drawn: they are dropped, not drawn twice.
    if (pointCount() > 0 && step <= lastStep_)
        return;
    lastStep_ = step;
    if (std::isfinite(metrics.loss) && metrics.loss > 0) {
        loss_->addData(step, metrics.loss);
        lowest_ = lowest_ > 0 ? std::min(lowest_, metrics.loss) : metrics.loss;
        highest_ = std::max(highest_, metrics.loss);
    }
    if (std::isfinite(metrics.emaLoss) && metrics.emaLoss > 0)
        smoothed_->addData(step, metrics.emaLoss);
    learningRate_->addData(step, metrics.learningRate);
    highestRate_ = std::max(highestRate_, metrics.learningRate);
    if (metrics.gpuMemoryMiB >= 0.0) {
        if (gpuMemory_->dataCount() == 0) {
            gpuAxis_->setVisible(true);
            gpuMemory_->addToLegend();
        }
        gpuMemory_->addData(step, metrics.gpuMemoryMiB);
        highestGpuMemory_ = std::max(highestGpuMemory_, metrics.gpuMemoryMiB);
        gpuAxis_->setRange(0, highestGpuMemory_ > 0 ? highestGpuMemory_ * 1.1 : 1.0);
    }
    plot_->xAxis->setRange(0, std::max(10.0, step * 1.05));
    if (lowest_ > 0)
        plot_->yAxis->setRange(lowest_ / 1.5, highest_ * 1.5);
    plot_->yAxis2->setRange(0, highestRate_ > 0 ? highestRate_ * 1.1 : 1e-3);
    replot();
}

int LossChart::pointCount() const
{
    return loss_->dataCount();
}

int LossChart::gpuMemoryPointCount() const
{
    return gpuMemory_->dataCount();
}

} // namespace sde::ui
