using Leakage.Models;

namespace Leakage.Benchmarks;

/// <summary>
/// One multiply-accumulate layer of a classifier: a convolution (kernel k x k, no groups) or a linear
/// layer (k = 1, output 1 x 1), with the spatial size of its output.
/// </summary>
/// <param name="Name">Layer name as in the model (e.g. <c>conv2</c>, <c>layer3.0.shortcut</c>, <c>fc</c>).</param>
/// <param name="InChannels">Input channels (input features of a linear layer).</param>
/// <param name="OutChannels">Output channels (output features).</param>
/// <param name="Kernel">Kernel side k (1 for a linear layer).</param>
/// <param name="OutputSize">Side of the square output map (1 for a linear layer).</param>
public sealed record MacLayer(string Name, int InChannels, int OutChannels, int Kernel, int OutputSize)
{
    /// <summary>Weights of the layer (biases excluded): in x out x k x k.</summary>
    public long Weights => (long)InChannels * OutChannels * Kernel * Kernel;

    /// <summary>Multiply-adds per image: every weight is used once per output position.</summary>
    public long Macs => Weights * OutputSize * OutputSize;
}

/// <summary>
/// Analytic cost of the CIFAR classifiers, from their layer shapes (32 x 32 inputs).
/// <para>
/// Convention, used by <c>bench</c> for model-FLOP utilisation: only convolutions and linear layers
/// count, at 2 FLOP per multiply-add; batch norm, ReLU, pooling, input normalisation, the loss and
/// optimiser updates are not counted (they are memory-bound and cost well under 5% of the
/// multiply-adds here). A forward pass costs F = 2 x MACs per image. A training step costs 3F per image
/// (forward, gradient w.r.t. activations, gradient w.r.t. weights; the first convolution's input
/// gradient, which autograd skips, is counted all the same). One PGD step costs 2F per image (forward
/// and input gradient; the parameters are frozen, so no weight gradients); the attack's final
/// evaluation forward and its keep-best bookkeeping are not counted. Utilisations computed with these
/// figures are therefore slight underestimates.
/// </para>
/// </summary>
public static class ModelFlops
{
    /// <summary>FLOP per multiply-add.</summary>
    public const int FlopPerMac = 2;

    /// <summary>Forward passes' worth of FLOP in one training step per image (forward + two backward products).</summary>
    public const int TrainingForwardMultiple = 3;

    /// <summary>Forward passes' worth of FLOP in one PGD step per image (forward + input gradient; no weight gradient).</summary>
    public const int PgdForwardMultiple = 2;

    /// <summary>One-line statement of the convention, written into bench.json.</summary>
    public const string Convention =
        "conv and linear layers only, 2 FLOP per multiply-add; forward F = 2 x MACs per image; " +
        "training step = 3F per image (forward + activation and weight gradients); " +
        "PGD step = 2F per image (forward + input gradient, parameters frozen; final evaluation pass not counted); " +
        "MFU = achieved FLOP/s / measured float32 matmul FLOP/s";

    /// <summary>
    /// The multiply-add layers of <paramref name="arch"/> at base width <paramref name="width"/>, in
    /// forward order.
    /// </summary>
    /// <exception cref="ArgumentException">Unknown architecture.</exception>
    public static IReadOnlyList<MacLayer> Layers(string arch, int width, int classes = CifarStats.Classes)
    {
        if (width < 1) throw new ArgumentOutOfRangeException(nameof(width), width, "width must be at least 1");
        return ModelFactory.Canonical(arch) switch
        {
            ModelFactory.SmallCnnArch => SmallCnnLayers(width, classes),
            ModelFactory.AirbenchArch => AirbenchLayers(width, classes),
            ModelFactory.ResNet9Arch => ResNet9Layers(width, classes),
            _ => ResNet18Layers(width, classes),
        };
    }

    /// <summary>Multiply-adds of one forward pass of one image.</summary>
    public static long ForwardMacs(string arch, int width, int classes = CifarStats.Classes) =>
        Layers(arch, width, classes).Sum(l => l.Macs);

