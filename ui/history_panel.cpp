#include "history_panel.h"

#include "tensor_image.h"

#include <QMimeData>

#include <stdexcept>

namespace sde::ui {

namespace {
constexpr int kIdRole = Qt::UserRole + 1;
}

HistoryPanel::HistoryPanel(QWidget *parent) : QListWidget(parent)
{
    setObjectName("historyList");
    setViewMode(QListView::IconMode);
    setIconSize(QSize(72, 72));
    setGridSize(QSize(96, 112));
    setResizeMode(QListView::Adjust);
    setMovement(QListView::Static);
    setWordWrap(true);
    setSelectionMode(QAbstractItemView::SingleSelection);
    setDragEnabled(true);
    setDragDropMode(QAbstractItemView::DragOnly);
    setToolTip(tr("Results made since the studio opened: click one to restore its settings and seed; drag it "
                  "onto Inpaint, Colorize, Interpolate or Likelihood"));
    setDefaultDropAction(Qt::CopyAction);
    connect(this, &QListWidget::itemClicked, this, [this](QListWidgetItem *item) {
        const int at = indexOf(item);
        if (at < 0)
            return;
        Q_EMIT restoreRequested(entries_[static_cast<size_t>(at)].settings, item->toolTip().section('\n', 0, 0));
    });
}

void HistoryPanel::addResult(const QString &operation, const QString &model, const torch::Tensor &samples,
                             const SamplingSettings &settings)
{
    if (!samples.defined() || samples.dim() != 4 || samples.size(0) == 0)
        return;
    Entry added;
    added.operation = operation;
    added.model = model;
    added.settings = settings;
    added.image = samples[0].detach().to(torch::kCPU, torch::kFloat32).clamp(0.0, 1.0).contiguous();
    added.count = samples.size(0);
    const QImage picture = tensorToImage(added.image).scaled(iconSize(), Qt::KeepAspectRatio, Qt::FastTransformation);
    auto *item =
        new QListWidgetItem(QIcon(QPixmap::fromImage(picture)), tr("%1, seed %2").arg(operation).arg(settings.seed));
    item->setToolTip(tr("%1 of %2 image(s) with %3, seed %4\n%5")
                         .arg(operation)
                         .arg(added.count)
                         .arg(model)
                         .arg(settings.seed)
                         .arg(QString::fromStdString(describeSettings(settings))));
    item->setData(kIdRole, ++serial_);
    insertItem(0, item);
    entries_.insert(entries_.begin(), std::move(added));
    ids_.insert(ids_.begin(), serial_);
    while (entries_.size() > static_cast<size_t>(kMostEntries)) {
        for (int r = count() - 1; r >= 0; --r)
            if (QListWidget::item(r)->data(kIdRole).toULongLong() == ids_.back()) {
                delete takeItem(r);
                break;
            }
        entries_.pop_back();
        ids_.pop_back();
    }
}

const HistoryPanel::Entry &HistoryPanel::entry(int row) const
{
    if (row < 0 || row >= static_cast<int>(entries_.size()))
        throw std::out_of_range("no history entry " + std::to_string(row));
    return entries_[static_cast<size_t>(row)];
}

const HistoryPanel::Entry *HistoryPanel::entryOf(const QMimeData *data) const
{
    if (!data || !data->hasFormat(kMimeType))
        return nullptr;
    bool ok = false;
    const quint64 id = QString::fromUtf8(data->data(kMimeType)).toULongLong(&ok);
    for (size_t i = 0; ok && i < ids_.size(); ++i)
        if (ids_[i] == id)
            return &entries_[i];
    return nullptr; // gone (the oldest are dropped), or another program's
}

int HistoryPanel::indexOf(const QListWidgetItem *item) const
{
    if (!item)
        return -1;
    const quint64 id = item->data(kIdRole).toULongLong();
    for (size_t i = 0; i < ids_.size(); ++i)
        if (ids_[i] == id)
            return static_cast<int>(i);
    return -1;
}

void HistoryPanel::startDrag(Qt::DropActions /*supportedActions*/)
{
    QListWidget::startDrag(Qt::CopyAction);
}

QStringList HistoryPanel::mimeTypes() const
{
    return {kMimeType, "application/x-qt-image"};
}

QMimeData *HistoryPanel::mimeData(const QList<QListWidgetItem *> &items) const
{
    const int at = items.isEmpty() ? -1 : indexOf(items.front());
    if (at < 0)
        return nullptr;
    auto *data = new QMimeData;
    data->setData(kMimeType, QByteArray::number(items.front()->data(kIdRole).toULongLong()));
    data->setImageData(tensorToImage(entries_.at(static_cast<size_t>(at)).image));
    return data;
}

} // namespace sde::ui
