#include "nets/resampling.h"

#include "util/error.h"

#include <map>
#include <mutex>
#include <sstream>
#include <string>

namespace sde {

namespace {

// Python's floor division, which the padding formulas rely on for negative values.
int64_t floorDiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        --q;
    return q;
}

// The depthwise weight [c, 1, k, k] of upfirdn2d for a CPU kernel, on `like`'s device and dtype,
// made once per (kernel, channels, device, dtype) and kept. Building it copies from host memory,
// which cannot happen inside a CUDA graph capture (util/cuda_graphs.h); the warm-up evaluations
// before a capture fill this cache. A kernel on another device is used as it is.
torch::Tensor firWeight(const torch::Tensor &kernel2d, int64_t channels, const torch::Tensor &like)
{
    auto make = [&] {
        torch::Tensor weight = torch::flip(kernel2d, {0, 1}).to(like.dtype()).to(like.device());
        return weight.view({1, 1, kernel2d.size(0), kernel2d.size(1)}).expand({channels, 1, -1, -1}).contiguous();
    };
    if (!kernel2d.device().is_cpu() || like.device().is_cpu())
        return make();
    std::ostringstream key;
    key << like.device() << '|' << like.scalar_type() << '|' << channels << '|' << kernel2d.sizes();
    const torch::Tensor values = kernel2d.to(torch::kFloat64).contiguous();
    const double *data = values.data_ptr<double>();
    key.precision(17);
    for (int64_t i = 0; i < values.numel(); ++i)
        key << ',' << data[i];
    static std::mutex mutex;
    static std::map<std::string, torch::Tensor> cache;
    std::lock_guard<std::mutex> lock(mutex);
    auto it = cache.find(key.str());
    if (it == cache.end()) {
        // An ordinary tensor even when first made inside InferenceMode: training saves it for
        // the backward pass.
        c10::InferenceMode normal(false);
        torch::NoGradGuard noGrad;
        it = cache.emplace(key.str(), make()).first;
    }
    return it->second;
}

} // namespace

// up_or_down_sampling._setup_kernel: k = np.outer(k, k) if k.ndim == 1; k /= np.sum(k)
torch::Tensor setupKernel(const std::vector<double> &kernel)
{
    torch::Tensor k = torch::tensor(kernel, torch::kFloat64).to(torch::kFloat32);
    torch::Tensor k2 = torch::outer(k, k);
    return k2 / k2.sum();
}

// op/upfirdn2d.py upfirdn2d_native, with up_x = up_y, down_x = down_y and symmetric pads.
torch::Tensor upfirdn2d(const torch::Tensor &x, const torch::Tensor &kernel2d, int64_t up, int64_t down, int64_t pad0,
                        int64_t pad1)
{
    const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
    torch::Tensor out = x;
    if (up > 1) {
        // Zero insertion: every input sample followed by up - 1 zeros on both axes.
        out = out.reshape({n, c, h, 1, w, 1});
        out = torch::constant_pad_nd(out, {0, up - 1, 0, 0, 0, up - 1});
        out = out.reshape({n, c, h * up, w * up}); // [B, C, H * up, W * up]
    }
    // Negative pads crop, as in the reference's native upfirdn2d.
    out = torch::constant_pad_nd(out, {pad0, pad1, pad0, pad1}); // [B, C, H * up + pad0 + pad1, ...]
    // A true convolution is a correlation with the flipped kernel, one channel at a time.
    const torch::Tensor weight = firWeight(kernel2d, c, out);
    const std::vector<int64_t> stride{down, down}, padding{0, 0}, dilation{1, 1};
    // Depthwise (groups = C), stride `down`: [B, C, (H * up + pad0 + pad1 - kh) / down + 1, ...]
    return torch::conv2d(out, weight, torch::Tensor(), stride, padding, dilation, c);
}

