using Leakage.Native;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Leakage.Models;

/// <summary>
/// The default CPU classifier: four 3x3 conv stages of widths w, 2w, 4w, 8w, each followed by
/// batch norm and ReLU; the first three halve the resolution with a 2x2 max-pool (32 -> 16 -> 8 -> 4);
/// then a global max-pool and a linear layer to 10 logits.
/// <para>
/// Max-pooling comes straight after each convolution, before batch norm and ReLU (the order used in
/// D. Page's fast CIFAR ResNets): the per-pixel BN and ReLU then run on a quarter of the activations,
/// which matters on a CPU where those memory-bound layers cost as much as the small convolutions.
/// </para>
/// <para>
/// At the default width 24 the model has 0.22 M parameters and costs 8.6 M multiply-adds (17 MFLOP)
/// per image forward; 12 epochs of the default <see cref="Training.TrainingOptions"/> reach 82.6%
/// CIFAR-10 test accuracy (width 32: 84.3%, at 0.39 M parameters and 15 M multiply-adds).
/// On the CPU the activations are kept channels-last (<see cref="MemoryLayout"/>). Measured on 2
/// shared Xeon cores (AVX-512, libtorch 2.10) at width 32 and the cpu profile's batch sizes: about
/// 1,700 L2-PGD image-steps/s and 1,650 training images/s, 1.7-1.8x the NCHW layout; width 24 runs
/// about 1.3x faster. <c>leakage bench</c> measures this on any machine.
/// </para>
/// </summary>
public sealed class SmallCnn : Module<Tensor, Tensor>, ICifarClassifier, IFeatureModel, IBatchNormFoldable
{
    /// <summary>Default base width.</summary>
    public const int DefaultWidth = 24;

    readonly InputNormalize normalize;
    readonly Conv2d conv1, conv2, conv3, conv4;
    readonly BatchNorm2d bn1, bn2, bn3, bn4;
    readonly Linear fc;

    // A folded copy's stages (FoldedCopy): the weight s W and bias t of each stage whose batch norm is
    // folded, null where it is kept. A batch norm after the max-pool folds only where every scale is
    // positive: s max(z) + t = max(s z + t) needs s > 0.
    readonly Tensor?[] foldedWeight = new Tensor?[4], foldedBias = new Tensor?[4];

    /// <summary>Builds the network with base width <paramref name="width"/> (channels w, 2w, 4w, 8w).</summary>
    public SmallCnn(int width = DefaultWidth, int classes = CifarStats.Classes) : base(nameof(SmallCnn))
    {
        if (width < 1) throw new ArgumentOutOfRangeException(nameof(width), width, "SmallCnn width must be at least 1.");
        if (classes < 2) throw new ArgumentOutOfRangeException(nameof(classes), classes, "SmallCnn needs at least 2 classes.");
        Width = width;
        normalize = new InputNormalize();
        conv1 = Conv2d(CifarStats.Channels, width, 3, padding: 1, bias: false);
        bn1 = BatchNorm2d(width);
        conv2 = Conv2d(width, 2 * width, 3, padding: 1, bias: false);
        bn2 = BatchNorm2d(2 * width);
        conv3 = Conv2d(2 * width, 4 * width, 3, padding: 1, bias: false);
        bn3 = BatchNorm2d(4 * width);
        conv4 = Conv2d(4 * width, 8 * width, 3, padding: 1, bias: false);
        bn4 = BatchNorm2d(8 * width);
        fc = Linear(8 * width, classes);
        RegisterComponents();
    }

    /// <inheritdoc/>
    public string Arch => ModelFactory.SmallCnnArch;

    /// <inheritdoc/>
    public int Width { get; }

    /// <summary>x: N x 3 x 32 x 32 pixels in [0, 1]; returns N x classes logits.</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return fc.forward(Penultimate(x)).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public long FeatureCount => fc.in_features;

    /// <inheritdoc/>
    public Tensor Features(Tensor x)
    {
        using var scope = NewDisposeScope();
        return Penultimate(x).MoveToOuterDisposeScope();
    }

    Tensor Penultimate(Tensor x)
    {
        var h = MemoryLayout.ChannelsLastOnCpu(normalize.forward(x));
        h = Stage(0, conv1, bn1, h, pool: true);
        h = Stage(1, conv2, bn2, h, pool: true);
        h = Stage(2, conv3, bn3, h, pool: true);
        h = Stage(3, conv4, bn4, h, pool: false);
        return h.amax([2, 3]);
    }

    /// <summary>conv, max-pool (stages 1-3), batch norm, ReLU; with the batch norm folded into the convolution's bias where <see cref="FoldedCopy"/> folded it.</summary>
    Tensor Stage(int i, Conv2d conv, BatchNorm2d bn, Tensor h, bool pool)
    {
        if (foldedWeight[i] is { } w)
        {
            h = BatchNormFold.Apply(h, w, foldedBias[i]!, stride: 1, padding: 1);
            return functional.relu(pool ? functional.max_pool2d(h, 2) : h);
        }
        h = conv.forward(h);
        return functional.relu(bn.forward(pool ? functional.max_pool2d(h, 2) : h));
    }

    /// <inheritdoc/>
    public nn.Module<Tensor, Tensor> FoldedCopy()
    {
        var copy = new SmallCnn(Width, (int)fc.out_features);
        copy.to(conv1.weight!.device);
        copy.to(conv1.weight.dtype);
        BatchNormFold.CopyState(this, copy);
        copy.eval();
        var stages = new[] { (copy.conv1, copy.bn1, true), (copy.conv2, copy.bn2, true), (copy.conv3, copy.bn3, true), (copy.conv4, copy.bn4, false) };
        for (int i = 0; i < stages.Length; i++)
        {
            var (conv, bn, pooled) = stages[i];
            if (pooled && !AllScalesPositive(bn)) continue;
            var (w, b) = BatchNormFold.Fold(conv, bn);
            // Buffers, so the copy's fingerprint differs from the model's and an attack on it caches apart.
            copy.register_buffer($"folded{i + 1}_weight", w);
            copy.register_buffer($"folded{i + 1}_bias", b);
            copy.foldedWeight[i] = w;
            copy.foldedBias[i] = b;
        }
        return copy;
    }

    static bool AllScalesPositive(BatchNorm2d bn)
    {
        using var scope = NewDisposeScope();
        return BatchNormFold.Affine(bn).Scale.gt(Scalars.Zero).all().item<bool>();
    }

    /// <summary>How many of the four batch norms are folded (a folded copy; 0 for a model).</summary>
    public int FoldedStages => foldedWeight.Count(w => w is not null);
}
