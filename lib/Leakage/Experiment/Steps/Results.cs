using Leakage.Attacks;
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
public sealed record StandardModelResult(string Arch, int Width, [property: Fraction] double TestAccuracy, [property: Fraction] double TrainAccuracy, int Epochs)
{
    /// <summary>The PyTorch checkpoint the model was read from (<c>standard.checkpoint</c>); absent when it was trained.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public CheckpointResult? Checkpoint { get; init; }
}

/// <summary>
/// <c>standardModel.checkpoint</c>, <c>beyond.nonlinear.checkpoint</c>: which file, by content, and how
/// it was read. <see cref="Path"/> is its name (<see cref="RecordedPaths.Name"/>), never a machine path.
/// </summary>
public sealed record CheckpointResult(string Path, string Sha256, long Bytes, string Layout, long Parameters, IReadOnlyList<float> Mean, IReadOnlyList<float> Std, string Normalization)
{
    /// <summary>The record of <paramref name="info"/>, read by the run in <paramref name="runFolder"/>.</summary>
    public static CheckpointResult Of(Checkpoints.CheckpointInfo info, string runFolder) =>
        new(RecordedPaths.Name(info.Path, runFolder), info.Sha256, info.Bytes, info.Layout, info.Parameters, info.Mean, info.Std, info.Normalization);
}

/// <summary><c>adversarial.drand</c> / <c>adversarial.ddet</c>: step 2.</summary>
public sealed record AdversarialResult(long Images, [property: Fraction] double AttackSuccess, [property: Fraction] double TargetEqualsLabel, double Eps, double Step, int Steps);

/// <summary><c>transferDetails.drand</c> / <c>.ddet</c>: how the transfer model of that set was trained.</summary>
public sealed record TransferDetails([property: Fraction] double TrainAccuracyOnTargets, double Lr, int Epochs, bool Augment);

