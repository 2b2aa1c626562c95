using Leakage.Native;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Leakage.Models;

/// <summary>
/// The small residual network of Keller Jordan's Ilyas et al. replication (github.com/KellerJordan/cifar10-zoo,
/// <c>adversarial/model.py</c>, after ffcv's CIFAR example): conv 3x3 (w) - conv 5x5 stride 2 (2w) -
/// residual pair (2w) - conv 3x3 (4w) - max-pool 2 - residual pair (4w) - conv 3x3 unpadded (2w) -
/// global max-pool - linear (no bias) scaled by 0.2; every convolution is followed by batch norm (scale
/// frozen at 1) and ReLU. As the transfer model it is the lever his runs name: the same D_rand gave
/// 86.7% with it and 11% with a ResNet-18. At width 64 it costs 0.29 G multiply-adds per image forward
/// (about 9x airbench at width 32; width 32 costs a quarter of that). Pixels in [0, 1] go in: the normalisation is inside.
/// </summary>
public sealed class ResNet9 : Module<Tensor, Tensor>, ICifarClassifier, IFeatureModel
{
    /// <summary>His width multiplier 1.0: 64, 128 and 256 channels.</summary>
    public const int DefaultWidth = 64;

    const double LogitScale = 0.2;
    static readonly Scalar LogitScaleScalar = Scalars.Constant(LogitScale); // kept for the process (Native/Scalars.cs)

    readonly InputNormalize normalize;
    readonly Sequential prep, down, res1, widen, res2, narrow;
    readonly Linear head;

    public ResNet9(int width = DefaultWidth, int classes = CifarStats.Classes) : base(nameof(ResNet9))
    {
        if (width < 1) throw new ArgumentOutOfRangeException(nameof(width), width, "ResNet9 width must be at least 1.");
        if (classes < 2) throw new ArgumentOutOfRangeException(nameof(classes), classes, "ResNet9 needs at least 2 classes.");
        Width = width;
        int w1 = width, w2 = 2 * width, w3 = 4 * width;
        normalize = new InputNormalize();
        prep = ConvBn(CifarStats.Channels, w1, 3, 1, 1);
        down = ConvBn(w1, w2, 5, 2, 2);
        res1 = Sequential(("a", ConvBn(w2, w2, 3, 1, 1)), ("b", ConvBn(w2, w2, 3, 1, 1)));
        widen = ConvBn(w2, w3, 3, 1, 1);
        res2 = Sequential(("a", ConvBn(w3, w3, 3, 1, 1)), ("b", ConvBn(w3, w3, 3, 1, 1)));
        narrow = ConvBn(w3, w2, 3, 1, 0);
        head = Linear(w2, classes, hasBias: false);
        RegisterComponents();
    }

    static Sequential ConvBn(int channelsIn, int channelsOut, int kernel, int stride, int padding)
    {
        var bn = BatchNorm2d(channelsOut);
        bn.weight!.requires_grad = false;
        return Sequential(("conv", Conv2d(channelsIn, channelsOut, kernel, stride: stride, padding: padding, bias: false)), ("bn", bn), ("relu", ReLU()));
    }

    public string Arch => ModelFactory.ResNet9Arch;

    public int Width { get; }

    public long FeatureCount => head.in_features;

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return head.forward(Penultimate(x)).MoveToOuterDisposeScope();
    }

    /// <summary>The pooled features scaled by 0.2, so that the linear head maps them to the logits (<see cref="IFeatureModel"/>'s contract).</summary>
    public Tensor Features(Tensor x)
    {
        using var scope = NewDisposeScope();
        return Penultimate(x).MoveToOuterDisposeScope();
    }

    Tensor Penultimate(Tensor x)
    {
        var h = MemoryLayout.ChannelsLastOnCpu(normalize.forward(x));
        h = down.forward(prep.forward(h));
        h = h + res1.forward(h);
        h = functional.max_pool2d(widen.forward(h), 2);
        h = h + res2.forward(h);
        h = narrow.forward(h);
        return h.amax(new long[] { 2, 3 }).mul(LogitScaleScalar);
    }
}
