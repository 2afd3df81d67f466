#pragma once

#include <QStringList>
#include <QWidget>

#include <torch/torch.h>

#include <vector>

class QHBoxLayout;

namespace sde::ui {

class ImageView;

// Several results side by side (the variants of an inpainting or a colorization, one per seed),
// each with a caption; a click chooses one, shown with a highlighted frame.
class VariantStrip : public QWidget {
    Q_OBJECT
public:
    explicit VariantStrip(QWidget *parent = nullptr);

    // images [B, C, H, W] in [0, 1]; one caption per image.
    void setImages(const torch::Tensor &images, const QStringList &captions);
    void clear();
    int count() const { return static_cast<int>(views_.size()); }
    int selected() const { return selected_; }
    void setSelected(int index);
    // Image i [C, H, W]; the batch as given.
    torch::Tensor image(int index) const;
    const torch::Tensor &images() const { return images_; }
    ImageView *view(int index) const { return views_.at(static_cast<size_t>(index)); }
    // As tall as its pictures are at this width (each view at most kLargestCell pixels wide) with
    // their captions, so that a column gives the space under it to what follows.
    bool hasHeightForWidth() const override { return true; }
    int heightForWidth(int width) const override;
    QSize sizeHint() const override { return {400, heightForWidth(400)}; }
    static constexpr int kLargestCell = 256;

Q_SIGNALS:
    void selectionChanged(int index);

private:
    QHBoxLayout *layout_;
    std::vector<ImageView *> views_;
    torch::Tensor images_;
    int selected_ = -1;
};

struct GenerationResult;
class TrajectoryScrubber;

// Takes a finished run of variants: keeps it in `last` (without samples when it was cancelled),
// shows its samples captioned "seed N" (seed firstSeed + i) and its trajectory.
void showVariants(const GenerationResult &result, uint64_t firstSeed, VariantStrip *strip, TrajectoryScrubber *scrubber,
                  GenerationResult &last);

} // namespace sde::ui
