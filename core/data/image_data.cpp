#include "data/image_data.h"

#include "config/model_config.h"
#include "data/toy_data.h"
#include "imaging/idx_file.h"
#include "imaging/image_io.h"
#include "util/error.h"
#include "util/files.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <utility>

namespace sde {

namespace fs = std::filesystem;
namespace F = torch::nn::functional;

namespace {

bool endsWith(const std::string &text, const std::string &suffix)
{
    return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string lower(std::string text)
{
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
    return text;
}

torch::Tensor toBytes(const torch::Tensor &image01)
{
    return (image01.clamp(0.0, 1.0) * 255.0).round().to(torch::kUInt8);
}

// The name of the kernel's file system a folder is on (proc, sysfs, ...), or nullptr for any
// other. Their files are made up by the kernel as they are read (sizes of 0 or 4096, links back
// to / in /proc/N/root): never a training set.
const char *kernelFileSystem(const std::string &folder)
{
    struct statfs info {};
    if (::statfs(folder.c_str(), &info) != 0)
        return nullptr;
    // From <linux/magic.h>.
    static const std::pair<unsigned long, const char *> kinds[] = {
        {0x9fa0, "proc"},        {0x62656572, "sysfs"},      {0x1cd1, "devpts"},       {0x64626720, "debugfs"},
        {0x74726163, "tracefs"}, {0x73636673, "securityfs"}, {0x27e0eb, "cgroup"},     {0x63677270, "cgroup2"},
        {0xcafe4a11, "bpf"},     {0x6165676c, "pstore"},     {0x62656570, "configfs"}, {0xde5e81e4, "efivarfs"},
        {0x19800202, "mqueue"},  {0x958458f6, "hugetlbfs"},  {0x65735546, "fusectl"},  {0xf97cff8c, "selinuxfs"},
    };
    for (const auto &[magic, name] : kinds)
        if (static_cast<unsigned long>(info.f_type) == magic)
            return name;
    return nullptr;
}

} // namespace

torch::Tensor resizeShorterSide(const torch::Tensor &image, int64_t shorterSide, int64_t crop)
{
    const int64_t h = image.size(1), w = image.size(2);
    // A 999,999 x 1 image would grow to 28 x 28,000,000 (gigabytes) before its crop.
    if (std::max(h, w) > kMostAspectRatio * std::min(h, w))
        throw Error("it is " + std::to_string(w) + " x " + std::to_string(h) + " pixels, more than " +
                    std::to_string(kMostAspectRatio) + " times longer than wide");
    const double scale = static_cast<double>(shorterSide) / static_cast<double>(std::min(h, w));
    const int64_t newH = std::max<int64_t>(shorterSide, std::llround(h * scale));
    const int64_t newW = std::max<int64_t>(shorterSide, std::llround(w * scale));
    torch::Tensor resized = image;
    if (newH != h || newW != w)
        resized = F::interpolate(image.unsqueeze(0).to(torch::kFloat32), F::InterpolateFuncOptions()
                                                                             .size(std::vector<int64_t>{newH, newW})
                                                                             .mode(torch::kBilinear)
                                                                             .align_corners(false)
                                                                             .antialias(true))
                      .squeeze(0)
                      .clamp(0.0, 1.0);
    if (crop <= 0)
        return resized;
    const int64_t top = (newH - crop) / 2, left = (newW - crop) / 2;
    return resized.slice(1, top, top + crop).slice(2, left, left + crop).contiguous();
}

std::vector<std::string> listImageFiles(const std::string &folder)
{
    std::error_code error;
    if (!fs::is_directory(folder, error))
        throw Error("'" + folder + "' is not a folder");
    if (const char *kernel = kernelFileSystem(folder))
        throw Error("'" + folder + "' is on " + kernel + ", a file system the kernel makes up, not a folder of images");
    // Each folder is walked once, known by its device and inode: a symlink back to a folder
    // above (`ln -s . loop`) would otherwise be followed without end.
    std::set<std::pair<dev_t, ino_t>> visited;
    std::vector<std::string> pending{folder};
    std::vector<std::string> files;
    while (!pending.empty()) {
        const std::string current = pending.back();
        pending.pop_back();
        struct stat info {};
        if (::stat(current.c_str(), &info) != 0 || !visited.emplace(info.st_dev, info.st_ino).second)
            continue;
        if (visited.size() > kMostImageFolders)
            throw Error("'" + folder + "' holds more than " + std::to_string(kMostImageFolders) +
                        " folders; give a folder of images");
        std::vector<std::string> folders;
        for (auto it = fs::directory_iterator(current, fs::directory_options::skip_permission_denied, error);
             !error && it != fs::directory_iterator(); it.increment(error)) {
            const std::string path = it->path().string();
            // stat follows symlinks: a link to an image or a folder counts as what it points to.
            struct stat entry {};
            if (::stat(path.c_str(), &entry) != 0)
                continue;
            if (S_ISDIR(entry.st_mode)) {
                // A link into /proc or /sys (/proc/N/root leads to /) is not followed.
                if (!kernelFileSystem(path))
                    folders.push_back(path);
                continue;
            }
            if (!S_ISREG(entry.st_mode))
                continue; // FIFOs, devices and sockets are never opened
            const std::string extension = lower(it->path().extension().string());
            // Every kind loadImage reads.
            static const std::set<std::string> kImageExtensions = {".png",  ".jpg", ".jpeg", ".bmp", ".webp", ".tif",
                                                                   ".tiff", ".pgm", ".ppm",  ".pbm", ".pnm"};
            if (kImageExtensions.count(extension))
                files.push_back(path);
            if (files.size() > kMostImageFiles)
                throw Error("'" + folder + "' holds more than " + std::to_string(kMostImageFiles) + " images");
        }
        if (error)
            throw Error("cannot list '" + current + "': " + error.message());
        // Sorted and pushed in reverse: the walk goes depth first in name order.
        std::sort(folders.rbegin(), folders.rend());
        pending.insert(pending.end(), folders.begin(), folders.end());
    }
    std::sort(files.begin(), files.end());
    if (files.empty())
        throw Error("'" + folder + "' holds no PNG, JPEG, WebP, BMP, TIFF or PNM images");
    return files;
}

std::string fashionMnistImagesPath(const std::string &split)
{
    if (split != "train" && split != "test")
        throw Error("Fashion-MNIST has the splits train and test, not \"" + split + "\"");
    const std::string path = std::string("/usr/share/datasets/fashion-mnist/") + (split == "train" ? "train" : "t10k") +
                             "-images-idx3-ubyte.gz";
    std::error_code error;
    if (!fs::exists(path, error))
        throw Error("Fashion-MNIST is not installed (" + path + " is missing): apt-get install dataset-fashion-mnist");
    return path;
}

IdxTrainingData::IdxTrainingData(const std::string &imagesPath, int64_t resolution, int64_t channels, bool randomFlip)
    : IndexedTrainingData(randomFlip)
{
    torch::Tensor images = readIdxImages(imagesPath).unsqueeze(1); // uint8 [N, 1, H, W]
    const int64_t h = images.size(2), w = images.size(3);
    if (h != resolution || w != resolution) {
        if (h <= resolution && w <= resolution) {
            const int64_t top = (resolution - h) / 2, left = (resolution - w) / 2;
            images = torch::constant_pad_nd(images, {left, resolution - w - left, top, resolution - h - top}, 0);
        } else {
            // A chunk at a time into the result: the whole set in float32 would take four times its
            // bytes (1 GiB for the largest IDX file read). Each image is resized on its own, so
            // chunks change nothing.
            constexpr int64_t kChunk = 1024;
            torch::Tensor resized = torch::empty({images.size(0), 1, resolution, resolution}, torch::kUInt8);
            for (int64_t start = 0; start < images.size(0); start += kChunk)
                resized.slice(0, start, start + kChunk)
                    .copy_(toBytes(F::interpolate(images.slice(0, start, start + kChunk).to(torch::kFloat32) / 255.0,
                                                  F::InterpolateFuncOptions()
                                                      .size(std::vector<int64_t>{resolution, resolution})
                                                      .mode(torch::kBilinear)
                                                      .align_corners(false)
                                                      .antialias(true))));
            images = resized; // the file's own images are let go
        }
    }
    // One stored channel; more are repeated as examples are taken (not 3 copies of the set).
    images_ = images.contiguous();
    channels_ = channels;

    // The labels file beside it: train-images-idx3-ubyte.gz -> train-labels-idx1-ubyte.gz.
    std::string labelsPath = imagesPath;
    const auto at = labelsPath.rfind("images-idx3");
    if (at != std::string::npos) {
        labelsPath.replace(at, 11, "labels-idx1");
        std::error_code error;
        if (fs::exists(labelsPath, error)) {
            labels_ = readIdxLabels(labelsPath);
            if (labels_.size(0) != images_.size(0))
                throw Error("'" + labelsPath + "' has " + std::to_string(labels_.size(0)) + " labels for " +
                            std::to_string(images_.size(0)) + " images");
            if (labels_.min().item<int64_t>() < 0 || labels_.max().item<int64_t>() > 9)
                throw Error("'" + labelsPath + "': labels must be 0 to 9");
        }
    }
    description_ = std::to_string(images_.size(0)) + " images of " + baseName(imagesPath) +
                   (labels_.defined() ? " with labels" : "");
}

std::vector<int64_t> IdxTrainingData::exampleShape() const
{
    return {channels_, images_.size(2), images_.size(3)};
}

torch::Tensor IdxTrainingData::example(int64_t index, int64_t *label)
{
    if (label)
        *label = labels_.defined() ? labels_.data_ptr<int64_t>()[index] : -1;
    return images_[index].to(torch::kFloat32).div_(255.0).expand({channels_, -1, -1}).contiguous();
}

torch::Tensor IdxTrainingData::images() const
{
    return images_.to(torch::kFloat32).div_(255.0).expand({-1, channels_, -1, -1}).contiguous();
}

ImageFolderTrainingData::ImageFolderTrainingData(const std::string &folder, int64_t resolution, int64_t channels,
                                                 bool randomFlip)
    : IndexedTrainingData(randomFlip), files_(listImageFiles(folder)), resolution_(resolution), channels_(channels)
{
    cache_.resize(files_.size());
    broken_.assign(files_.size(), false);
    description_ = std::to_string(files_.size()) + " images in " + folder;
}

torch::Tensor ImageFolderTrainingData::example(int64_t index, int64_t *label)
{
    if (label)
        *label = -1;
    if (broken_[index])
        return {};
    if (!cache_[index].defined()) {
        try {
            torch::Tensor image = loadImage(files_[index], channels_);
            cache_[index] = toBytes(resizeShorterSide(image, resolution_, resolution_));
        } catch (const std::exception &e) {
            broken_[index] = true;
            warn("skipped " + files_[index] + ": " + e.what());
            return {};
        }
    }
    return cache_[index].to(torch::kFloat32) / 255.0;
}

ImagePatchTrainingData::ImagePatchTrainingData(const std::string &folder, int64_t resolution, int64_t channels,
                                               bool randomFlip, int64_t sourceShorterSide)
    : resolution_(resolution), channels_(channels), randomFlip_(randomFlip)
{
    std::vector<double> areas;
    for (const auto &file : listImageFiles(folder)) {
        try {
            torch::Tensor image = resizeShorterSide(loadImage(file, channels), sourceShorterSide);
            areas.push_back(static_cast<double>(image.size(1) * image.size(2)));
            images_.push_back(image);
        } catch (const std::exception &e) {
            warn("skipped " + file + ": " + e.what());
        }
    }
    if (images_.empty())
        throw Error("none of the images in '" + folder + "' could be read");
    areaWeights_ = torch::tensor(areas, torch::kFloat64);
    description_ = "patches of " + std::to_string(images_.size()) + " images in " + folder;
}

TrainingBatch ImagePatchTrainingData::batch(int64_t step, int64_t batchSize, uint64_t seed)
{
    at::Generator generator = seededGenerator(seed, 0x50415443ULL /* "PATC" */, static_cast<uint64_t>(step));
    torch::Tensor which = torch::multinomial(areaWeights_, batchSize, /*replacement=*/true, generator);
    torch::Tensor where = torch::rand({batchSize, 2}, generator, torch::kFloat64);
    torch::Tensor flip = torch::rand({batchSize}, generator) < 0.5;
    std::vector<torch::Tensor> patches;
    for (int64_t i = 0; i < batchSize; ++i) {
        const torch::Tensor &image = images_[which[i].item<int64_t>()];
        const int64_t top = static_cast<int64_t>(where[i][0].item<double>() * (image.size(1) - resolution_ + 1));
        const int64_t left = static_cast<int64_t>(where[i][1].item<double>() * (image.size(2) - resolution_ + 1));
        torch::Tensor patch = image.slice(1, top, top + resolution_).slice(2, left, left + resolution_);
        if (randomFlip_ && flip[i].item<bool>())
            patch = patch.flip({2});
        patches.push_back(patch);
    }
    TrainingBatch out;
    out.step = step;
    out.examples = torch::stack(patches).contiguous();
    return out;
}

std::unique_ptr<TrainingData> openTrainingData(const std::string &spec, const ModelConfig &config)
{
    const int64_t resolution = config.data.imageSize;
    const int64_t channels = config.data.numChannels;
    const bool flip = config.data.randomFlip;
    if (spec.rfind("toy:", 0) == 0) {
        if (!config.isPointModel())
            throw Error("--data " + spec + ": toy distributions train point models (model.name toy_mlp), not " +
                        config.architectureName());
        if (channels != 2)
            throw Error("--data " + spec + ": the toy distributions are 2D; the config has data.num_channels = " +
                        std::to_string(channels));
        return std::make_unique<ToyTrainingData>(toyDistributionFromName(spec.substr(4)));
    }
    if (config.isPointModel())
        throw Error("--data " + spec + ": a point model (toy_mlp) trains on toy:NAME data (" + [] {
            std::string names;
            for (const auto &name : toyDistributionNames())
                names += (names.empty() ? "toy:" : ", toy:") + name;
            return names;
        }() + ")");
    if (spec == "fashion-mnist" || spec == "fashion-mnist:train")
        return std::make_unique<IdxTrainingData>(fashionMnistImagesPath("train"), resolution, channels, flip);
    if (spec == "fashion-mnist:test")
        return std::make_unique<IdxTrainingData>(fashionMnistImagesPath("test"), resolution, channels, flip);
    if (spec.rfind("patches:", 0) == 0)
        return std::make_unique<ImagePatchTrainingData>(spec.substr(8), resolution, channels, flip, 4 * resolution);
    std::error_code error;
    if (fs::is_directory(spec, error))
        return std::make_unique<ImageFolderTrainingData>(spec, resolution, channels, flip);
    if (!fs::exists(spec, error))
        throw Error("--data '" + spec +
                    "': no such file or folder (expected a folder of images, an IDX file, "
                    "fashion-mnist, patches:FOLDER or toy:NAME)");
    if (endsWith(spec, ".gz") || spec.find("idx3") != std::string::npos)
        return std::make_unique<IdxTrainingData>(spec, resolution, channels, flip);
    throw Error("--data '" + spec + "': a single file must be an IDX image file (*-idx3-ubyte[.gz])");
}

} // namespace sde
