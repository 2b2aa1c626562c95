using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Leakage.Models;

/// <summary>
/// WideResNet-d-k for CIFAR as in the TRADES / RobustBench code (many published robust CIFAR-10
/// models): the input normalisation (<see cref="InputNormalize"/>), a 3x3 conv to 16 channels, three
/// <see cref="WideStage"/>s of n = (d - 4) / 6 pre-activation blocks with 16k, 32k, 64k channels
/// (strides 1, 2, 2), BN-ReLU, global average pooling and <c>fc</c>. Keys: <c>conv1</c>,
/// <c>block1.layer.0.bn1</c>, ..., <c>bn1</c>, <c>fc</c>, plus <c>normalize.mean/std</c>.
/// Built by <see cref="Checkpoints.CheckpointImport"/> for imported checkpoints.
/// </summary>
public sealed class WideResNet : Module<Tensor, Tensor>, ICifarClassifier, IFeatureModel
{
    readonly InputNormalize normalize;
    readonly Conv2d conv1;
    readonly WideStage block1, block2, block3;
    readonly BatchNorm2d bn1;
    readonly Linear fc;

    /// <summary>WRN with <paramref name="blocks"/> blocks per stage and widen factor <paramref name="widen"/>.</summary>
    public WideResNet(int blocks, int widen, int classes = CifarStats.Classes, IReadOnlyList<float>? mean = null, IReadOnlyList<float>? std = null)
        : base(nameof(WideResNet))
    {
        if (blocks < 1) throw new ArgumentOutOfRangeException(nameof(blocks), blocks, "WideResNet needs at least one block per stage.");
        if (widen < 1) throw new ArgumentOutOfRangeException(nameof(widen), widen, "WideResNet widen factor must be at least 1.");
        if (classes < 2) throw new ArgumentOutOfRangeException(nameof(classes), classes, "WideResNet needs at least 2 classes.");
        (Blocks, Widen) = (blocks, widen);
        normalize = new InputNormalize(mean, std);
        conv1 = Conv2d(CifarStats.Channels, 16, 3, stride: 1, padding: 1, bias: false);
        block1 = new WideStage(16, 16 * widen, blocks, 1);
        block2 = new WideStage(16 * widen, 32 * widen, blocks, 2);
        block3 = new WideStage(32 * widen, 64 * widen, blocks, 2);
        bn1 = BatchNorm2d(64 * widen);
        fc = Linear(64 * widen, classes);
        RegisterComponents();
    }

    /// <summary>Blocks per stage.</summary>
    public int Blocks { get; }

    /// <summary>Widen factor k.</summary>
    public int Widen { get; }

    /// <summary><c>wrn-d-k</c>, e.g. <c>wrn-28-10</c>.</summary>
    public string Arch => $"wrn-{6 * Blocks + 4}-{Widen}";

    /// <summary>Channels of the first stage (16 k).</summary>
    public int Width => 16 * Widen;

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
        var h = conv1.forward(MemoryLayout.ChannelsLastOnCpu(normalize.forward(x)));
        h = block3.forward(block2.forward(block1.forward(h)));
        return functional.relu(bn1.forward(h)).mean([2, 3]);
    }
}
