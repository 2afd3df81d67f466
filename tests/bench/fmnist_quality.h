#pragma once

// The project's sample-quality figure for Fashion-MNIST models: the Fréchet distance between
// generated and test images in the feature space of the bundled Fashion-MNIST noise-conditional
// classifier at t = 1e-3 ("FD-FMNIST"; the project's own classifier, not Inception, so not FID).

#include "data/image_data.h"
#include "io/classifier_file.h"
#include "metrics/frechet.h"

#include <torch/torch.h>

#include <vector>

namespace sde::bench {

constexpr double kFeatureTime = 1e-3;

// The classifier's features of images in [0, 1].
inline torch::Tensor classifierFeatures(LoadedClassifier &classifier, const torch::Tensor &images01)
{
    torch::NoGradGuard noGrad;
    const bool centered = classifier.config().scoreConfig.data.centered;
    std::vector<torch::Tensor> parts;
    for (int64_t start = 0; start < images01.size(0); start += 256) {
        torch::Tensor x = images01.slice(0, start, start + 256);
        x = centered ? x * 2.0 - 1.0 : x;
        parts.push_back(classifier.network->features(x, torch::full({x.size(0)}, kFeatureTime)));
    }
    return torch::cat(parts);
}

// FD-FMNIST against the 10,000 test images.
class FashionMnistDistance {
public:
    FashionMnistDistance()
        : classifier_(loadClassifierFile("fashion-mnist-classifier")),
          test_(fashionMnistImagesPath("test"), 28, 1, false),
          testStats_(featureStatistics(classifierFeatures(classifier_, test_.images())))
    {}
    double operator()(const torch::Tensor &images01)
    {
        return frechetDistance(featureStatistics(classifierFeatures(classifier_, images01)), testStats_);
    }
    LoadedClassifier &classifier() { return classifier_; }
    IdxTrainingData &test() { return test_; }

private:
    LoadedClassifier classifier_;
    IdxTrainingData test_;
    FeatureStatistics testStats_;
};

} // namespace sde::bench
