#pragma once

#include "data/training_data.h"

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace sde {

struct ModelConfig;

// The training data a user names (`--data` of `sdestudio-cli train`, the Training tab):
//   toy:NAME              a 2D toy distribution (moons, 8gaussians, checkerboard, swissroll);
//   fashion-mnist[:test]  Fashion-MNIST's IDX files from the dataset-fashion-mnist package;
//   FILE.gz / FILE-idx3-ubyte  IDX images, with the labels file beside them when there is one;
//   FOLDER                every PNG/JPEG/BMP/WebP below it, resized (shorter side) and
//                         center-cropped to the model's resolution;
//   patches:FOLDER        random crops of the model's resolution cut from the images below it,
//                         each scaled so its shorter side is 4x the resolution.
// Images are converted to the model's channel count; random horizontal flips follow
// data.random_flip. Throws sde::Error naming the path or the spec when it cannot be used.
std::unique_ptr<TrainingData> openTrainingData(const std::string &spec, const ModelConfig &config);

// The Fashion-MNIST files of the Debian package ("train" or "test" split).
std::string fashionMnistImagesPath(const std::string &split);

// Images of an IDX file at the given resolution (padded with zeros around the centre when larger
// than the file's, resized when smaller), kept as uint8 with one channel; examples are float32
// [C, size, size] in [0, 1], the gray channel repeated C times.
class IdxTrainingData : public IndexedTrainingData {
public:
    IdxTrainingData(const std::string &imagesPath, int64_t resolution, int64_t channels, bool randomFlip);

    std::string description() const override { return description_; }
    std::vector<int64_t> exampleShape() const override;
    int64_t classCount() const override { return labels_.defined() ? 10 : 0; }
    int64_t size() const override { return images_.size(0); }
    torch::Tensor example(int64_t index, int64_t *label) override;

    // All images as [N, C, H, W] in [0, 1] and their labels (undefined without a labels file).
    torch::Tensor images() const;
    const torch::Tensor &labels() const { return labels_; }

private:
    std::string description_;
    torch::Tensor images_; // uint8 [N, 1, H, W]
    int64_t channels_ = 1; // each example's: the one stored channel repeated
    torch::Tensor labels_;
};

// Every image file below a folder, read as it is needed on the loader's thread and kept once
// read; an unreadable file is skipped with a warning naming it.
class ImageFolderTrainingData : public IndexedTrainingData {
public:
    ImageFolderTrainingData(const std::string &folder, int64_t resolution, int64_t channels, bool randomFlip);

    std::string description() const override { return description_; }
    std::vector<int64_t> exampleShape() const override { return {channels_, resolution_, resolution_}; }
    int64_t size() const override { return static_cast<int64_t>(files_.size()); }
    torch::Tensor example(int64_t index, int64_t *label) override;

private:
    std::string description_;
    std::vector<std::string> files_;
    std::vector<torch::Tensor> cache_; // uint8 [C, H, W]; undefined until read
    std::vector<bool> broken_;
    int64_t resolution_, channels_;
};

// Random patches of the model's resolution from the photographs below a folder (all read at
// the start): image chosen in proportion to its area, uniform position, optional flip.
class ImagePatchTrainingData : public TrainingData {
public:
    ImagePatchTrainingData(const std::string &folder, int64_t resolution, int64_t channels, bool randomFlip,
                           int64_t sourceShorterSide);

    std::string description() const override { return description_; }
    std::vector<int64_t> exampleShape() const override { return {channels_, resolution_, resolution_}; }
    TrainingBatch batch(int64_t step, int64_t batchSize, uint64_t seed) override;

private:
    std::string description_;
    std::vector<torch::Tensor> images_; // [C, H, W] in [0, 1]
    torch::Tensor areaWeights_;
    int64_t resolution_, channels_;
    bool randomFlip_;
};

// The most image files, and folders, one training folder may hold: a bound on the walk.
constexpr size_t kMostImageFiles = 1'000'000;
constexpr size_t kMostImageFolders = 100'000;

// The image files below a folder (recursive, sorted), by extension. Symlinks are followed, each
// folder is walked once (a link to a folder above is not followed again), only regular files
// count, and folders on the kernel's file systems (/proc, /sys, ...) are refused (the one given)
// or skipped (one below it); no images, more than kMostImageFiles images or kMostImageFolders
// folders is an error.
std::vector<std::string> listImageFiles(const std::string &folder);

// The most an image's longer side may exceed its shorter one, as a factor (resizeShorterSide).
constexpr int64_t kMostAspectRatio = 16;

// An image [C, H, W] scaled (antialiased) so its shorter side is `shorterSide`, then, when
// `crop` is positive, center-cropped to crop x crop. Throws sde::Error for an image more than
// kMostAspectRatio times longer than wide (its resized copy would be huge).
torch::Tensor resizeShorterSide(const torch::Tensor &image, int64_t shorterSide, int64_t crop = 0);

} // namespace sde
