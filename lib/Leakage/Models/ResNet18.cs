using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Leakage.Models;

/// <summary>
/// ResNet-18, CIFAR variant (as in MadryLab's <c>robustness</c> and K. Liu's pytorch-cifar): a 3x3
/// stride-1 stem without max-pool, four stages of two <see cref="BasicBlock"/>s with widths
/// w, 2w, 4w, 8w (w = 64: 11.2 M parameters, about 0.56 G multiply-adds per image), global average
/// pooling and a linear layer. Meant for GPUs; on a CPU prefer <see cref="SmallCnn"/>.
/// </summary>
public sealed class ResNet18 : Module<Tensor, Tensor>, ICifarClassifier, IFeatureModel, IBatchNormFoldable
{
    /// <summary>Default base width.</summary>
    public const int DefaultWidth = 64;

    readonly InputNormalize normalize;
    readonly Conv2d conv1;
    readonly BatchNorm2d bn1;
    readonly Sequential layer1, layer2, layer3, layer4;
    readonly Linear linear;
    Tensor? foldedWeight, foldedBias; // the stem's folded conv1 + bn1 (a folded copy)

    /// <summary>Builds the network with base width <paramref name="width"/>.</summary>
    public ResNet18(int width = DefaultWidth, int classes = CifarStats.Classes) : base(nameof(ResNet18))
    {
        if (width < 1) throw new ArgumentOutOfRangeException(nameof(width), width, "ResNet18 width must be at least 1.");
        if (classes < 2) throw new ArgumentOutOfRangeException(nameof(classes), classes, "ResNet18 needs at least 2 classes.");
        Width = width;
        normalize = new InputNormalize();
        conv1 = Conv2d(CifarStats.Channels, width, 3, stride: 1, padding: 1, bias: false);
        bn1 = BatchNorm2d(width);
        layer1 = Stage(width, width, stride: 1);
        layer2 = Stage(width, 2 * width, stride: 2);
        layer3 = Stage(2 * width, 4 * width, stride: 2);
        layer4 = Stage(4 * width, 8 * width, stride: 2);
        linear = Linear(8 * width, classes);
        RegisterComponents();
    }

    static Sequential Stage(int inChannels, int outChannels, int stride) =>
        Sequential(new BasicBlock(inChannels, outChannels, stride), new BasicBlock(outChannels, outChannels, 1));

    /// <inheritdoc/>
    public string Arch => ModelFactory.ResNet18Arch;

    /// <inheritdoc/>
    public int Width { get; }

    /// <summary>x: N x 3 x 32 x 32 pixels in [0, 1]; returns N x classes logits.</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return linear.forward(Penultimate(x)).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public long FeatureCount => linear.in_features;

    /// <inheritdoc/>
    public Tensor Features(Tensor x)
    {
        using var scope = NewDisposeScope();
        return Penultimate(x).MoveToOuterDisposeScope();
    }

    Tensor Penultimate(Tensor x)
    {
        var input = MemoryLayout.ChannelsLastOnCpu(normalize.forward(x));
        var h = functional.relu(foldedWeight is { } w ? BatchNormFold.Apply(input, w, foldedBias!, stride: 1, padding: 1) : bn1.forward(conv1.forward(input)));
        h = layer4.forward(layer3.forward(layer2.forward(layer1.forward(h))));
        return h.mean([2, 3]);
    }

    /// <inheritdoc/>
    public nn.Module<Tensor, Tensor> FoldedCopy()
    {
        var copy = new ResNet18(Width, (int)linear.out_features);
        copy.to(conv1.weight!.device);
        copy.to(conv1.weight.dtype);
        BatchNormFold.CopyState(this, copy);
        copy.eval();
        (copy.foldedWeight, copy.foldedBias) = BatchNormFold.Fold(copy.conv1, copy.bn1);
        copy.register_buffer("folded1_weight", copy.foldedWeight);
        copy.register_buffer("folded1_bias", copy.foldedBias);
        foreach (var layer in new[] { copy.layer1, copy.layer2, copy.layer3, copy.layer4 })
            foreach (var block in layer.children().OfType<BasicBlock>()) block.Fold();
        return copy;
    }
}
