using Leakage.Models;
using Leakage.Native;
using Leakage.Randomness;
using static TorchSharp.torch;

namespace Leakage.Adversarial;

/// <summary>
/// One relabelled data set's identity, wherever it is named: how its targets are drawn, the cache
/// folder inside a run folder, its key in results.json, its progress and timing key, its folder in an
/// export. Every place that tells D_rand, D_det and D_other apart reads it here, so a new set is one
/// more entry of <see cref="All"/>.
/// </summary>
/// <param name="Kind">The target rule it is built with (<see cref="DrawTargets(Tensor, AdversarialOptions, int)"/>).</param>
/// <param name="Name">How people write it: <c>D_rand</c>.</param>
/// <param name="Folder">Its cache folder inside a run folder: <c>d_rand</c>.</param>
/// <param name="ResultsKey">How results.json names it (<c>adversarial.drand</c>, <c>transfer.drand</c>, ...): <c>drand</c>.</param>
/// <param name="StepKey">The progress and <c>seconds</c> key of the step that builds it: <c>dRand</c>.</param>
/// <param name="ExportFolder">Its folder under <c>release_datasets/</c> in an export, in Ilyas et al.'s naming: <c>drand_CIFAR</c>.</param>
/// <param name="TargetRule">The rule in words, for tables and logs.</param>
/// <param name="Control">A control beside the paper's two sets (built only with <c>controls.enabled</c>).</param>
public sealed record AdversarialSet(AdversarialKind Kind, string Name, string Folder, string ResultsKey, string StepKey, string ExportFolder,
    string TargetRule, bool Control)
{
    public static AdversarialSet DRand { get; } = new(AdversarialKind.Random, "D_rand", "d_rand", "drand", "dRand", "drand_CIFAR",
        "t uniform over the 10 classes", false);

    public static AdversarialSet DDet { get; } = new(AdversarialKind.Deterministic, "D_det", "d_det", "ddet", "dDet", "ddet_CIFAR",
        "t = (y + 1) mod 10", false);

    public static AdversarialSet DOther { get; } = new(AdversarialKind.Other, "D_other", "d_other", "dother", "dOther", "dother_CIFAR",
        "t uniform over the 9 classes other than y", true);

    /// <summary>Every set, the paper's two first.</summary>
    public static IReadOnlyList<AdversarialSet> All { get; } = [DRand, DDet, DOther];

    /// <summary>The paper's two sets, D_rand and D_det.</summary>
    public static IReadOnlyList<AdversarialSet> Paper { get; } = [DRand, DDet];

    /// <summary>The set built with target rule <paramref name="kind"/>.</summary>
    public static AdversarialSet Of(AdversarialKind kind) =>
        All.FirstOrDefault(s => s.Kind == kind) ?? throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown adversarial data set kind");

    /// <summary>
    /// The target labels of chunk <paramref name="chunk"/> for images labelled <paramref name="labels"/>
    /// (int64, CPU), by this set's rule: the targets the attack draws (<see cref="AdversarialDatasets"/>).
    /// D_det: (y + 1) mod 10. D_rand: uniform over the 10 classes, or over the 9 classes other than y
    /// when <see cref="AdversarialOptions.RandomTargetExcludesSource"/> is set. D_other: uniform over
    /// the 9 classes other than y. The random rules draw from a generator seeded with
    /// (<see cref="AdversarialOptions.Seed"/>, chunk) alone (D_other from another stream than D_rand).
    /// </summary>
    public Tensor DrawTargets(Tensor labels, AdversarialOptions options, int chunk)
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(options);
        TorchNative.Ensure();
        using var scope = NewDisposeScope();
        var y = labels.cpu().to_type(ScalarType.Int64);
        const int k = CifarStats.Classes;
        Tensor t;
        switch (Kind)
        {
            case AdversarialKind.Deterministic:
                t = Scalars.With(k, n => (y + Scalars.One).remainder(n));
                break;
            case AdversarialKind.Random or AdversarialKind.Other:
                // D_other draws from a stream of its own, so that its targets are independent of D_rand's on the same images.
                using (var g = new Generator(Seeds.Derive(options.Seed, chunk, Kind == AdversarialKind.Other ? 2 : 0), CPU))
                {
                    // An offset in 1..9 from the label never lands on it and reaches each other class equally often.
                    t = Kind == AdversarialKind.Other || options.RandomTargetExcludesSource
                        ? Scalars.With(k, n => (y + randint(1, k, [y.shape[0]], generator: g)).remainder(n))
                        : randint(0, k, [y.shape[0]], generator: g);
                }
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(Kind), Kind, "unknown adversarial data set kind");
        }
        return t.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The target labels of every image labelled <paramref name="labels"/>, drawn chunk by chunk exactly
    /// as the attack draws them (chunk c: images c x <see cref="AdversarialOptions.ChunkSize"/> onwards).
    /// With the seed of the build, the set's own targets; with another <see cref="AdversarialOptions.Seed"/>,
    /// a fresh draw of them (the leakage step's null over target draws).
    /// </summary>
    public Tensor DrawTargets(Tensor labels, AdversarialOptions options)
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(options);
        TorchNative.Ensure();
        using var scope = NewDisposeScope();
        var y = labels.cpu();
        long n = y.shape[0];
        var parts = new List<Tensor>();
        for (long start = 0, c = 0; start < n; start += options.ChunkSize, c++)
            parts.Add(DrawTargets(y.narrow(0, start, Math.Min(options.ChunkSize, n - start)), options, (int)c));
        return cat(parts).MoveToOuterDisposeScope();
    }

    public override string ToString() => Name;
}
