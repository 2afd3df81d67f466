#include "nets/ddpm.h"

#include "util/batch.h"

namespace sde {

DdpmImpl::DdpmImpl(const ModelConfig &config)
    : config_(config), act_(nonlinearityFromName(config.model.nonlinearity)),
      numResolutions_(static_cast<int64_t>(config.model.chMult.size()))
{
    const NetworkConfig &m = config.model;
    sigmas_ = register_buffer("sigmas", smldSigmas(m));
    const int64_t nf = m.nf;

    auto resnetBlock = [&](int64_t in, int64_t out) {
        ResnetBlockOptions o;
        o.act = act_;
        o.in = in;
        o.out = out;
        o.tembDim = 4 * nf;
        o.dropout = m.dropout;
        o.skipRescale = false;
        o.initScale = 0.0;
        o.ddpmGroups = true;
        return ResnetBlockDdpmpp(o).ptr();
    };
    auto attnBlock = [&](int64_t channels) { return AttnBlock(AttnBlockOptions{channels, false, 0.0, true}).ptr(); };

    // Noise-level embedding (always conditional; validate() refuses conditional = false).
    add(Dense(nf, nf * 4).ptr());
    add(Dense(nf * 4, nf * 4).ptr());

    const int64_t channels = config.data.numChannels;
    add(conv3x3(channels, nf).ptr());
    std::vector<int64_t> hsC{nf};
    int64_t inCh = nf;
    for (int64_t level = 0; level < numResolutions_; ++level) {
        for (int64_t b = 0; b < m.numResBlocks; ++b) {
            const int64_t outCh = nf * m.chMult[static_cast<size_t>(level)];
            add(resnetBlock(inCh, outCh));
            inCh = outCh;
            if (hasAttention(m.attnResolutions, config.data.imageSize >> level))
                add(attnBlock(inCh));
            hsC.push_back(inCh);
        }
        if (level != numResolutions_ - 1) {
            add(Downsample(ResampleOptions{inCh, 0, m.resampWithConv, false, {}}).ptr());
            hsC.push_back(inCh);
        }
    }

    inCh = hsC.back();
    add(resnetBlock(inCh, 0));
    add(attnBlock(inCh));
    add(resnetBlock(inCh, 0));

    for (int64_t level = numResolutions_ - 1; level >= 0; --level) {
        for (int64_t b = 0; b < m.numResBlocks + 1; ++b) {
            const int64_t outCh = nf * m.chMult[static_cast<size_t>(level)];
            add(resnetBlock(inCh + hsC.back(), outCh));
            hsC.pop_back();
            inCh = outCh;
        }
        if (hasAttention(m.attnResolutions, config.data.imageSize >> level))
            add(attnBlock(inCh));
        if (level != 0)
            add(Upsample(ResampleOptions{inCh, 0, m.resampWithConv, false, {}}).ptr());
    }

    add(GroupNorm(32, inCh).ptr());
    add(conv3x3(inCh, channels, 0.0).ptr());
}

torch::Tensor DdpmImpl::forward(const torch::Tensor &x, const torch::Tensor &labels)
{
    const NetworkConfig &m = config_.model;
    size_t idx = 0;
    torch::Tensor temb = timestepEmbedding(labels, m.nf);
    temb = block<DenseImpl>(idx).forward(temb);
    temb = block<DenseImpl>(idx).forward(activate(act_, temb));

    torch::Tensor h = config_.data.centered ? x : 2.0 * x - 1.0;

    std::vector<torch::Tensor> hs{block<Conv2dImpl>(idx).forward(h)};
    for (int64_t level = 0; level < numResolutions_; ++level) {
        for (int64_t b = 0; b < m.numResBlocks; ++b) {
            h = block<ResnetBlockDdpmppImpl>(idx).forward(hs.back(), temb);
            if (hasAttention(m.attnResolutions, h.size(-1)))
                h = block<AttnBlockImpl>(idx).forward(h);
            hs.push_back(h);
        }
        if (level != numResolutions_ - 1)
            hs.push_back(block<DownsampleImpl>(idx).forward(hs.back()));
    }

    h = hs.back();
    h = block<ResnetBlockDdpmppImpl>(idx).forward(h, temb);
    h = block<AttnBlockImpl>(idx).forward(h);
    h = block<ResnetBlockDdpmppImpl>(idx).forward(h, temb);

    for (int64_t level = numResolutions_ - 1; level >= 0; --level) {
        for (int64_t b = 0; b < m.numResBlocks + 1; ++b) {
            h = block<ResnetBlockDdpmppImpl>(idx).forward(torch::cat({h, hs.back()}, 1), temb);
            hs.pop_back();
        }
        if (hasAttention(m.attnResolutions, h.size(-1)))
            h = block<AttnBlockImpl>(idx).forward(h);
        if (level != 0)
            h = block<UpsampleImpl>(idx).forward(h);
    }

    h = activate(act_, block<GroupNormImpl>(idx).forward(h));
    h = block<Conv2dImpl>(idx).forward(h);
    TORCH_INTERNAL_ASSERT(idx == blockCount(), "DDPM forward used ", idx, " of ", blockCount(), " modules");

    if (m.scaleBySigma) {
        // Divides by the noise level of the (discrete) label, as the reference does for SMLD.
        torch::Tensor used = sigmas_.index_select(0, labels.to(torch::kLong).to(sigmas_.device()));
        h = h / batchView(used.to(h.dtype()), h);
    }
    return h;
}

} // namespace sde