/// <summary>
/// Certificates of a linear classifier at one radius (<c>robustModel</c> and the blocks inside it):
/// accuracies, Spec 1 and 2, gamma and rho of the ten features, the median certified radius.
/// </summary>
public sealed record CertificateResult(double Radius, [property: Fraction] double CleanAccuracy, [property: Fraction] double CertifiedAccuracy, [property: Fraction] double Spec2, bool Spec1,
    IReadOnlyList<double> Gamma, int FeaturesRobustForSomeClass, IReadOnlyList<double> Rho, double MedianCertifiedRadius)
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public double? TrainRadius { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public double? CertRadius { get; init; }
    /// <summary><c>pixel</c> or <c>normalised</c>.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull), ChoiceOf("robust.units")] public string? RadiusUnits { get; init; }
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
public sealed record EntryResult(string Name, [property: Fraction] double Accuracy, [property: Fraction] double Lo, [property: Fraction] double Hi, int NTrain, int NTest, int Features, bool? Converged, int? Iterations)
{
    public static EntryResult Of(ProbeEntry e) => new(e.Name, e.Accuracy, e.Lo, e.Hi, e.NTrain, e.NTest, e.Features, e.Converged, e.Iterations);

    /// <summary>The probe entry this records.</summary>
    public ProbeEntry ToEntry() => new(Name, Accuracy, Lo, Hi, NTrain, NTest, Features) { Converged = Converged, Iterations = Iterations };
}

/// <summary>Counts of test points only one of two probes gets right.</summary>
public sealed record Discordant(int ProbeOnly, int NullOnly);

/// <summary>The null over fresh D_rand target draws.</summary>
public sealed record NullDrawsResult(int K, double Mean, double? Sd, double Min, double Max, IReadOnlyList<double> Values);

/// <summary>The attack's mean shift of (f_target - f_label) on a set, in units of the features' sd, with its interval.</summary>
public sealed record FeatureShiftResult(double Mean, double Lower, double Upper, int Images)
{
    public static FeatureShiftResult Of(FeatureShift s) => new(s.Mean, s.Lower, s.Upper, s.Images);
}

/// <summary>The D_rand probe with the luck of its target draw taken out: mean null over fresh draws plus the excess.</summary>
public sealed record DrawAdjustedResult(double Accuracy, double Se);

/// <summary>
/// A main leakage probe against its matched null (<c>leakage.comparisons.*</c>). <c>excessInterval</c>,
/// <c>pValue</c> and <c>verdict</c> come from one variance (<c>excessSe</c>, <c>excessDf</c>;
/// docs/statistics.md); <c>mcnemarP</c> is McNemar's test on the test points only, the fits held fixed.
/// A first-pass file has no <c>mcnemarP</c>: there <c>pValue</c> is McNemar's, <c>above</c> the first
/// pass's rule (McNemar and interval), and the readers take the verdict from its recorded interval
/// (<see cref="LeakageComparison.FirstPass"/>).
/// </summary>
public sealed record ComparisonResult(string Name, [property: Fraction] double Accuracy, string NullName, [property: Fraction] double NullAccuracy, double ExcessOverNull,
    IReadOnlyList<double> ExcessInterval, string IntervalCovers, [property: Fraction] double PValue, string Test, Discordant Discordant,
    IReadOnlyList<double> PairedInterval, bool Above, bool? Converged, int? Iterations, bool? NullConverged, int? NullIterations)
{
    /// <summary>The test of <c>pValue</c> for results written by this version.</summary>
    public const string SameVarianceTest = "two-sided t test of the excess with the standard error and degrees of freedom of excessInterval";
    /// <summary>What McNemar's test sees.</summary>
    public const string McNemarCoversText = "McNemar exact, two-sided: test points only, fits fixed";

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull), Fraction] public double? McnemarP { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? McnemarCovers { get; init; }
    /// <summary>"above", "below" or "undecided".</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Verdict { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public double? ExcessSe { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public double? ExcessDf { get; init; }
    /// <summary>Monte-Carlo error of an interval end (from the finite draws or resamples).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public double? IntervalMonteCarloError { get; init; }
    /// <summary>Where <c>excessSe</c> comes from: fresh target draws, training bootstrap or test points.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? UncertaintySource { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int? Strata { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int? TrainingResamples { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int? RefitsNotConverged { get; init; }
    /// <summary>Standard error of the training bootstrap and its normal interval (the first pass's interval), beside the calibrated one.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public double? BootstrapSe { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public IReadOnlyList<double>? BootstrapInterval { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public NullDrawsResult? NullDraws { get; init; }
    /// <summary>The excess over each emulated fresh target draw (same draws as <c>nullDraws</c>).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public NullDrawsResult? DrawExcess { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public double? ExcessOverDrawMean { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull), Fraction] public double? PValueDraws { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public FeatureShiftResult? FeatureShift { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public DrawAdjustedResult? DrawAdjusted { get; init; }

    /// <summary>
    /// The comparison this records, with <paramref name="probe"/> and <paramref name="nullEntry"/> its
    /// two fits. A file with <c>mcnemarP</c> carries the excess's own uncertainty (<c>excessSe</c>,
    /// <c>excessDf</c>) behind <c>excessInterval</c>, <c>pValue</c> and <c>verdict</c>. A first-pass file
    /// (no <c>mcnemarP</c>) is read as it was written: its <c>pValue</c> is McNemar's, its
    /// <c>excessInterval</c> the normal interval of a training bootstrap, and the comparison is marked
    /// <see cref="LeakageComparison.FirstPass"/>, so that its verdict and p-value come from that recorded
    /// interval (<see cref="ExcessUncertainty.FromFirstPass"/>).
    /// </summary>
    public LeakageComparison ToComparison(ProbeEntry probe, ProbeEntry nullEntry)
    {
        const double level = 0.95;
        bool firstPass = McnemarP is null;
        var paired = new PairedComparison(probe.Accuracy - nullEntry.Accuracy, new ConfidenceInterval(PairedInterval[0], PairedInterval[1], level),
            Discordant.ProbeOnly, Discordant.NullOnly, McnemarP ?? PValue);
        ConfidenceInterval? training = TrainingResamples is null ? null
            : firstPass ? new ConfidenceInterval(ExcessInterval[0], ExcessInterval[1], level)
            : BootstrapInterval is { } b ? new ConfidenceInterval(b[0], b[1], level) : null;
        var comparison = new LeakageComparison(probe, nullEntry, paired, training, Strata ?? 0, TrainingResamples ?? 0, RefitsNotConverged ?? 0,
            NullDraws is { } d ? new NullDraws(d.Values) : null)
        {
            FirstPass = firstPass,
            BootstrapSe = BootstrapSe,
            DrawExcesses = DrawExcess?.Values,
            Shift = FeatureShift is { } s ? new FeatureShift(s.Mean, s.Lower, s.Upper, s.Images) : null,
        };
        if (firstPass) return comparison;
        double excess = probe.Accuracy - nullEntry.Accuracy, se = ExcessSe ?? throw new InvalidDataException($"{Name}: excessSe is missing.");
        return comparison with
        {
            // No excessDf: infinite degrees of freedom (a normal quantile), which JSON cannot write as a number.
            Uncertainty = new ExcessUncertainty(excess, se, ExcessDf ?? double.PositiveInfinity, level, se > 0 ? (ExcessInterval[1] - ExcessInterval[0]) / (2 * se) : 0,
                IntervalMonteCarloError ?? throw new InvalidDataException($"{Name}: intervalMonteCarloError is missing."),
                UncertaintySource ?? throw new InvalidDataException($"{Name}: uncertaintySource is missing."), IntervalCovers),
        };
    }

    static NullDrawsResult Spread(IReadOnlyList<double> v) => new(v.Count, SampleStatistics.Mean(v), v.Count < 2 ? null : SampleStatistics.Sd(v), v.Min(), v.Max(), v);

    public static ComparisonResult Of(LeakageComparison c)
    {
        var u = c.Uncertainty;
        var result = new ComparisonResult(c.Probe.Name, c.Probe.Accuracy, c.Null.Name, c.Null.Accuracy, c.Excess,
            [c.ExcessInterval.Lo, c.ExcessInterval.Hi], c.IntervalCovers, c.PValue, SameVarianceTest,
            new Discordant(c.Paired.FirstOnly, c.Paired.SecondOnly), [c.Paired.Interval.Lo, c.Paired.Interval.Hi], c.Above(),
            c.Probe.Converged, c.Probe.Iterations, c.Null.Converged, c.Null.Iterations)
        {
            McnemarP = c.McNemarP,
            McnemarCovers = McNemarCoversText,
            Verdict = c.Verdict,
            ExcessSe = u.StandardError,
            ExcessDf = double.IsFinite(u.DegreesOfFreedom) ? u.DegreesOfFreedom : null, // none: a normal quantile
            IntervalMonteCarloError = u.MonteCarloError,
            UncertaintySource = u.Source,
            FeatureShift = c.Shift is { } s ? FeatureShiftResult.Of(s) : null,
        };
        if (c.TrainingInterval is { } t)
            result = result with
            {
                Strata = c.Strata, TrainingResamples = c.Resamples, RefitsNotConverged = c.RefitsNotConverged,
                BootstrapSe = c.BootstrapSe, BootstrapInterval = [t.Lo, t.Hi],
            };
        if (c.Draws is { } d)
            result = result with
            {
                NullDraws = Spread(d.Accuracies),
                DrawExcess = c.DrawExcesses is { Count: > 0 } e ? Spread(e) : null,
                ExcessOverDrawMean = c.Probe.Accuracy - d.Mean,
                PValueDraws = d.PValue(c.Probe.Accuracy),
                DrawAdjusted = c.DrawAdjusted is { } a ? new DrawAdjustedResult(a.Accuracy, a.Se) : null,
            };
        return result;
    }
}

