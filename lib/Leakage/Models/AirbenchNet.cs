using Leakage.Native;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Leakage.Models;

/// <summary>
/// Keller Jordan's airbench94 network (github.com/KellerJordan/cifar10-airbench, lib_airbench94.py):
/// a fixed 2x2 whitening convolution (24 channels: the 12 eigenvectors of the training images' 2x2
/// patch covariance, scaled by 1/sqrt(eigenvalue), and their negatives), GELU, three
/// <see cref="AirbenchGroup"/>s of widths (w, 4w, 4w), a 3x3 max-pool and a linear head scaled by 1/9.
/// With its recipe (<see cref="Training.TrainingOptions"/> with <see cref="Training.LrSchedule.Airbench"/>,
/// batch-norm learning rate x64, lookahead, alternating flip and 2-pixel translation) it reaches about
/// 94% on CIFAR-10 in 10 epochs at width 64 (0.24 GFLOP per image forward), which is the accuracy at
/// which targeted L2 attacks at eps 0.5 reach their targets for nearly every image (docs/fidelity.md).
/// Pixels in [0, 1] go in: the normalisation is inside, so attacks work in pixel space.
/// </summary>
public sealed class AirbenchNet : Module<Tensor, Tensor>, ICifarClassifier, IFeatureModel, IBatchNormFoldable, ITrainingHooks
{
    /// <summary>airbench94's first-group width (64, then 256 and 256).</summary>
    public const int DefaultWidth = 64;

    /// <summary>Epochs during which the whitening layer's bias trains; it is frozen afterwards (airbench94: 3).</summary>
    public const int WhitenBiasEpochs = 3;

    /// <summary>Training images whose 2x2 patches estimate the whitening (airbench94: 5,000).</summary>
    public const int WhiteningImages = 5_000;

    const int WhitenKernel = 2, WhitenChannels = 2 * CifarStats.Channels * WhitenKernel * WhitenKernel;
    const double LogitScale = 1.0 / 9;
    static readonly Scalar LogitScaleScalar = Scalars.Constant(LogitScale); // kept for the process (Native/Scalars.cs)

    readonly InputNormalize normalize;
    readonly Conv2d whiten;
    readonly AirbenchGroup group1, group2, group3;
    readonly Linear head;

    public AirbenchNet(int width = DefaultWidth, int classes = CifarStats.Classes) : base(nameof(AirbenchNet))
    {
        if (width < 1) throw new ArgumentOutOfRangeException(nameof(width), width, "AirbenchNet width must be at least 1.");
        if (classes < 2) throw new ArgumentOutOfRangeException(nameof(classes), classes, "AirbenchNet needs at least 2 classes.");
        Width = width;
        normalize = new InputNormalize();
        whiten = Conv2d(CifarStats.Channels, WhitenChannels, WhitenKernel, stride: 1L, padding: 0L, bias: true);
        group1 = new AirbenchGroup(WhitenChannels, width);
        group2 = new AirbenchGroup(width, 4 * width);
        group3 = new AirbenchGroup(4 * width, 4 * width);
        head = Linear(4 * width, classes, hasBias: false);
        RegisterComponents();
        whiten.weight!.requires_grad = false;
    }

    public string Arch => ModelFactory.AirbenchArch;

    public int Width { get; }

