#pragma once

#include "sampling/sampling_settings.h"

#include <QListWidget>

#include <torch/torch.h>

#include <vector>

namespace sde::ui {

// The results made since the studio opened, newest first (the History dock): a thumbnail of each
// (its first image) with what made it (operation, model, sampler and seed). A click restores its
// settings and seed to the Sampler dock (restoreRequested); a drag copies its first image
// (kMimeType: the entry's id; and the picture as image data) to a workspace, where the window
// puts it into Inpaint, Colorize, Interpolate or Likelihood. A drag never moves or removes a row.
class HistoryPanel : public QListWidget {
    Q_OBJECT
public:
    // A drag's entry id, as text.
    static constexpr const char *kMimeType = "application/x-sdestudio-history";
    // The most entries kept; the oldest go first.
    static constexpr int kMostEntries = 200;

    struct Entry {
        QString operation; // "generate", "inpaint", "colorize"
        QString model;     // the model's name
        SamplingSettings settings;
        torch::Tensor image; // [C, H, W] in [0, 1], CPU: the result's first image
        int64_t count = 0;   // images in the result
    };

    explicit HistoryPanel(QWidget *parent = nullptr);

    // Adds a result [B, C, H, W] in [0, 1] at the top (a result without images is skipped).
    void addResult(const QString &operation, const QString &model, const torch::Tensor &samples,
                   const SamplingSettings &settings);
    // Entry `row` (0: the newest); throws std::out_of_range for another row.
    const Entry &entry(int row) const;
    // The entry a drag's mime data names, or null.
    const Entry *entryOf(const QMimeData *data) const;
    // The mime data a drag of row `row` carries (the caller owns it); null for no such row.
    QMimeData *dragData(int row) const { return item(row) ? mimeData({item(row)}) : nullptr; }

Q_SIGNALS:
    void restoreRequested(const sde::SamplingSettings &settings, const QString &what);

protected:
    QStringList mimeTypes() const override;
    QMimeData *mimeData(const QList<QListWidgetItem *> &items) const override;
    // Copies only: a Move would let the view delete the dragged row.
    void startDrag(Qt::DropActions supportedActions) override;

private:
    // The entry of a row's item, by the id it carries (-1 when none).
    int indexOf(const QListWidgetItem *item) const;

public:
private:
    std::vector<Entry> entries_; // newest first, as the rows
    quint64 serial_ = 0;         // entries ever added: the items' ids
    std::vector<quint64> ids_;
};

} // namespace sde::ui