/// <summary>An extension's probe against its matched null, paired on the test points (the fits held fixed).</summary>
public sealed record PairedResult(string Name, [property: Fraction] double Accuracy, string NullName, [property: Fraction] double NullAccuracy, double ExcessOverNull,
    IReadOnlyList<double> ExcessInterval, string IntervalCovers, [property: Fraction] double PValue, Discordant Discordant, bool Above, bool? Converged, bool? NullConverged)
{
    public static PairedResult Of(ProbeEntry probe, ProbeEntry baseline, PairedComparison c) => new(probe.Name, probe.Accuracy, baseline.Name, baseline.Accuracy,
        c.Difference, [c.Interval.Lo, c.Interval.Hi], "test points", c.PValue, new Discordant(c.FirstOnly, c.SecondOnly),
        c.FirstAbove() && c.Interval.Lo > 0, probe.Converged, baseline.Converged);
}

/// <summary><c>leakage.intervals</c>.</summary>
public sealed record LeakageIntervals(IReadOnlyList<double> Drand, IReadOnlyList<double> Ddet, [property: Fraction] double Level, int Resamples);

/// <summary><c>leakage.comparisons</c>.</summary>
public sealed record LeakageComparisonsResult(ComparisonResult Drand, ComparisonResult Ddet, ComparisonResult DrandTargetNotLabel);

