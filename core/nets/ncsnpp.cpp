#include "nets/ncsnpp.h"

#include "util/batch.h"

#include <cmath>

namespace sde {

NcsnppImpl::NcsnppImpl(const ModelConfig &config)
    : config_(config), act_(nonlinearityFromName(config.model.nonlinearity)),
      numResolutions_(static_cast<int64_t>(config.model.chMult.size()))
{
    const NetworkConfig &m = config.model;
    sigmas_ = register_buffer("sigmas", smldSigmas(m));

    const int64_t nf = m.nf;
    std::vector<int64_t> allResolutions;
    for (int64_t i = 0; i < numResolutions_; ++i)
        allResolutions.push_back(config.data.imageSize >> i);
    const bool combineCat = m.progressiveCombine == "cat";

    // Timestep / noise-level embedding.
    int64_t embedDim = nf;
    if (m.embeddingType == "fourier") {
        add(GaussianFourierProjection(nf, m.fourierScale).ptr());
        embedDim = 2 * nf;
    }
    if (m.conditional) {
        add(Dense(embedDim, nf * 4).ptr());
        add(Dense(nf * 4, nf * 4).ptr());
    }

    auto attnBlock = [&](int64_t channels) {
        return AttnBlock(AttnBlockOptions{channels, m.skipRescale, m.initScale, false}).ptr();
    };
    auto resnetBlock = [&](int64_t in, int64_t out, bool up, bool down) -> std::shared_ptr<torch::nn::Module> {
        ResnetBlockOptions o;
        o.act = act_;
        o.in = in;
        o.out = out;
        o.tembDim = nf * 4;
        o.dropout = m.dropout;
        o.skipRescale = m.skipRescale;
        o.initScale = m.initScale;
        if (m.resblockType == "ddpm")
            return ResnetBlockDdpmpp(o).ptr();
        o.up = up;
        o.down = down;
        o.fir = m.fir;
        o.firKernel = m.firKernel;
        return ResnetBlockBigGan(o).ptr();
    };
    auto resample = [&](int64_t in, int64_t out, bool withConv) {
        return ResampleOptions{in, out, withConv, m.fir, m.firKernel};
    };

    // Downsampling path.
    const int64_t channels = config.data.numChannels;
    int64_t inputPyramidCh = channels;
    add(conv3x3(channels, nf).ptr());
    std::vector<int64_t> hsC{nf};
    int64_t inCh = nf;
    for (int64_t level = 0; level < numResolutions_; ++level) {
        for (int64_t block = 0; block < m.numResBlocks; ++block) {
            const int64_t outCh = nf * m.chMult[static_cast<size_t>(level)];
            add(resnetBlock(inCh, outCh, false, false));
            inCh = outCh;
            if (hasAttention(m.attnResolutions, allResolutions[static_cast<size_t>(level)]))
                add(attnBlock(inCh));
            hsC.push_back(inCh);
        }
        if (level != numResolutions_ - 1) {
            if (m.resblockType == "ddpm")
                add(Downsample(resample(inCh, 0, m.resampWithConv)).ptr());
            else
                add(resnetBlock(inCh, 0, false, true));
            if (m.progressiveInput == "input_skip") {
                add(Combine(inputPyramidCh, inCh, combineCat).ptr());
                if (combineCat)
                    inCh *= 2;
            } else if (m.progressiveInput == "residual") {
                add(Downsample(resample(inputPyramidCh, inCh, true)).ptr());
                inputPyramidCh = inCh;
            }
            hsC.push_back(inCh);
        }
    }

    inCh = hsC.back();
    add(resnetBlock(inCh, 0, false, false));
    add(attnBlock(inCh));
    add(resnetBlock(inCh, 0, false, false));

    // Upsampling path.
    int64_t pyramidCh = 0;
    for (int64_t level = numResolutions_ - 1; level >= 0; --level) {
        for (int64_t block = 0; block < m.numResBlocks + 1; ++block) {
            const int64_t outCh = nf * m.chMult[static_cast<size_t>(level)];
            add(resnetBlock(inCh + hsC.back(), outCh, false, false));
            hsC.pop_back();
            inCh = outCh;
        }
        if (hasAttention(m.attnResolutions, allResolutions[static_cast<size_t>(level)]))
            add(attnBlock(inCh));

        if (m.progressive != "none") {
            if (level == numResolutions_ - 1) {
                add(GroupNorm(groupsFor(inCh), inCh).ptr());
                if (m.progressive == "output_skip") {
                    add(conv3x3(inCh, channels, m.initScale).ptr());
                    pyramidCh = channels;
                } else {
                    add(conv3x3(inCh, inCh).ptr());
                    pyramidCh = inCh;
                }
            } else if (m.progressive == "output_skip") {
                add(GroupNorm(groupsFor(inCh), inCh).ptr());
                add(conv3x3(inCh, channels, m.initScale).ptr());
                pyramidCh = channels;
            } else {
                add(Upsample(resample(pyramidCh, inCh, true)).ptr());
                pyramidCh = inCh;
            }
        }

        if (level != 0) {
            if (m.resblockType == "ddpm")
                add(Upsample(resample(inCh, 0, m.resampWithConv)).ptr());
            else
                add(resnetBlock(inCh, 0, true, false));
        }
    }

    if (m.progressive != "output_skip") {
        add(GroupNorm(groupsFor(inCh), inCh).ptr());
        add(conv3x3(inCh, channels, m.initScale).ptr());
    }
}

torch::Tensor NcsnppImpl::forward(const torch::Tensor &input, const torch::Tensor &timeCond)
{
    const NetworkConfig &m = config_.model;
    size_t idx = 0;
    torch::Tensor usedSigmas;
    torch::Tensor temb;
    if (m.embeddingType == "fourier") {
        // Continuous VE: the label is the noise level sigma(t); embed log sigma.
        usedSigmas = timeCond;
        temb = block<GaussianFourierProjectionImpl>(idx).forward(torch::log(usedSigmas));
    } else {
        usedSigmas = sigmas_.index_select(0, timeCond.to(torch::kLong).to(sigmas_.device()));
        temb = timestepEmbedding(timeCond, m.nf);
    }
    if (m.conditional) {
        temb = block<DenseImpl>(idx).forward(temb);
        temb = block<DenseImpl>(idx).forward(activate(act_, temb));
    } else {
        temb = torch::Tensor();
    }

    // Data in [0, 1] is mapped to [-1, 1].
    torch::Tensor x = config_.data.centered ? input : 2.0 * input - 1.0;

    auto resnet = [&](const torch::Tensor &h) -> torch::Tensor {
        auto &module = blockAt(idx++);
        if (auto *big = module->as<ResnetBlockBigGanImpl>())
            return big->forward(h, temb);
        return module->as<ResnetBlockDdpmppImpl>()->forward(h, temb);
    };

    // Downsampling path.
    torch::Tensor inputPyramid;
    if (m.progressiveInput != "none")
        inputPyramid = x;
    std::vector<torch::Tensor> hs{block<Conv2dImpl>(idx).forward(x)};
    for (int64_t level = 0; level < numResolutions_; ++level) {
        for (int64_t b = 0; b < m.numResBlocks; ++b) {
            torch::Tensor h = resnet(hs.back());
            if (hasAttention(m.attnResolutions, h.size(-1)))
                h = block<AttnBlockImpl>(idx).forward(h);
            hs.push_back(h);
        }
        if (level != numResolutions_ - 1) {
            torch::Tensor h =
                m.resblockType == "ddpm" ? block<DownsampleImpl>(idx).forward(hs.back()) : resnet(hs.back());
            if (m.progressiveInput == "input_skip") {
                inputPyramid = m.fir ? downsample2d(inputPyramid, m.firKernel) : torch::avg_pool2d(inputPyramid, 2, 2);
                h = block<CombineImpl>(idx).forward(inputPyramid, h);
            } else if (m.progressiveInput == "residual") {
                inputPyramid = block<DownsampleImpl>(idx).forward(inputPyramid);
                inputPyramid = residualSum(inputPyramid, h, m.skipRescale);
                h = inputPyramid;
            }
            hs.push_back(h);
        }
    }

    torch::Tensor h = hs.back();
    h = resnet(h);
    h = block<AttnBlockImpl>(idx).forward(h);
    h = resnet(h);

    // Upsampling path.
    torch::Tensor pyramid;
    for (int64_t level = numResolutions_ - 1; level >= 0; --level) {
        for (int64_t b = 0; b < m.numResBlocks + 1; ++b) {
            h = resnet(torch::cat({h, hs.back()}, 1));
            hs.pop_back();
        }
        if (hasAttention(m.attnResolutions, h.size(-1)))
            h = block<AttnBlockImpl>(idx).forward(h);

        if (m.progressive != "none") {
            if (level == numResolutions_ - 1) {
                pyramid = activate(act_, block<GroupNormImpl>(idx).forward(h));
                pyramid = block<Conv2dImpl>(idx).forward(pyramid);
            } else if (m.progressive == "output_skip") {
                pyramid = m.fir ? upsample2d(pyramid, m.firKernel) : naiveUpsample2d(pyramid);
                torch::Tensor pyramidH = activate(act_, block<GroupNormImpl>(idx).forward(h));
                pyramidH = block<Conv2dImpl>(idx).forward(pyramidH);
                pyramid = pyramid + pyramidH;
            } else {
                pyramid = block<UpsampleImpl>(idx).forward(pyramid);
                pyramid = residualSum(pyramid, h, m.skipRescale);
                h = pyramid;
            }
        }

        if (level != 0)
            h = m.resblockType == "ddpm" ? block<UpsampleImpl>(idx).forward(h) : resnet(h);
    }

    if (m.progressive == "output_skip") {
        h = pyramid;
    } else {
        h = activate(act_, block<GroupNormImpl>(idx).forward(h));
        h = block<Conv2dImpl>(idx).forward(h);
    }
    TORCH_INTERNAL_ASSERT(idx == blockCount(), "NCSN++ forward used ", idx, " of ", blockCount(), " modules");

    if (m.scaleBySigma)
        h = h / batchView(usedSigmas.to(h.dtype()), h);
    return h;
}

} // namespace sde