// up_or_down_sampling.upsample_2d: upfirdn2d(x, k * factor^2, up=factor, pad=((p + 1) // 2 + factor - 1, p // 2)).
// [B, C, H, W] -> [B, C, H * factor, W * factor]
torch::Tensor upsample2d(const torch::Tensor &x, const std::vector<double> &kernel, int64_t factor)
{
    torch::Tensor k = setupKernel(kernel) * static_cast<double>(factor * factor);
    const int64_t p = k.size(0) - factor;
    return upfirdn2d(x, k, factor, 1, floorDiv(p + 1, 2) + factor - 1, floorDiv(p, 2));
}

// up_or_down_sampling.downsample_2d: upfirdn2d(x, k, down=factor, pad=((p + 1) // 2, p // 2)).
// [B, C, H, W] -> [B, C, H / factor, W / factor]
torch::Tensor downsample2d(const torch::Tensor &x, const std::vector<double> &kernel, int64_t factor)
{
    torch::Tensor k = setupKernel(kernel);
    const int64_t p = k.size(0) - factor;
    return upfirdn2d(x, k, 1, factor, floorDiv(p + 1, 2), floorDiv(p, 2));
}

// up_or_down_sampling.upsample_conv_2d: conv_transpose2d with stride `factor`, then the FIR filter.
// x: [B, in, H, W], weight: [out, in, k, k] -> [B, out, H * factor, W * factor]
torch::Tensor upsampleConv2d(const torch::Tensor &x, const torch::Tensor &weight, const std::vector<double> &kernel,
                             int64_t factor)
{
    const int64_t convW = weight.size(3);
    torch::Tensor k = setupKernel(kernel) * static_cast<double>(factor * factor);
    const int64_t p = (k.size(0) - factor) - (convW - 1);
    // The transposed convolution wants [in, out, kh, kw] with the spatial taps flipped.
    torch::Tensor w = torch::flip(weight, {2, 3}).permute({1, 0, 2, 3}).contiguous();
    const std::vector<int64_t> stride{factor, factor}, padding{0, 0};
    // y: [B, out, (H - 1) * factor + convW, (W - 1) * factor + convW]
    torch::Tensor y = torch::conv_transpose2d(x, w, torch::Tensor(), stride, padding);
    return upfirdn2d(y, k, 1, 1, floorDiv(p + 1, 2) + factor - 1, floorDiv(p, 2) + 1);
}

// up_or_down_sampling.conv_downsample_2d: the FIR filter, then conv2d with stride `factor`.
// x: [B, in, H, W], weight: [out, in, k, k] -> [B, out, H / factor, W / factor]
torch::Tensor convDownsample2d(const torch::Tensor &x, const torch::Tensor &weight, const std::vector<double> &kernel,
                               int64_t factor)
{
    const int64_t convW = weight.size(3);
    torch::Tensor k = setupKernel(kernel);
    const int64_t p = (k.size(0) - factor) + (convW - 1);
    torch::Tensor y = upfirdn2d(x, k, 1, 1, floorDiv(p + 1, 2), floorDiv(p, 2)); // [B, in, H + convW - factor, ...]
    const std::vector<int64_t> stride{factor, factor}, padding{0, 0};
    return torch::conv2d(y, weight, torch::Tensor(), stride, padding);
}

// up_or_down_sampling.naive_upsample_2d: reshape to [B, C, H, 1, W, 1], repeat factor x factor,
// reshape to [B, C, H * factor, W * factor].
torch::Tensor naiveUpsample2d(const torch::Tensor &x, int64_t factor)
{
    const int64_t c = x.size(1), h = x.size(2), w = x.size(3);
    torch::Tensor y = x.reshape({-1, c, h, 1, w, 1}).repeat({1, 1, 1, factor, 1, factor});
    return y.reshape({-1, c, h * factor, w * factor});
}

// up_or_down_sampling.naive_downsample_2d: [B, C, H / f, f, W / f, f], mean over dims (3, 5)
// -> [B, C, H / factor, W / factor].
torch::Tensor naiveDownsample2d(const torch::Tensor &x, int64_t factor)
{
    const int64_t c = x.size(1), h = x.size(2), w = x.size(3);
    return x.reshape({-1, c, h / factor, factor, w / factor, factor}).mean({3, 5});
}