    /// <summary>FLOP of one forward pass of one image (2 x <see cref="ForwardMacs"/>).</summary>
    public static double ForwardFlops(string arch, int width, int classes = CifarStats.Classes) =>
        (double)FlopPerMac * ForwardMacs(arch, width, classes);

    // SmallCnn: 3x3 convs w, 2w, 4w, 8w at 32, 16, 8, 4 pixels (each of the first three is followed by
    // a 2x2 max-pool, so the next conv sees half the resolution); global max-pool; linear 8w -> classes.
    static List<MacLayer> SmallCnnLayers(int w, int classes) =>
    [
        new("conv1", CifarStats.Channels, w, 3, 32),
        new("conv2", w, 2 * w, 3, 16),
        new("conv3", 2 * w, 4 * w, 3, 8),
        new("conv4", 4 * w, 8 * w, 3, 4),
        new("fc", 8 * w, classes, 1, 1),
    ];

    // airbench94: a 2x2 whitening conv to 24 channels at 31 pixels (no padding); three groups whose
    // first 3x3 conv runs before the 2x2 max-pool (31, 15, 7 pixels) and second after it (15, 7, 3);
    // widths w, 4w, 4w; a 3x3 max-pool; linear 4w -> classes.
    static List<MacLayer> AirbenchLayers(int w, int classes) =>
    [
        new("whiten", CifarStats.Channels, 24, 2, 31),
        new("group1.conv1", 24, w, 3, 31),
        new("group1.conv2", w, w, 3, 15),
        new("group2.conv1", w, 4 * w, 3, 15),
        new("group2.conv2", 4 * w, 4 * w, 3, 7),
        new("group3.conv1", 4 * w, 4 * w, 3, 7),
        new("group3.conv2", 4 * w, 4 * w, 3, 3),
        new("head", 4 * w, classes, 1, 1),
    ];

    // Keller Jordan's ResNet-9: 3x3 w at 32; 5x5 stride 2 to 2w at 16; a residual pair at 2w, 16; 3x3 to
    // 4w at 16, then a 2x2 max-pool; a residual pair at 4w, 8; an unpadded 3x3 to 2w at 6; linear 2w -> classes.
    static List<MacLayer> ResNet9Layers(int w, int classes) =>
    [
        new("prep", CifarStats.Channels, w, 3, 32),
        new("down", w, 2 * w, 5, 16),
        new("res1.a", 2 * w, 2 * w, 3, 16),
        new("res1.b", 2 * w, 2 * w, 3, 16),
        new("widen", 2 * w, 4 * w, 3, 16),
        new("res2.a", 4 * w, 4 * w, 3, 8),
        new("res2.b", 4 * w, 4 * w, 3, 8),
        new("narrow", 4 * w, 2 * w, 3, 6),
        new("head", 2 * w, classes, 1, 1),
    ];

    // CIFAR ResNet-18: 3x3 stem at 32; four stages of two basic blocks (two 3x3 convs each) with widths
    // w, 2w, 4w, 8w at 32, 16, 8, 4 pixels; stages 2-4 start with a stride-2 block whose shortcut is a
    // 1x1 stride-2 conv; global average pool; linear 8w -> classes.
    static List<MacLayer> ResNet18Layers(int w, int classes)
    {
        var layers = new List<MacLayer> { new("conv1", CifarStats.Channels, w, 3, 32) };
        int inChannels = w;
        for (int stage = 0; stage < 4; stage++)
        {
            int outChannels = w << stage, size = 32 >> stage;
            for (int block = 0; block < 2; block++)
            {
                var prefix = $"layer{stage + 1}.{block}";
                layers.Add(new($"{prefix}.conv1", inChannels, outChannels, 3, size));
                layers.Add(new($"{prefix}.conv2", outChannels, outChannels, 3, size));
                if (inChannels != outChannels) layers.Add(new($"{prefix}.shortcut", inChannels, outChannels, 1, size));
                inChannels = outChannels;
            }
        }
        layers.Add(new("linear", 8 * w, classes, 1, 1));
        return layers;
    }
}