    public long FeatureCount => head.in_features;

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return head.forward(Penultimate(x)).MoveToOuterDisposeScope();
    }

    /// <summary>The pooled features scaled by airbench's 1/9, so that the linear head maps them to the logits (<see cref="IFeatureModel"/>'s contract).</summary>
    public Tensor Features(Tensor x)
    {
        using var scope = NewDisposeScope();
        return Penultimate(x).MoveToOuterDisposeScope();
    }

    Tensor Penultimate(Tensor x)
    {
        var h = MemoryLayout.ChannelsLastOnCpu(normalize.forward(x));
        h = functional.gelu(whiten.forward(h));
        h = group3.forward(group2.forward(group1.forward(h)));
        return functional.max_pool2d(h, 3).flatten(1).mul_(LogitScaleScalar);
    }

    /// <summary>
    /// airbench's initialisation on top of <see cref="ModelFactory.Initialize"/>'s default draws: each
    /// 3x3 convolution starts as the identity on its first input-count output channels (Dirac), and
    /// the whitening bias at zero.
    /// </summary>
    internal void InitializeIdentity()
    {
        using var _ = no_grad();
        whiten.bias!.zero_();
        foreach (var g in new[] { group1, group2, group3 })
            foreach (var (conv, _) in g.Pairs)
            {
                var w = conv.weight!;
                long n = Math.Min(w.shape[0], w.shape[1]);
                using var identity = w.narrow(0, 0, n);
                nn.init.dirac_(identity);
            }
    }

    /// <summary>
    /// Sets the whitening convolution from <see cref="WhiteningImages"/> training images drawn with
    /// <paramref name="generator"/> (data sets may be stored sorted by class): eigen-decomposition of
    /// the normalised 2x2 patch covariance, in float64 because float32 sums over millions of patches
    /// lose the smallest eigenvalues.
    /// </summary>
    public void InitializeFromData(Tensor images, Generator generator)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        long n = images.shape[0];
        var pick = randperm(n, generator: generator).narrow(0, 0, Math.Min(n, WhiteningImages)).to(images.device);
        var x = normalize.forward(images.index_select(0, pick).to(whiten.weight!.device));
        var patches = x.unfold(2, WhitenKernel, 1).unfold(3, WhitenKernel, 1).transpose(1, 3)
            .reshape(-1, CifarStats.Channels * WhitenKernel * WhitenKernel).to_type(ScalarType.Float64);
        var covariance = Scalars.With(patches.shape[0], count => patches.t().matmul(patches).div_(count));
        var (values, vectors) = linalg.eigh(covariance);
        // Largest eigenvalue first, as airbench (it only orders the channels).
        values = values.flip(0);
        vectors = vectors.t().flip(0).reshape(-1, CifarStats.Channels, WhitenKernel, WhitenKernel);
        var scaled = ScaleWhitening
            ? Scalars.With(WhiteningEps, eps => vectors.div(values.add(eps).sqrt().view(-1, 1, 1, 1)))
            : Scalars.With(WhiteningEps, eps => vectors.div(values.mean().add(eps).sqrt()));
        whiten.weight!.copy_(cat([scaled, scaled.neg()]).to_type(whiten.weight.dtype));
    }

    /// <summary>
    /// True (airbench): each patch direction is scaled by one over its standard deviation, so the directions natural
    /// images rarely use (where an L2 perturbation is large against the image) are scaled up most. False, a diagnostic
    /// of what that scaling does: the same directions with one common scale, one over the root of their mean variance.
    /// Read by <see cref="InitializeFromData"/>.
    /// </summary>
    public bool ScaleWhitening { get; set; } = true;

    /// <summary>
    /// The whitening's regulariser: a direction of variance v is scaled by 1 / sqrt(v + eps), so eps caps how far the
    /// rarest directions are scaled up (airbench94: 5e-4). Read by <see cref="InitializeFromData"/>.
    /// </summary>
    public double WhiteningEps { get; set; } = DefaultWhiteningEps;

    /// <summary>airbench94's whitening regulariser.</summary>
    public const double DefaultWhiteningEps = 5e-4;

    /// <summary>The whitening bias trains for the first <see cref="WhitenBiasEpochs"/> epochs and is frozen afterwards.</summary>
    public void BeginEpoch(int epoch)
    {
        var bias = whiten.bias!;
        bias.requires_grad = epoch < WhitenBiasEpochs;
        if (!bias.requires_grad) bias.grad = null;
    }

    /// <summary>The whitening layer's bias (for tests of the recipe).</summary>
    public Tensor WhiteningBias => whiten.bias!;

    public nn.Module<Tensor, Tensor> FoldedCopy()
    {
        var copy = new AirbenchNet(Width, (int)head.out_features);
        copy.to(whiten.weight!.device);
        copy.to(whiten.weight.dtype);
        BatchNormFold.CopyState(this, copy);
        copy.eval();
        int i = 0;
        foreach (var g in new[] { copy.group1, copy.group2, copy.group3 })
        {
            var folded = g.Pairs.Select(p => BatchNormFold.Fold(p.Conv, p.Norm)).ToArray();
            (g.FoldedWeight1, g.FoldedBias1) = folded[0];
            (g.FoldedWeight2, g.FoldedBias2) = folded[1];
            // Buffers, so the copy's fingerprint differs from the model's and an attack on it caches apart.
            foreach (var (w, b) in folded)
            {
                i++;
                copy.register_buffer($"folded{i}_weight", w);
                copy.register_buffer($"folded{i}_bias", b);
            }
        }
        return copy;
    }
}
