#include "nets/blocks.h"

#include <cmath>

namespace sde {

// `if not self.skip_rescale: return x + h else: return (x + h) / np.sqrt(2.)`
torch::Tensor residualSum(const torch::Tensor &x, const torch::Tensor &h, bool skipRescale)
{
    return skipRescale ? (x + h) / std::sqrt(2.0) : x + h;
}

// layerspp.AttnBlockpp.__init__ / layers.AttnBlock.__init__
AttnBlockImpl::AttnBlockImpl(const AttnBlockOptions &options) : options_(options)
{
    const int64_t c = options.channels;
    norm_ = register_module("GroupNorm_0", GroupNorm(options.ddpmGroups ? 32 : groupsFor(c), c));
    q_ = register_module("NIN_0", Nin(c, c));
    k_ = register_module("NIN_1", Nin(c, c));
    v_ = register_module("NIN_2", Nin(c, c));
    out_ = register_module("NIN_3", Nin(c, c, options.initScale));
}

// layerspp.AttnBlockpp.forward / layers.AttnBlock.forward. The reference's einsums
// ('bchw,bcij->bhwij', then 'bhwij,bcij->bchw') are batched matrix products over the flattened
// positions here.
torch::Tensor AttnBlockImpl::forward(const torch::Tensor &x)
{
    const int64_t b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
    torch::Tensor normed = norm_(x);                     // [B, C, H, W]
    torch::Tensor q = q_(normed).reshape({b, c, h * w}); // q: [B, C, H * W]
    torch::Tensor k = k_(normed).reshape({b, c, h * w}); // k: [B, C, H * W]
    torch::Tensor v = v_(normed).reshape({b, c, h * w}); // v: [B, C, H * W]
    // w[b, p, q] = <q_p, k_q> / sqrt(C), softmax over q; out[b, c, p] = sum_q w[b, p, q] v[b, c, q]
    const double scale = std::pow(static_cast<double>(c), -0.5); // int(C) ** (-0.5)
    torch::Tensor attended;
    if (useOneDnn(x)) {
        // One sample at a time through oneDNN: weights [H * W, H * W], parts[i] [C, H * W].
        std::vector<torch::Tensor> parts;
        for (int64_t i = 0; i < b; ++i) {
            torch::Tensor weights = torch::softmax(oneDnnMatmulTransposed(q[i].t(), k[i].t()) * scale, -1);
            parts.push_back(oneDnnMatmulTransposed(v[i], weights));
        }
        attended = torch::stack(parts).reshape({b, c, h, w});
    } else {
        // weights: [B, H * W, H * W]; attended: [B, C, H * W] -> [B, C, H, W]
        torch::Tensor weights = torch::softmax(torch::bmm(q.transpose(1, 2), k) * scale, -1);
        attended = torch::bmm(v, weights.transpose(1, 2)).reshape({b, c, h, w});
    }
    return residualSum(x, out_(attended), options_.skipRescale); // NIN_3, then the skip: [B, C, H, W]
}

// layerspp.ResnetBlockDDPMpp.__init__ / layers.ResnetBlockDDPM.__init__
ResnetBlockDdpmppImpl::ResnetBlockDdpmppImpl(const ResnetBlockOptions &options) : options_(options)
{
    if (options_.out == 0)
        options_.out = options_.in; // out_ch = out_ch if out_ch else in_ch
    const int64_t in = options_.in, out = options_.out;
    norm0_ = register_module("GroupNorm_0", GroupNorm(options_.ddpmGroups ? 32 : groupsFor(in), in));
    conv0_ = register_module("Conv_0", conv3x3(in, out));
    if (options_.tembDim > 0)
        dense0_ = register_module("Dense_0", Dense(options_.tembDim, out));
    norm1_ = register_module("GroupNorm_1", GroupNorm(options_.ddpmGroups ? 32 : groupsFor(out), out));
    conv1_ = register_module("Conv_1", conv3x3(out, out, options_.initScale));
    if (in != out) {
        if (options_.convShortcut)
            conv2_ = register_module("Conv_2", conv3x3(in, out));
        else
            nin0_ = register_module("NIN_0", Nin(in, out));
    }
}

// layerspp.ResnetBlockDDPMpp.forward / layers.ResnetBlockDDPM.forward
torch::Tensor ResnetBlockDdpmppImpl::forward(const torch::Tensor &x, const torch::Tensor &temb)
{
    torch::Tensor h = conv0_(activate(options_.act, norm0_(x))); // Conv_0(act(GroupNorm_0(x))): [B, out, H, W]
    // h += Dense_0(act(temb))[:, :, None, None]: [B, out] broadcast over H, W
    if (temb.defined() && dense0_)
        h = h + dense0_(activate(options_.act, temb)).unsqueeze(-1).unsqueeze(-1);
    h = activate(options_.act, norm1_(h));
    h = torch::dropout(h, options_.dropout, is_training()); // Dropout_0
    h = conv1_(h);                                          // Conv_1: [B, out, H, W]
    // The shortcut: x: [B, in, H, W] -> [B, out, H, W] through Conv_2 or NIN_0 when in != out.
    torch::Tensor shortcut = x;
    if (x.size(1) != options_.out)
        shortcut = options_.convShortcut ? conv2_(x) : nin0_(x);
    return residualSum(shortcut, h, options_.skipRescale);
}

// layerspp.ResnetBlockBigGANpp.__init__
ResnetBlockBigGanImpl::ResnetBlockBigGanImpl(const ResnetBlockOptions &options) : options_(options)
{
    if (options_.out == 0)
        options_.out = options_.in; // out_ch = out_ch if out_ch else in_ch
    const int64_t in = options_.in, out = options_.out;
    norm0_ = register_module("GroupNorm_0", GroupNorm(groupsFor(in), in));
    conv0_ = register_module("Conv_0", conv3x3(in, out));
    if (options_.tembDim > 0)
        dense0_ = register_module("Dense_0", Dense(options_.tembDim, out));
    norm1_ = register_module("GroupNorm_1", GroupNorm(groupsFor(out), out));
    conv1_ = register_module("Conv_1", conv3x3(out, out, options_.initScale));
    if (in != out || options_.up || options_.down)
        conv2_ = register_module("Conv_2", conv1x1(in, out));
}

// layerspp.ResnetBlockBigGANpp.forward
torch::Tensor ResnetBlockBigGanImpl::forward(const torch::Tensor &input, const torch::Tensor &temb)
{
    torch::Tensor x = input;                             // x: [B, in, H, W]
    torch::Tensor h = activate(options_.act, norm0_(x)); // act(GroupNorm_0(x)): [B, in, H, W]
    if (options_.up) {
        // up_or_down_sampling.upsample_2d / naive_upsample_2d of both paths: [B, in, 2H, 2W]
        h = options_.fir ? upsample2d(h, options_.firKernel) : naiveUpsample2d(h);
        x = options_.fir ? upsample2d(x, options_.firKernel) : naiveUpsample2d(x);
    } else if (options_.down) {
        // up_or_down_sampling.downsample_2d / naive_downsample_2d of both paths: [B, in, H / 2, W / 2]
        h = options_.fir ? downsample2d(h, options_.firKernel) : naiveDownsample2d(h);
        x = options_.fir ? downsample2d(x, options_.firKernel) : naiveDownsample2d(x);
    }
    h = conv0_(h); // Conv_0: [B, out, H', W']
    // h += Dense_0(act(temb))[:, :, None, None]: [B, out] broadcast over H', W'
    if (temb.defined() && dense0_)
        h = h + dense0_(activate(options_.act, temb)).unsqueeze(-1).unsqueeze(-1);
    h = activate(options_.act, norm1_(h));
    h = torch::dropout(h, options_.dropout, is_training()); // Dropout_0
    h = conv1_(h);                                          // Conv_1: [B, out, H', W']
    // The shortcut: Conv_2 (1x1) when in != out or the resolution changed: [B, out, H', W']
    if (conv2_)
        x = conv2_(x);
    return residualSum(x, h, options_.skipRescale);
}

// layerspp.Combine.__init__: Conv_0 = conv1x1(dim1, dim2)
CombineImpl::CombineImpl(int64_t dim1, int64_t dim2, bool concatenate) : concatenate_(concatenate)
{
    conv_ = register_module("Conv_0", conv1x1(dim1, dim2));
}

// layerspp.Combine.forward
torch::Tensor CombineImpl::forward(const torch::Tensor &x, const torch::Tensor &y)
{
    torch::Tensor h = conv_(x);                          // h: [B, dim2, H, W]
    return concatenate_ ? torch::cat({h, y}, 1) : h + y; // [B, 2 * dim2, H, W] or [B, dim2, H, W]
}

} // namespace sde
