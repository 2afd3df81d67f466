#include "nets/ddpm.h"

#include "util/batch.h"

namespace sde {

// ddpm.DDPM.__init__: appends the blocks to all_modules in the reference's order; hsC mirrors
// the reference's hs_c, the widths of the skip connections.
DdpmImpl::DdpmImpl(const ModelConfig &config)
    : config_(config), act_(nonlinearityFromName(config.model.nonlinearity)),
      numResolutions_(static_cast<int64_t>(config.model.chMult.size()))
{
    const NetworkConfig &m = config.model;
    sigmas_ = register_buffer("sigmas", smldSigmas(m)); // utils.get_sigmas(config)
    const int64_t nf = m.nf;

    // ResnetBlock = functools.partial(layers.ResnetBlockDDPM, act, temb_dim=4 * nf, dropout):
    // 32 GroupNorm groups, Conv_1 initialised at scale 0, x + h without rescaling.
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
    // AttnBlock = layers.AttnBlock: 32 GroupNorm groups, NIN_3 initialised at scale 0, x + h.
    auto attnBlock = [&](int64_t channels) { return AttnBlock(AttnBlockOptions{channels, false, 0.0, true}).ptr(); };

    // Noise-level embedding (always conditional; validate() refuses conditional = false).
    add(Dense(nf, nf * 4).ptr());     // nn.Linear(nf, nf * 4)
    add(Dense(nf * 4, nf * 4).ptr()); // nn.Linear(nf * 4, nf * 4)

    // Downsampling.
    const int64_t channels = config.data.numChannels; // C
    add(conv3x3(channels, nf).ptr());                 // C -> nf
    std::vector<int64_t> hsC{nf};                     // hs_c
    int64_t inCh = nf;
    for (int64_t level = 0; level < numResolutions_; ++level) {
        // Residual blocks for this resolution: -> nf * ch_mult[level] channels.
        for (int64_t b = 0; b < m.numResBlocks; ++b) {
            const int64_t outCh = nf * m.chMult[static_cast<size_t>(level)];
            add(resnetBlock(inCh, outCh));
            inCh = outCh;
            if (hasAttention(m.attnResolutions, config.data.imageSize >> level))
                add(attnBlock(inCh));
            hsC.push_back(inCh);
        }
        if (level != numResolutions_ - 1) {
            // layers.Downsample(channels=in_ch, with_conv=resamp_with_conv): halves H, W.
            add(Downsample(ResampleOptions{inCh, 0, m.resampWithConv, false, {}}).ptr());
            hsC.push_back(inCh);
        }
    }

    // The middle: ResnetBlock, AttnBlock, ResnetBlock, width unchanged.
    inCh = hsC.back();
    add(resnetBlock(inCh, 0));
    add(attnBlock(inCh));
    add(resnetBlock(inCh, 0));

    // Upsampling.
    for (int64_t level = numResolutions_ - 1; level >= 0; --level) {
        // num_res_blocks + 1 blocks on cat([h, skip]): in_ch + hs_c.pop() -> nf * ch_mult[level].
        for (int64_t b = 0; b < m.numResBlocks + 1; ++b) {
            const int64_t outCh = nf * m.chMult[static_cast<size_t>(level)];
            add(resnetBlock(inCh + hsC.back(), outCh));
            hsC.pop_back();
            inCh = outCh;
        }
        if (hasAttention(m.attnResolutions, config.data.imageSize >> level))
            add(attnBlock(inCh));
        if (level != 0) // layers.Upsample(channels=in_ch, with_conv=resamp_with_conv): doubles H, W.
            add(Upsample(ResampleOptions{inCh, 0, m.resampWithConv, false, {}}).ptr());
    }

    // The output head: nn.GroupNorm(32, in_ch, eps=1e-6), ddpm_conv3x3(in_ch, C, init_scale=0.).
    add(GroupNorm(32, inCh).ptr());
    add(conv3x3(inCh, channels, 0.0).ptr());
}

// ddpm.DDPM.forward. `idx` is the reference's m_idx: each block<>() call takes the next module
// of all_modules, in the constructor's order.
torch::Tensor DdpmImpl::forward(const torch::Tensor &x, const torch::Tensor &labels)
{
    const NetworkConfig &m = config_.model;
    size_t idx = 0;
    torch::Tensor temb = timestepEmbedding(labels, m.nf);       // temb: [B, nf] (layers.get_timestep_embedding)
    temb = block<DenseImpl>(idx).forward(temb);                 // temb: [B, nf * 4]
    temb = block<DenseImpl>(idx).forward(activate(act_, temb)); // temb: [B, nf * 4]

    // Data in [0, 1] is mapped to [-1, 1].
    torch::Tensor h = config_.data.centered ? x : 2.0 * x - 1.0; // h: [B, C, H, W]

    // Downsampling.
    std::vector<torch::Tensor> hs{block<Conv2dImpl>(idx).forward(h)}; // hs[0]: [B, nf, H, W]
    for (int64_t level = 0; level < numResolutions_; ++level) {
        for (int64_t b = 0; b < m.numResBlocks; ++b) {
            // h: [B, nf * ch_mult[i], H / 2^i, W / 2^i] (layers.ResnetBlockDDPM)
            h = block<ResnetBlockDdpmppImpl>(idx).forward(hs.back(), temb);
            if (hasAttention(m.attnResolutions, h.size(-1)))
                h = block<AttnBlockImpl>(idx).forward(h); // layers.AttnBlock, same shape
            hs.push_back(h);
        }
        // layers.Downsample: [B, nf * ch_mult[i], H / 2^(i+1), W / 2^(i+1)]
        if (level != numResolutions_ - 1)
            hs.push_back(block<DownsampleImpl>(idx).forward(hs.back()));
    }

    // The middle: h: [B, nf * ch_mult[-1], H / 2^(L-1), W / 2^(L-1)] throughout.
    h = hs.back();
    h = block<ResnetBlockDdpmppImpl>(idx).forward(h, temb);
    h = block<AttnBlockImpl>(idx).forward(h);
    h = block<ResnetBlockDdpmppImpl>(idx).forward(h, temb);

    // Upsampling.
    for (int64_t level = numResolutions_ - 1; level >= 0; --level) {
        for (int64_t b = 0; b < m.numResBlocks + 1; ++b) {
            // cat([h, hs.pop()], dim=1): [B, in_ch + hs_c.pop(), H / 2^i, W / 2^i]
            // -> h: [B, nf * ch_mult[i], H / 2^i, W / 2^i]
            h = block<ResnetBlockDdpmppImpl>(idx).forward(torch::cat({h, hs.back()}, 1), temb);
            hs.pop_back();
        }
        if (hasAttention(m.attnResolutions, h.size(-1)))
            h = block<AttnBlockImpl>(idx).forward(h); // layers.AttnBlock, same shape
        // layers.Upsample: h: [B, nf * ch_mult[i], H / 2^(i-1), W / 2^(i-1)]
        if (level != 0)
            h = block<UpsampleImpl>(idx).forward(h);
    }

    h = activate(act_, block<GroupNormImpl>(idx).forward(h)); // h: [B, nf * ch_mult[0], H, W]
    h = block<Conv2dImpl>(idx).forward(h);                    // h: [B, C, H, W]
    // assert m_idx == len(modules)
    TORCH_INTERNAL_ASSERT(idx == blockCount(), "DDPM forward used ", idx, " of ", blockCount(), " modules");

    if (m.scaleBySigma) {
        // Divides by the noise level of the (discrete) label, as the reference does for SMLD:
        // used_sigmas = self.sigmas[labels, None, None, None], [B, 1, 1, 1].
        torch::Tensor used = sigmas_.index_select(0, labels.to(torch::kLong).to(sigmas_.device()));
        h = h / batchView(used.to(h.dtype()), h);
    }
    return h;
}

} // namespace sde
