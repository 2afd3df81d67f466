#include "nets/ncsnpp.h"

#include "util/batch.h"

#include <cmath>

namespace sde {

// ncsnpp.NCSNpp.__init__: appends the blocks to all_modules in the reference's order. The
// comments give the channel count each block sees; hsC mirrors the reference's hs_c, the widths
// of the skip connections the downsampling path pushes and the upsampling path pops.
NcsnppImpl::NcsnppImpl(const ModelConfig &config)
    : config_(config), act_(nonlinearityFromName(config.model.nonlinearity)),
      numResolutions_(static_cast<int64_t>(config.model.chMult.size()))
{
    const NetworkConfig &m = config.model;
    sigmas_ = register_buffer("sigmas", smldSigmas(m)); // utils.get_sigmas(config)

    const int64_t nf = m.nf;
    // all_resolutions = [image_size // 2**i for i in range(num_resolutions)]
    std::vector<int64_t> allResolutions;
    for (int64_t i = 0; i < numResolutions_; ++i)
        allResolutions.push_back(config.data.imageSize >> i);
    const bool combineCat = m.progressiveCombine == "cat";

    // Timestep / noise-level embedding.
    int64_t embedDim = nf; // "positional": get_timestep_embedding(t, nf) is [B, nf]
    if (m.embeddingType == "fourier") {
        // layerspp.GaussianFourierProjection(embedding_size=nf): [B] -> [B, 2 * nf]
        add(GaussianFourierProjection(nf, m.fourierScale).ptr());
        embedDim = 2 * nf;
    }
    if (m.conditional) {
        add(Dense(embedDim, nf * 4).ptr()); // nn.Linear(embed_dim, nf * 4)
        add(Dense(nf * 4, nf * 4).ptr());   // nn.Linear(nf * 4, nf * 4)
    }

    // AttnBlock = functools.partial(layerspp.AttnBlockpp, init_scale, skip_rescale)
    auto attnBlock = [&](int64_t channels) {
        return AttnBlock(AttnBlockOptions{channels, m.skipRescale, m.initScale, false}).ptr();
    };
    // ResnetBlock = functools.partial(ResnetBlockDDPM | ResnetBlockBigGAN, act, dropout, [fir, fir_kernel,]
    // init_scale, skip_rescale, temb_dim=nf * 4); out = 0 means out_ch = in_ch.
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
            return ResnetBlockDdpmpp(o).ptr(); // layerspp.ResnetBlockDDPMpp
        o.up = up;
        o.down = down;
        o.fir = m.fir;
        o.firKernel = m.firKernel;
        return ResnetBlockBigGan(o).ptr(); // layerspp.ResnetBlockBigGANpp
    };
    // Upsample / Downsample / pyramid_downsample / pyramid_upsample = functools.partial(
    // layerspp.Upsample | layerspp.Downsample, with_conv, fir, fir_kernel).
    auto resample = [&](int64_t in, int64_t out, bool withConv) {
        return ResampleOptions{in, out, withConv, m.fir, m.firKernel};
    };

