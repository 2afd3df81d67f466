#include "variant_strip.h"

#include "image_view.h"
#include "sampling_worker.h"
#include "tensor_image.h"
#include "trajectory_scrubber.h"

#include <QHBoxLayout>

#include <algorithm>

namespace sde::ui {

VariantStrip::VariantStrip(QWidget *parent) : QWidget(parent), layout_(new QHBoxLayout(this))
{
    layout_->setContentsMargins(0, 0, 0, 0);
    setMinimumHeight(120);
    QSizePolicy policy(QSizePolicy::Expanding, QSizePolicy::Preferred);
    policy.setHeightForWidth(true);
    setSizePolicy(policy);
}

int VariantStrip::heightForWidth(int width) const
{
    if (views_.empty())
        return minimumHeight();
    const int n = count();
    const int cell = std::min(kLargestCell, (width - layout_->spacing() * (n - 1)) / n);
    return std::max(minimumHeight(), views_.front()->heightToFit(cell));
}

void VariantStrip::clear()
{
    for (ImageView *view : views_)
        delete view;
    views_.clear();
    images_ = torch::Tensor();
    selected_ = -1;
    updateGeometry();
}

void VariantStrip::setImages(const torch::Tensor &images, const QStringList &captions)
{
    clear();
    images_ = images.detach().to(torch::kCPU);
    for (int64_t i = 0; i < images_.size(0); ++i) {
        auto *view = new ImageView(this);
        view->setObjectName(QString("variant%1").arg(i));
        view->setImage(tensorToImage(images_[i]));
        view->setCaption(i < captions.size() ? captions[static_cast<int>(i)] : QString());
        view->setToolTip(tr("Click to choose this variant"));
        const int index = static_cast<int>(i);
        connect(view, &ImageView::clicked, this, [this, index] { setSelected(index); });
        layout_->addWidget(view);
        views_.push_back(view);
    }
    setSelected(views_.empty() ? -1 : 0);
    updateGeometry();
}

void VariantStrip::setSelected(int index)
{
    if (index >= count())
        return;
    selected_ = index;
    for (int i = 0; i < count(); ++i)
        views_[static_cast<size_t>(i)]->setSelected(i == index);
    Q_EMIT selectionChanged(index);
}

torch::Tensor VariantStrip::image(int index) const
{
    return images_[index];
}

void showVariants(const GenerationResult &result, uint64_t firstSeed, VariantStrip *strip, TrajectoryScrubber *scrubber,
                  GenerationResult &last)
{
    last = result;
    scrubber->setFrames(result.frames);
    if (!result.completed) {
        last.samples = torch::Tensor(); // a cancelled run has no finished variants
        return;
    }
    QStringList captions;
    for (int64_t i = 0; i < result.samples.size(0); ++i)
        captions << VariantStrip::tr("seed %1").arg(firstSeed + static_cast<uint64_t>(i));
    strip->setImages(result.samples, captions);
}

} // namespace sde::ui