// up_or_down_sampling.Conv2d.__init__: weight = kernel_init((out_ch, in_ch, kernel, kernel)), bias zeros.
FirConv2dImpl::FirConv2dImpl(int64_t in, int64_t out, int64_t kernelSize, Mode mode, std::vector<double> firKernel)
    : mode_(mode), firKernel_(std::move(firKernel))
{
    weight = register_parameter("weight", defaultInit({out, in, kernelSize, kernelSize}));
    bias = register_parameter("bias", zerosInit({out}));
}

// up_or_down_sampling.Conv2d.forward: upsample_conv_2d, conv_downsample_2d or a plain 'same'
// conv2d, then + bias.reshape(1, -1, 1, 1).
torch::Tensor FirConv2dImpl::forward(const torch::Tensor &x)
{
    torch::Tensor y;
    switch (mode_) {
    case Mode::Up:
        y = upsampleConv2d(x, weight, firKernel_);
        break;
    case Mode::Down:
        y = convDownsample2d(x, weight, firKernel_);
        break;
    case Mode::Same: {
        const std::vector<int64_t> stride{1, 1}, padding{weight.size(2) / 2, weight.size(2) / 2};
        y = torch::conv2d(x, weight, torch::Tensor(), stride, padding);
        break;
    }
    }
    return y + bias.view({1, -1, 1, 1});
}

// layerspp.Upsample.__init__: Conv_0 = conv3x3(in_ch, out_ch) without FIR, Conv2d_0 =
// up_or_down_sampling.Conv2d(in_ch, out_ch, 3, up=True, resample_kernel=fir_kernel) with it.
UpsampleImpl::UpsampleImpl(const ResampleOptions &options) : options_(options)
{
    if (options_.out == 0)
        options_.out = options_.in;
    if (!options_.withConv)
        return;
    if (options_.fir)
        firConv_ = register_module(
            "Conv2d_0", FirConv2d(options_.in, options_.out, 3, FirConv2dImpl::Mode::Up, options_.firKernel));
    else
        conv_ = register_module("Conv_0", conv3x3(options_.in, options_.out));
}

// layerspp.Upsample.forward: x: [B, in, H, W] -> [B, out, 2H, 2W]
torch::Tensor UpsampleImpl::forward(const torch::Tensor &x)
{
    if (!options_.fir) {
        torch::Tensor h = naiveUpsample2d(x, 2); // F.interpolate(..., 'nearest') at exactly 2x
        return options_.withConv ? conv_(h) : h;
    }
    return options_.withConv ? firConv_(x) : upsample2d(x, options_.firKernel, 2);
}

// layerspp.Downsample.__init__: Conv_0 = conv3x3(in_ch, out_ch, stride=2, padding=0) without FIR,
// Conv2d_0 = up_or_down_sampling.Conv2d(in_ch, out_ch, 3, down=True, resample_kernel=fir_kernel) with it.
DownsampleImpl::DownsampleImpl(const ResampleOptions &options) : options_(options)
{
    if (options_.out == 0)
        options_.out = options_.in;
    if (!options_.withConv)
        return;
    if (options_.fir)
        firConv_ = register_module(
            "Conv2d_0", FirConv2d(options_.in, options_.out, 3, FirConv2dImpl::Mode::Down, options_.firKernel));
    else
        conv_ = register_module("Conv_0", conv3x3(options_.in, options_.out, 1.0, /*stride=*/2, /*padding=*/0));
}

// layerspp.Downsample.forward: x: [B, in, H, W] -> [B, out, H / 2, W / 2]
torch::Tensor DownsampleImpl::forward(const torch::Tensor &x)
{
    if (!options_.fir) {
        if (options_.withConv) // emulate TensorFlow's 'SAME' padding of a stride-2 conv: F.pad(x, (0, 1, 0, 1))
            return conv_(torch::constant_pad_nd(x, {0, 1, 0, 1})); // [B, in, H + 1, W + 1] -> [B, out, H / 2, W / 2]
        return torch::avg_pool2d(x, 2, 2);
    }
    return options_.withConv ? firConv_(x) : downsample2d(x, options_.firKernel, 2);
}

} // namespace sde
