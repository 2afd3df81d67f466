#include "nets/blocks.h"

#include <cmath>

namespace sde {

torch::Tensor residualSum(const torch::Tensor &x, const torch::Tensor &h, bool skipRescale)
{
    return skipRescale ? (x + h) / std::sqrt(2.0) : x + h;
}

AttnBlockImpl::AttnBlockImpl(const AttnBlockOptions &options) : options_(options)
{
    const int64_t c = options.channels;
    norm_ = register_module("GroupNorm_0", GroupNorm(options.ddpmGroups ? 32 : groupsFor(c), c));
    q_ = register_module("NIN_0", Nin(c, c));
    k_ = register_module("NIN_1", Nin(c, c));
    v_ = register_module("NIN_2", Nin(c, c));
    out_ = register_module("NIN_3", Nin(c, c, options.initScale));
}

torch::Tensor AttnBlockImpl::forward(const torch::Tensor &x)
{
    const int64_t b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
    torch::Tensor normed = norm_(x);
    torch::Tensor q = q_(normed).reshape({b, c, h * w});
    torch::Tensor k = k_(normed).reshape({b, c, h * w});
    torch::Tensor v = v_(normed).reshape({b, c, h * w});
    // w[b, p, q] = <q_p, k_q> / sqrt(C), softmax over q; out[b, c, p] = sum_q w[b, p, q] v[b, c, q]
    const double scale = std::pow(static_cast<double>(c), -0.5);
    torch::Tensor attended;
    if (useOneDnn(x)) {
        std::vector<torch::Tensor> parts;
        for (int64_t i = 0; i < b; ++i) {
            torch::Tensor weights = torch::softmax(oneDnnMatmulTransposed(q[i].t(), k[i].t()) * scale, -1);
            parts.push_back(oneDnnMatmulTransposed(v[i], weights));
        }
        attended = torch::stack(parts).reshape({b, c, h, w});
    } else {
        torch::Tensor weights = torch::softmax(torch::bmm(q.transpose(1, 2), k) * scale, -1);
        attended = torch::bmm(v, weights.transpose(1, 2)).reshape({b, c, h, w});
    }
    return residualSum(x, out_(attended), options_.skipRescale);
}

ResnetBlockDdpmppImpl::ResnetBlockDdpmppImpl(const ResnetBlockOptions &options) : options_(options)
{
    if (options_.out == 0)
        options_.out = options_.in;
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

torch::Tensor ResnetBlockDdpmppImpl::forward(const torch::Tensor &x, const torch::Tensor &temb)
{
    torch::Tensor h = conv0_(activate(options_.act, norm0_(x)));
    if (temb.defined() && dense0_)
        h = h + dense0_(activate(options_.act, temb)).unsqueeze(-1).unsqueeze(-1);
    h = activate(options_.act, norm1_(h));
    h = torch::dropout(h, options_.dropout, is_training());
    h = conv1_(h);
    torch::Tensor shortcut = x;
    if (x.size(1) != options_.out)
        shortcut = options_.convShortcut ? conv2_(x) : nin0_(x);
    return residualSum(shortcut, h, options_.skipRescale);
}

ResnetBlockBigGanImpl::ResnetBlockBigGanImpl(const ResnetBlockOptions &options) : options_(options)
{
    if (options_.out == 0)
        options_.out = options_.in;
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

torch::Tensor ResnetBlockBigGanImpl::forward(const torch::Tensor &input, const torch::Tensor &temb)
{
    torch::Tensor x = input;
    torch::Tensor h = activate(options_.act, norm0_(x));
    if (options_.up) {
        h = options_.fir ? upsample2d(h, options_.firKernel) : naiveUpsample2d(h);
        x = options_.fir ? upsample2d(x, options_.firKernel) : naiveUpsample2d(x);
    } else if (options_.down) {
        h = options_.fir ? downsample2d(h, options_.firKernel) : naiveDownsample2d(h);
        x = options_.fir ? downsample2d(x, options_.firKernel) : naiveDownsample2d(x);
    }
    h = conv0_(h);
    if (temb.defined() && dense0_)
        h = h + dense0_(activate(options_.act, temb)).unsqueeze(-1).unsqueeze(-1);
    h = activate(options_.act, norm1_(h));
    h = torch::dropout(h, options_.dropout, is_training());
    h = conv1_(h);
    if (conv2_)
        x = conv2_(x);
    return residualSum(x, h, options_.skipRescale);
}

CombineImpl::CombineImpl(int64_t dim1, int64_t dim2, bool concatenate) : concatenate_(concatenate)
{
    conv_ = register_module("Conv_0", conv1x1(dim1, dim2));
}

torch::Tensor CombineImpl::forward(const torch::Tensor &x, const torch::Tensor &y)
{
    torch::Tensor h = conv_(x);
    return concatenate_ ? torch::cat({h, y}, 1) : h + y;
}

} // namespace sde
