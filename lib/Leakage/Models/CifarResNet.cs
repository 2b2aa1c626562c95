using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Leakage.Models;

/// <summary>
/// The shape of a CIFAR ResNet: block kind, blocks per stage, base width (the first stage's
/// channels; the stages have w, 2w, 4w, 8w, times 4 at the output of bottleneck blocks) and classes.
/// </summary>
public sealed record ResNetShape(bool Bottleneck, IReadOnlyList<int> Blocks, int Width, int Classes = CifarStats.Classes)
{
    static readonly (string Name, bool Bottleneck, int[] Blocks)[] Known =
    [
        ("resnet18", false, [2, 2, 2, 2]),
        ("resnet34", false, [3, 4, 6, 3]),
        ("resnet50", true, [3, 4, 6, 3]),
        ("resnet101", true, [3, 4, 23, 3]),
        ("resnet152", true, [3, 8, 36, 3]),
    ];

    /// <summary>The ResNet names this shape can have (MadryLab's <c>robustness.cifar_models</c> ResNets).</summary>
    public static IReadOnlyList<string> Names { get; } = Known.Select(k => k.Name).ToArray();

    /// <summary><c>resnet18</c> ... <c>resnet152</c>, or null for another block count.</summary>
    public string? Name => Known.FirstOrDefault(k => k.Bottleneck == Bottleneck && k.Blocks.SequenceEqual(Blocks)).Name;

    /// <summary>Width of the penultimate features.</summary>
    public int Features => 8 * Width * (Bottleneck ? Models.Bottleneck.Expansion : 1);
}

/// <summary>
/// A CIFAR ResNet as in MadryLab's <c>robustness/cifar_models/resnet.py</c> (the ResNet-50 that Ilyas
/// et al. attacked): the normalisation of its input (<see cref="InputNormalize"/>, with the
/// checkpoint's constants), a 3x3 stride-1 stem without max-pool, four stages of
/// <see cref="BasicBlock"/>s or <see cref="Bottleneck"/>s (strides 1, 2, 2, 2), global average
/// pooling and a linear layer. The state_dict keys are robustness's (<c>conv1</c>, <c>bn1</c>,
/// <c>layer1.0.conv1</c>, <c>layer2.0.shortcut.0</c>, <c>linear</c>) plus <c>normalize.mean/std</c>.
/// Built by <see cref="Checkpoints.CheckpointImport"/> for imported checkpoints; ResNet-50 at width 64
/// has 23.5 M parameters and costs about 1.3 G multiply-adds per image forward.
/// </summary>
public sealed class CifarResNet : Module<Tensor, Tensor>, ICifarClassifier, IFeatureModel
{
    readonly InputNormalize normalize;
    readonly Conv2d conv1;
    readonly BatchNorm2d bn1;
    readonly Sequential layer1, layer2, layer3, layer4;
    readonly Linear linear;

    /// <summary>Builds the network of <paramref name="shape"/>, normalising with <paramref name="mean"/>/<paramref name="std"/> (null: <see cref="CifarStats"/>).</summary>
    public CifarResNet(ResNetShape shape, IReadOnlyList<float>? mean = null, IReadOnlyList<float>? std = null) : base(nameof(CifarResNet))
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.Width < 1) throw new ArgumentOutOfRangeException(nameof(shape), shape.Width, "CifarResNet width must be at least 1.");
        if (shape.Blocks.Count != 4 || shape.Blocks.Any(b => b < 1))
            throw new ArgumentOutOfRangeException(nameof(shape), $"CifarResNet needs four stages of at least one block, got [{string.Join(", ", shape.Blocks)}].");
        if (shape.Classes < 2) throw new ArgumentOutOfRangeException(nameof(shape), shape.Classes, "CifarResNet needs at least 2 classes.");
        Shape = shape;
        int w = shape.Width;
        normalize = new InputNormalize(mean, std);
        conv1 = Conv2d(CifarStats.Channels, w, 3, stride: 1, padding: 1, bias: false);
        bn1 = BatchNorm2d(w);
        int channels = w;
        layer1 = Stage(ref channels, w, shape.Blocks[0], 1, shape.Bottleneck);
        layer2 = Stage(ref channels, 2 * w, shape.Blocks[1], 2, shape.Bottleneck);
        layer3 = Stage(ref channels, 4 * w, shape.Blocks[2], 2, shape.Bottleneck);
        layer4 = Stage(ref channels, 8 * w, shape.Blocks[3], 2, shape.Bottleneck);
        linear = Linear(channels, shape.Classes);
        RegisterComponents();
    }

    static Sequential Stage(ref int channels, int planes, int blocks, int stride, bool bottleneck)
    {
        var list = new List<Module<Tensor, Tensor>>();
        for (int i = 0; i < blocks; i++)
        {
            int s = i == 0 ? stride : 1;
            if (bottleneck)
            {
                list.Add(new Bottleneck(channels, planes, s));
                channels = Bottleneck.Expansion * planes;
            }
            else
            {
                list.Add(new BasicBlock(channels, planes, s));
                channels = planes;
            }
        }
        return Sequential(list);
    }

    /// <summary>Block kind, blocks per stage, width and classes.</summary>
    public ResNetShape Shape { get; }

    /// <inheritdoc/>
    public string Arch => Shape.Name ?? $"resnet-{(Shape.Bottleneck ? "bottleneck" : "basic")}-{string.Join("-", Shape.Blocks)}";

    /// <inheritdoc/>
    public int Width => Shape.Width;

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
        var h = functional.relu(bn1.forward(conv1.forward(MemoryLayout.ChannelsLastOnCpu(normalize.forward(x)))));
        h = layer4.forward(layer3.forward(layer2.forward(layer1.forward(h))));
        return h.mean([2, 3]);
    }
}
