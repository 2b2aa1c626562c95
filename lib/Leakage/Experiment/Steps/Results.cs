using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Leakage.Probes;
using Leakage.Robust;

namespace Leakage.Experiment;

// The typed sections of results.json (docs/results.schema.json describes the file). Property names
// are the JSON keys in camelCase; a null is written where the value is undefined (e.g. a standard
// deviation of one value), and optional parts are left out.

/// <summary><c>data</c>: the images a run used.</summary>
public sealed record DataResult(string Source, string Format, long Train, long Test);

/// <summary><c>standardModel</c>: step 1.</summary>
public sealed record StandardModelResult(string Arch, int Width, double TestAccuracy, double TrainAccuracy, int Epochs)
{
    /// <summary>The PyTorch checkpoint the model was read from (<c>standard.checkpoint</c>); absent when it was trained.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public CheckpointResult? Checkpoint { get; init; }
}

/// <summary><c>standardModel.checkpoint</c>, <c>beyond.nonlinear.checkpoint</c>: which file, by content, and how it was read.</summary>
public sealed record CheckpointResult(string Path, string Sha256, long Bytes, string Layout, long Parameters, IReadOnlyList<float> Mean, IReadOnlyList<float> Std, string Normalization)
{
    /// <summary>The record of <paramref name="info"/>.</summary>
    public static CheckpointResult Of(Checkpoints.CheckpointInfo info) =>
        new(info.Path, info.Sha256, info.Bytes, info.Layout, info.Parameters, info.Mean, info.Std, info.Normalization);
}

/// <summary><c>adversarial.drand</c> / <c>adversarial.ddet</c>: step 2.</summary>
public sealed record AdversarialResult(long Images, double AttackSuccess, double TargetEqualsLabel, double Eps, double Step, int Steps);

/// <summary><c>transferDetails.drand</c> / <c>.ddet</c>: how the transfer model of that set was trained.</summary>
public sealed record TransferDetails(double TrainAccuracyOnTargets, double Lr, int Epochs, bool Augment);

/// <summary>
/// Certificates of a linear classifier at one radius (<c>robustModel</c> and the blocks inside it):
/// accuracies, Spec 1 and 2, gamma and rho of the ten features, the median certified radius.
/// </summary>
public sealed record CertificateResult(double Radius, double CleanAccuracy, double CertifiedAccuracy, double Spec2, bool Spec1,
    IReadOnlyList<double> Gamma, int FeaturesRobustForSomeClass, IReadOnlyList<double> Rho, double MedianCertifiedRadius)
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public double? TrainRadius { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public double? CertRadius { get; init; }
    /// <summary><c>pixel</c> or <c>normalised</c>.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? RadiusUnits { get; init; }
    /// <summary>The same C certified in the other units.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public CertificateResult? OtherUnits { get; init; }
    /// <summary>At the attack's radius (pixel units).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public CertificateResult? AtAttackRadius { get; init; }
    /// <summary>A C trained in pixel units (when C's units are normalised).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public CertificateResult? PixelTrained { get; init; }

    /// <summary>The certificate's numbers.</summary>
    public static CertificateResult Of(UnitCertificate c) => new(c.Radius, c.CleanAccuracy, c.CertifiedAccuracy, c.Spec2Fraction, c.Spec1,
        c.Features.Select(f => f.Gamma).ToArray(), c.Features.Count(f => f.RobustlyUsefulForSomeClass), c.Features.Select(f => f.Rho).ToArray(), c.MedianCertifiedRadius);

    /// <summary><c>robustModel</c>: C in its units with the other units, the attack's radius and, when made, the pixel-trained C.</summary>
    public static CertificateResult Of(RobustOutcome o, RobustLinearOptions options, UnitCertificate atAttack, CertificateResult? pixelTrained) =>
        Of(o.Primary) with
        {
            TrainRadius = options.TrainRadius,
            CertRadius = options.CertifyRadius,
            RadiusUnits = ResultsJson.UnitsName(o.Units),
            OtherUnits = Of(o.Other) with { RadiusUnits = ResultsJson.UnitsName(o.Other.Units) },
            AtAttackRadius = Of(atAttack) with { RadiusUnits = "pixel" },
            PixelTrained = pixelTrained,
        };

    /// <summary><c>robustModel.pixelTrained</c>: a C trained in pixel units, at its radius and at the attack's.</summary>
    public static CertificateResult PixelTrainedOf(UnitCertificate atRadius, double trainRadius, UnitCertificate atAttack) =>
        Of(atRadius) with { TrainRadius = trainRadius, RadiusUnits = "pixel", AtAttackRadius = Of(atAttack) };
}

/// <summary>A probe entry: accuracy with its bootstrap interval, sizes, and whether the fit converged (null for baselines).</summary>
public sealed record EntryResult(string Name, double Accuracy, double Lo, double Hi, int NTrain, int NTest, int Features, bool? Converged, int? Iterations)
{
    public static EntryResult Of(ProbeEntry e) => new(e.Name, e.Accuracy, e.Lo, e.Hi, e.NTrain, e.NTest, e.Features, e.Converged, e.Iterations);
}