    // Downsampling block.
    const int64_t channels = config.data.numChannels; // C
    int64_t inputPyramidCh = channels;                // input_pyramid_ch
    add(conv3x3(channels, nf).ptr());                 // C -> nf
    std::vector<int64_t> hsC{nf};                     // hs_c
    int64_t inCh = nf;
    for (int64_t level = 0; level < numResolutions_; ++level) {
        // Residual blocks for this resolution: -> nf * ch_mult[level] channels.
        for (int64_t block = 0; block < m.numResBlocks; ++block) {
            const int64_t outCh = nf * m.chMult[static_cast<size_t>(level)];
            add(resnetBlock(inCh, outCh, false, false));
            inCh = outCh;
            if (hasAttention(m.attnResolutions, allResolutions[static_cast<size_t>(level)]))
                add(attnBlock(inCh));
            hsC.push_back(inCh);
        }
        if (level != numResolutions_ - 1) {
            // Halve the resolution, keep the width.
            if (m.resblockType == "ddpm")
                add(Downsample(resample(inCh, 0, m.resampWithConv)).ptr());
            else
                add(resnetBlock(inCh, 0, false, true)); // ResnetBlock(down=True, in_ch=in_ch)
            if (m.progressiveInput == "input_skip") {
                // The reference's pyramid_downsample(in_ch=input_pyramid_ch) (no parameters) comes first;
                // forward() calls downsample2d / avg_pool2d directly instead.
                add(Combine(inputPyramidCh, inCh, combineCat).ptr()); // combiner(dim1=input_pyramid_ch, dim2=in_ch)
                if (combineCat)
                    inCh *= 2;
            } else if (m.progressiveInput == "residual") {
                // pyramid_downsample(in_ch=input_pyramid_ch, out_ch=in_ch): a resampling conv with parameters.
                add(Downsample(resample(inputPyramidCh, inCh, true)).ptr());
                inputPyramidCh = inCh;
            }
            hsC.push_back(inCh);
        }
    }

    // The middle: ResnetBlock, AttnBlock, ResnetBlock at the lowest resolution, width unchanged.
    inCh = hsC.back();
    add(resnetBlock(inCh, 0, false, false));
    add(attnBlock(inCh));
    add(resnetBlock(inCh, 0, false, false));

    // Upsampling block.
    int64_t pyramidCh = 0; // pyramid_ch
    for (int64_t level = numResolutions_ - 1; level >= 0; --level) {
        // num_res_blocks + 1 blocks, each on cat([h, skip]): in_ch + hs_c.pop() -> nf * ch_mult[level].
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
                // The pyramid starts: GroupNorm(min(in_ch // 4, 32), in_ch, eps=1e-6), then conv3x3.
                add(GroupNorm(groupsFor(inCh), inCh).ptr());
                if (m.progressive == "output_skip") {
                    add(conv3x3(inCh, channels, m.initScale).ptr()); // in_ch -> C
                    pyramidCh = channels;
                } else {
                    add(conv3x3(inCh, inCh).ptr()); // "residual": in_ch -> in_ch
                    pyramidCh = inCh;
                }
            } else if (m.progressive == "output_skip") {
                // The reference's pyramid_upsample(in_ch=pyramid_ch) (no parameters) comes first;
                // forward() calls upsample2d / naiveUpsample2d directly instead.
                add(GroupNorm(groupsFor(inCh), inCh).ptr());
                add(conv3x3(inCh, channels, m.initScale).ptr()); // in_ch -> C
                pyramidCh = channels;
            } else {
                // pyramid_upsample(in_ch=pyramid_ch, out_ch=in_ch): a resampling conv with parameters.
                add(Upsample(resample(pyramidCh, inCh, true)).ptr());
                pyramidCh = inCh;
            }
        }

        if (level != 0) {
            // Double the resolution, keep the width.
            if (m.resblockType == "ddpm")
                add(Upsample(resample(inCh, 0, m.resampWithConv)).ptr());
            else
                add(resnetBlock(inCh, 0, true, false)); // ResnetBlock(in_ch=in_ch, up=True)
        }
    }

    // The output head (output_skip already ends in the pyramid): GroupNorm, conv3x3 in_ch -> C.
    if (m.progressive != "output_skip") {
        add(GroupNorm(groupsFor(inCh), inCh).ptr());
        add(conv3x3(inCh, channels, m.initScale).ptr());
    }
}