/// <summary><c>leakage.controls</c>.</summary>
public sealed record LeakageControlsSet(EntryResult CleanD, EntryResult DrandRandomFeatures, EntryResult DdetRandomFeatures,
    EntryResult DrandTargetNotLabel, EntryResult Chance, EntryResult MajorityClass);

/// <summary>A count per set.</summary>
public sealed record PerSet(long Drand, long Ddet);

/// <summary><c>leakage</c>: step 4, Goh's probe on D_rand and D_det with intervals, comparisons with the nulls and controls.</summary>
public sealed record LeakageResult([property: Fraction] double Drand, [property: Fraction] double Ddet, LeakageIntervals Intervals, LeakageComparisonsResult Comparisons,
    LeakageControlsSet Controls, int Features, PerSet TrainImages, int TestImages)
{
    /// <param name="c">The three comparisons.</param>
    /// <param name="controls">The probes beside Goh's two.</param>
    /// <param name="options">The probe's options (interval level and resamples).</param>
    public static LeakageResult Of(LeakageComparisons c, LeakageProbeControls controls, LeakageProbeOptions options)
    {
        var (rand, det) = (c.DRand.Probe, c.DDet.Probe);
        return new LeakageResult(rand.Accuracy, det.Accuracy,
            new LeakageIntervals([rand.Lo, rand.Hi], [det.Lo, det.Hi], options.Level, options.BootstrapResamples),
            new LeakageComparisonsResult(ComparisonResult.Of(c.DRand), ComparisonResult.Of(c.DDet), ComparisonResult.Of(c.DRandTargetNotLabel)),
            new LeakageControlsSet(EntryResult.Of(controls.CleanD), EntryResult.Of(controls.DRandRandomFeatures), EntryResult.Of(controls.DDetRandomFeatures),
                EntryResult.Of(controls.DRandTargetNotLabel), EntryResult.Of(controls.Chance), EntryResult.Of(controls.MajorityClass)),
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
public sealed record UnderAttackResult([property: Fraction] double CleanAccuracy, [property: Fraction] double AttackedAccuracy);

/// <summary><c>beyond.nonlinear</c>.</summary>
public sealed record NonlinearResult(string Arch, int Width, double Radius, int TrainPgdSteps, int Epochs, [property: Fraction] double CleanAccuracy, [property: Fraction] double RobustAccuracy,
    [property: Fraction] double CleanAccuracyOnAttacked, int RobustEvaluatedImages, int EvalPgdSteps, UnderAttackResult StandardModelUnderAttack,
    IReadOnlyList<NonlinearProbeResult> Probes, IReadOnlyList<PairedResult> Comparisons)
{
    /// <summary>The checkpoint the robust model was read from (<c>beyond.nonlinearCheckpoint</c>); absent when it was trained.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public CheckpointResult? Checkpoint { get; init; }

    /// <summary>The probe on <paramref name="set"/> with the features <paramref name="view"/>, null when the file has none.</summary>
    public NonlinearProbeResult? Probe(FeatureView view, ProbeSet set) => Probes.FirstOrDefault(p => p.View == view && p.Set == set);
}

/// <summary>One radius of <c>beyond.radiusSweep</c>.</summary>
public sealed record SweepPointResult(double Radius, [property: ChoiceOf("robust.units")] string Units, IReadOnlyList<double> Gamma, [property: Fraction] double Spec2, [property: Fraction] double CleanAccuracy, [property: Fraction] double CertifiedAccuracy,
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
[JsonSerializable(typeof(RunResultsRecord))]
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
[JsonSerializable(typeof(FidelityResult))]
[JsonSerializable(typeof(ReleasedSetResult[]))]
[JsonSerializable(typeof(LeakageCache))]
[JsonSerializable(typeof(ControlsResult))]
[JsonSerializable(typeof(ControlProbesCache))]
[JsonSerializable(typeof(Leakage.Compute.Provenance))]
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
