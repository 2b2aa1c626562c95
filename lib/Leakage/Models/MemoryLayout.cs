using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Models;

/// <summary>Memory layout of the classifiers' activations.</summary>
internal static class MemoryLayout
{
    /// <summary>
    /// On the CPU, <paramref name="x"/> (N x C x H x W) with channels-last strides (NHWC in memory; the
    /// shape and values are unchanged); on other devices <paramref name="x"/> itself.
    /// <para>
    /// Why: oneDNN's CPU convolutions read and write NHWC directly, while NCHW activations are
    /// reordered to a blocked layout and back on every call, and libtorch's NCHW max-pool (with the
    /// indices autograd needs) is a slow scalar loop. Measured on 2 Xeon cores (libtorch 2.10, runs
    /// interleaved) with SmallCnn width 32 at the cpu profile's batches (500 / 256): L2 PGD about 950 ->
    /// 1,700 image-steps/s and training about 980 -> 1,650 images/s; ResNet-18 width 32, batch 64: PGD
    /// +15%, training +5%. Convolutions, pooling, batch norm, ReLU and their gradients keep the
    /// layout, so converting the small 3-channel input once carries it through the whole network.
    /// CUDA is left to cuDNN's choice.
    /// </para>
    /// </summary>
    internal static Tensor ChannelsLastOnCpu(Tensor x) =>
        x.device.type == DeviceType.CPU && x.dim() == 4 ? x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2) : x;
}