/// <summary>Counts of test points only one of two probes gets right.</summary>
public sealed record Discordant(int ProbeOnly, int NullOnly);

/// <summary>The null over fresh D_rand target draws.</summary>
public sealed record NullDrawsResult(int K, double Mean, double? Sd, double Min, double Max, IReadOnlyList<double> Values);

/// <summary>A main leakage probe against its matched null (<c>leakage.comparisons.*</c>).</summary>
public sealed record ComparisonResult(string Name, double Accuracy, string NullName, double NullAccuracy, double ExcessOverNull,
    IReadOnlyList<double> ExcessInterval, string IntervalCovers, double PValue, string Test, Discordant Discordant,
    IReadOnlyList<double> PairedInterval, bool Above, bool? Converged, int? Iterations, bool? NullConverged, int? NullIterations)
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int? Strata { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int? TrainingResamples { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int? RefitsNotConverged { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public NullDrawsResult? NullDraws { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public double? ExcessOverDrawMean { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public double? PValueDraws { get; init; }

    public static ComparisonResult Of(LeakageComparison c)
    {
        var result = new ComparisonResult(c.Probe.Name, c.Probe.Accuracy, c.Null.Name, c.Null.Accuracy, c.Excess,
            [c.ExcessInterval.Lo, c.ExcessInterval.Hi], c.IntervalCovers, c.PValue, "McNemar exact, two-sided, on per-point correctness",
            new Discordant(c.Paired.FirstOnly, c.Paired.SecondOnly), [c.Paired.Interval.Lo, c.Paired.Interval.Hi], c.Above(),
            c.Probe.Converged, c.Probe.Iterations, c.Null.Converged, c.Null.Iterations);
        if (c.TrainingInterval != null)
            result = result with { Strata = c.Strata, TrainingResamples = c.Resamples, RefitsNotConverged = c.RefitsNotConverged };
        if (c.Draws is { } d)
            result = result with
            {
                NullDraws = new NullDrawsResult(d.K, d.Mean, d.K < 2 ? null : d.Sd, d.Min, d.Max, d.Accuracies),
                ExcessOverDrawMean = c.Probe.Accuracy - d.Mean,
                PValueDraws = d.PValue(c.Probe.Accuracy),
            };
        return result;
    }
}

/// <summary>An extension's probe against its matched null, paired on the test points (the fits held fixed).</summary>
public sealed record PairedResult(string Name, double Accuracy, string NullName, double NullAccuracy, double ExcessOverNull,
    IReadOnlyList<double> ExcessInterval, string IntervalCovers, double PValue, Discordant Discordant, bool Above, bool? Converged, bool? NullConverged)
{
    public static PairedResult Of(ProbeEntry probe, ProbeEntry baseline, PairedComparison c) => new(probe.Name, probe.Accuracy, baseline.Name, baseline.Accuracy,
        c.Difference, [c.Interval.Lo, c.Interval.Hi], "test points", c.PValue, new Discordant(c.FirstOnly, c.SecondOnly),
        c.FirstAbove() && c.Interval.Lo > 0, probe.Converged, baseline.Converged);
}

/// <summary><c>leakage.intervals</c>.</summary>
public sealed record LeakageIntervals(IReadOnlyList<double> Drand, IReadOnlyList<double> Ddet, double Level, int Resamples);

/// <summary><c>leakage.comparisons</c>.</summary>
public sealed record LeakageComparisonsResult(ComparisonResult Drand, ComparisonResult Ddet, ComparisonResult DrandTargetNotLabel);

/// <summary><c>leakage.controls</c>.</summary>
public sealed record LeakageControlsSet(EntryResult CleanD, EntryResult DrandRandomFeatures, EntryResult DdetRandomFeatures,
    EntryResult DrandTargetNotLabel, EntryResult Chance, EntryResult MajorityClass);

/// <summary>A count per set.</summary>
public sealed record PerSet(long Drand, long Ddet);

/// <summary><c>leakage</c>: step 4, Goh's probe on D_rand and D_det with intervals, comparisons with the nulls and controls.</summary>
public sealed record LeakageResult(double Drand, double Ddet, LeakageIntervals Intervals, LeakageComparisonsResult Comparisons,
    LeakageControlsSet Controls, int Features, PerSet TrainImages, int TestImages)
{
    /// <param name="c">The three comparisons.</param>
    /// <param name="controls">clean D, D_rand random features, D_det random features, D_rand with target ≠ label, chance, majority class.</param>
    /// <param name="options">The probe's options (interval level and resamples).</param>
    public static LeakageResult Of(LeakageComparisons c, IReadOnlyList<ProbeEntry> controls, LeakageProbeOptions options)
    {
        var (rand, det) = (c.DRand.Probe, c.DDet.Probe);
        return new LeakageResult(rand.Accuracy, det.Accuracy,
            new LeakageIntervals([rand.Lo, rand.Hi], [det.Lo, det.Hi], options.Level, options.BootstrapResamples),
            new LeakageComparisonsResult(ComparisonResult.Of(c.DRand), ComparisonResult.Of(c.DDet), ComparisonResult.Of(c.DRandTargetNotLabel)),
            new LeakageControlsSet(EntryResult.Of(controls[0]), EntryResult.Of(controls[1]), EntryResult.Of(controls[2]), EntryResult.Of(controls[3]),
                EntryResult.Of(controls[4]), EntryResult.Of(controls[5])),
            rand.Features, new PerSet(rand.NTrain, det.NTrain), rand.NTest);
    }
}

/// <summary><c>leakageControls</c>: the matched nulls (<see cref="UnperturbedControls"/>).</summary>
public sealed record LeakageControlsResult(EntryResult DrandClean, EntryResult DrandTargetNotLabelClean, EntryResult DdetClean)
{
    public static LeakageControlsResult Of(LeakageComparisons c) =>
        new(EntryResult.Of(c.DRand.Null), EntryResult.Of(c.DRandTargetNotLabel.Null), EntryResult.Of(c.DDet.Null));
}

/// <summary>Clean and attacked accuracy of a model under the same attack.</summary>
public sealed record UnderAttackResult(double CleanAccuracy, double AttackedAccuracy);

/// <summary><c>beyond.nonlinear</c>.</summary>
public sealed record NonlinearResult(string Arch, int Width, double Radius, int TrainPgdSteps, int Epochs, double CleanAccuracy, double RobustAccuracy,
    double CleanAccuracyOnAttacked, int RobustEvaluatedImages, int EvalPgdSteps, UnderAttackResult StandardModelUnderAttack,
    IReadOnlyList<EntryResult> Probes, IReadOnlyList<PairedResult> Comparisons)
{
    /// <summary>The checkpoint the robust model was read from (<c>beyond.nonlinearCheckpoint</c>); absent when it was trained.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public CheckpointResult? Checkpoint { get; init; }
}

/// <summary>One radius of <c>beyond.radiusSweep</c>.</summary>
public sealed record SweepPointResult(double Radius, string Units, IReadOnlyList<double> Gamma, double Spec2, double CleanAccuracy, double CertifiedAccuracy,
    EntryResult LeakageDrand, EntryResult LeakageDdet, EntryResult LeakageDrandClean, EntryResult LeakageDdetClean, PairedResult ExcessDrand, PairedResult ExcessDdet);

/// <summary>Values over seeds with their mean, standard deviation (null below two values) and range.</summary>
public sealed record SpreadResult(IReadOnlyList<double> Values, double Mean, double? Sd, double Min, double Max)
{
    public static SpreadResult Of(IReadOnlyList<double> v) => new(v, SampleStatistics.Mean(v), v.Count < 2 ? null : SampleStatistics.Sd(v), v.Min(), v.Max());
}

/// <summary><c>beyond.probeSeeds</c>.</summary>
public sealed record ProbeSeedsResult(IReadOnlyList<int> Seeds, SpreadResult Drand, SpreadResult Ddet, SpreadResult DrandExcessOverNull, SpreadResult DdetExcessOverNull);

/// <summary>The System.Text.Json source-generated serialisers of the results and of the leakage cache.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(DataResult))]
[JsonSerializable(typeof(StandardModelResult))]
[JsonSerializable(typeof(AdversarialResult))]
[JsonSerializable(typeof(TransferDetails))]
[JsonSerializable(typeof(CertificateResult))]
[JsonSerializable(typeof(EntryResult))]
[JsonSerializable(typeof(LeakageResult))]
[JsonSerializable(typeof(LeakageControlsResult))]
[JsonSerializable(typeof(NonlinearResult))]
[JsonSerializable(typeof(SweepPointResult[]))]
[JsonSerializable(typeof(ProbeSeedsResult))]
[JsonSerializable(typeof(LeakageCache))]
public sealed partial class ResultsJsonContext : JsonSerializerContext;

/// <summary>Typed results to the nodes <see cref="ResultsFile"/> stores.</summary>
public static class ResultsJson
{
    /// <summary>
    /// The options of <see cref="ResultsJsonContext"/>, falling back to reflection for a result type not
    /// (yet) listed there, so that a new step's record serialises the same way before it is added.
    /// </summary>
    static readonly JsonSerializerOptions Options = new(ResultsJsonContext.Default.Options)
    {
        TypeInfoResolver = JsonTypeInfoResolver.Combine(ResultsJsonContext.Default, new DefaultJsonTypeInfoResolver()),
    };

    /// <summary><paramref name="value"/> serialised with the results' options (camelCase, nulls written).</summary>
    public static JsonNode Node<T>(T value) where T : notnull =>
        JsonSerializer.SerializeToNode(value, (JsonTypeInfo<T>)Options.GetTypeInfo(typeof(T)))!;

    /// <summary>How results.json names radius units.</summary>
    public static string UnitsName(RadiusUnits u) => u == RadiusUnits.Pixel ? "pixel" : "normalised";
}