// ncsnpp.NCSNpp.forward. `idx` is the reference's m_idx: each block<>() / resnet() call takes
// the next module of all_modules, so the calls below run in exactly the constructor's order.
torch::Tensor NcsnppImpl::forward(const torch::Tensor &input, const torch::Tensor &timeCond)
{
    const NetworkConfig &m = config_.model;
    size_t idx = 0;
    torch::Tensor usedSigmas; // used_sigmas: [B]
    torch::Tensor temb;
    if (m.embeddingType == "fourier") {
        // Continuous VE: the label is the noise level sigma(t); embed log sigma.
        usedSigmas = timeCond;
        // temb: [B, 2 * nf] (layerspp.GaussianFourierProjection)
        temb = block<GaussianFourierProjectionImpl>(idx).forward(torch::log(usedSigmas));
    } else {
        // "positional": used_sigmas = self.sigmas[time_cond.int()]
        usedSigmas = sigmas_.index_select(0, timeCond.to(torch::kLong).to(sigmas_.device()));
        temb = timestepEmbedding(timeCond, m.nf); // temb: [B, nf] (layers.get_timestep_embedding)
    }
    if (m.conditional) {
        temb = block<DenseImpl>(idx).forward(temb);                 // temb: [B, nf * 4]
        temb = block<DenseImpl>(idx).forward(activate(act_, temb)); // temb: [B, nf * 4]
    } else {
        temb = torch::Tensor(); // temb = None: the residual blocks skip their Dense_0
    }

    // Data in [0, 1] is mapped to [-1, 1].
    torch::Tensor x = config_.data.centered ? input : 2.0 * input - 1.0; // x: [B, C, H, W]

    // ResnetBlock(h, temb), whichever of the two kinds resblock_type chose; keeps the width
    // unless the block was built with out_ch, halves or doubles H, W when built with down / up.
    auto resnet = [&](const torch::Tensor &h) -> torch::Tensor {
        auto &module = blockAt(idx++);
        if (auto *big = module->as<ResnetBlockBigGanImpl>())
            return big->forward(h, temb);
        return module->as<ResnetBlockDdpmppImpl>()->forward(h, temb);
    };

    // ncsnpp.NCSNpp.forward: the downsampling path.
    torch::Tensor inputPyramid; // input_pyramid: [B, C, H / 2^i, W / 2^i] (residual: [B, nf * ch_mult[i-1], ...])
    if (m.progressiveInput != "none")
        inputPyramid = x;
    std::vector<torch::Tensor> hs{block<Conv2dImpl>(idx).forward(x)}; // hs[0]: [B, nf, H, W]
    for (int64_t level = 0; level < numResolutions_; ++level) {
        for (int64_t b = 0; b < m.numResBlocks; ++b) {
            torch::Tensor h = resnet(hs.back()); // h: [B, nf * ch_mult[i], H / 2^i, W / 2^i]
            if (hasAttention(m.attnResolutions, h.size(-1)))
                h = block<AttnBlockImpl>(idx).forward(h); // layerspp.AttnBlockpp, same shape
            hs.push_back(h);
        }
        if (level != numResolutions_ - 1) {
            // h: [B, nf * ch_mult[i], H / 2^(i+1), W / 2^(i+1)] (layerspp.Downsample or ResnetBlock(down=True))
            torch::Tensor h =
                m.resblockType == "ddpm" ? block<DownsampleImpl>(idx).forward(hs.back()) : resnet(hs.back());
            if (m.progressiveInput == "input_skip") {
                // pyramid_downsample (layerspp.Downsample, with_conv=False), inlined: it has no parameters.
                // input_pyramid: [B, C, H / 2^(i+1), W / 2^(i+1)]
                inputPyramid = m.fir ? downsample2d(inputPyramid, m.firKernel) : torch::avg_pool2d(inputPyramid, 2, 2);
                // layerspp.Combine: h: [B, 2 * nf * ch_mult[i], ...] ("cat") or [B, nf * ch_mult[i], ...] ("sum")
                h = block<CombineImpl>(idx).forward(inputPyramid, h);
            } else if (m.progressiveInput == "residual") {
                // pyramid_downsample (layerspp.Downsample, with_conv=True): [B, nf * ch_mult[i], H / 2^(i+1), ...]
                inputPyramid = block<DownsampleImpl>(idx).forward(inputPyramid);
                inputPyramid = residualSum(inputPyramid, h, m.skipRescale); // (input_pyramid + h) [/ sqrt 2]
                h = inputPyramid;
            }
            hs.push_back(h);
        }
    }

    // The middle, at the lowest resolution: h: [B, nf * ch_mult[-1], H / 2^(L-1), W / 2^(L-1)] throughout.
    torch::Tensor h = hs.back();
    h = resnet(h);
    h = block<AttnBlockImpl>(idx).forward(h);
    h = resnet(h);

    // ncsnpp.NCSNpp.forward: the upsampling path.
    torch::Tensor pyramid; // pyramid = None
    for (int64_t level = numResolutions_ - 1; level >= 0; --level) {
        for (int64_t b = 0; b < m.numResBlocks + 1; ++b) {
            // cat([h, hs.pop()], dim=1): [B, in_ch + hs_c.pop(), H / 2^i, W / 2^i]
            // -> h: [B, nf * ch_mult[i], H / 2^i, W / 2^i]
            h = resnet(torch::cat({h, hs.back()}, 1));
            hs.pop_back();
        }
        if (hasAttention(m.attnResolutions, h.size(-1)))
            h = block<AttnBlockImpl>(idx).forward(h); // layerspp.AttnBlockpp, same shape

        if (m.progressive != "none") {
            if (level == numResolutions_ - 1) {
                // pyramid = conv3x3(act(GroupNorm(h))): [B, C, H / 2^i, W / 2^i] ("output_skip")
                // or [B, nf * ch_mult[i], H / 2^i, W / 2^i] ("residual")
                pyramid = activate(act_, block<GroupNormImpl>(idx).forward(h));
                pyramid = block<Conv2dImpl>(idx).forward(pyramid);
            } else if (m.progressive == "output_skip") {
                // pyramid_upsample (layerspp.Upsample, with_conv=False), inlined: it has no parameters.
                // pyramid: [B, C, H / 2^(i+1), W / 2^(i+1)] -> [B, C, H / 2^i, W / 2^i]
                pyramid = m.fir ? upsample2d(pyramid, m.firKernel) : naiveUpsample2d(pyramid);
                // pyramid_h = conv3x3(act(GroupNorm(h))): [B, C, H / 2^i, W / 2^i]
                torch::Tensor pyramidH = activate(act_, block<GroupNormImpl>(idx).forward(h));
                pyramidH = block<Conv2dImpl>(idx).forward(pyramidH);
                pyramid = pyramid + pyramidH;
            } else {
                // pyramid_upsample (layerspp.Upsample, with_conv=True):
                // pyramid: [B, nf * ch_mult[i+1], H / 2^(i+1), ...] -> [B, nf * ch_mult[i], H / 2^i, W / 2^i]
                pyramid = block<UpsampleImpl>(idx).forward(pyramid);
                pyramid = residualSum(pyramid, h, m.skipRescale); // (pyramid + h) [/ sqrt 2]
                h = pyramid;
            }
        }

        // h: [B, nf * ch_mult[i], H / 2^(i-1), W / 2^(i-1)] (layerspp.Upsample or ResnetBlock(up=True))
        if (level != 0)
            h = m.resblockType == "ddpm" ? block<UpsampleImpl>(idx).forward(h) : resnet(h);
    }

    // h: [B, C, H, W]
    if (m.progressive == "output_skip") {
        h = pyramid;
    } else {
        h = activate(act_, block<GroupNormImpl>(idx).forward(h)); // [B, nf * ch_mult[0], H, W]
        h = block<Conv2dImpl>(idx).forward(h);                    // conv3x3: -> [B, C, H, W]
    }
    // assert m_idx == len(modules)
    TORCH_INTERNAL_ASSERT(idx == blockCount(), "NCSN++ forward used ", idx, " of ", blockCount(), " modules");

    // h / used_sigmas.reshape([B, 1, 1, 1])
    if (m.scaleBySigma)
        h = h / batchView(usedSigmas.to(h.dtype()), h);
    return h;
}

} // namespace sde
