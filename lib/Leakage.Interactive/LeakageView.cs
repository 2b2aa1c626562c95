using Leakage.Experiment;
using Leakage.Probes;
using Plotly.NET;

namespace Leakage.Interactive;

/// <summary>
/// The leakage step of a run as notebook 06 reads it: Goh's two probes, their controls, and each
/// probe against its matched null (the same labels on the clean originals). Built from the step's
/// outcome (<see cref="Of"/>) or from results.json (<see cref="Read"/>); the one place that knows
/// how the step names and stores its entries. A cell that ends with the view shows the probe table.
/// </summary>
/// <param name="DRand">Goh's probe trained on D_rand.</param>
/// <param name="DDet">Goh's probe trained on D_det.</param>
/// <param name="CleanD">The ceiling: clean training images with their true labels.</param>
/// <param name="DRandRandomFeatures">Ten random directions (not robust) trained on D_rand.</param>
/// <param name="DDetRandomFeatures">Ten random directions trained on D_det.</param>
/// <param name="DRandTargetNotLabel">D_rand without the images whose target equals their label.</param>
/// <param name="Chance">Chance, 1/10.</param>
/// <param name="MajorityClass">Always the majority class.</param>
/// <param name="Comparisons">D_rand, D_det and D_rand with target ≠ label against their matched nulls.</param>
public sealed record LeakageView(ProbeEntry DRand, ProbeEntry DDet, ProbeEntry CleanD, ProbeEntry DRandRandomFeatures,
    ProbeEntry DDetRandomFeatures, ProbeEntry DRandTargetNotLabel, ProbeEntry Chance, ProbeEntry MajorityClass, LeakageComparisons Comparisons)
{
    /// <summary>The null of the D_rand probe: clean originals, D_rand labels.</summary>
    public ProbeEntry DRandNull => Comparisons.DRand.Null;
    /// <summary>The null of D_rand with target ≠ label.</summary>
    public ProbeEntry DRandTargetNotLabelNull => Comparisons.DRandTargetNotLabel.Null;
    /// <summary>The null of the D_det probe: clean originals, D_det labels.</summary>
    public ProbeEntry DDetNull => Comparisons.DDet.Null;

    /// <summary>Every entry: the two probes, the controls, then the three nulls.</summary>
    public IReadOnlyList<ProbeEntry> Entries =>
        [DRand, DDet, CleanD, DRandRandomFeatures, DDetRandomFeatures, DRandTargetNotLabel, Chance, MajorityClass, DRandNull, DRandTargetNotLabelNull, DDetNull];

    /// <summary>The entries that are probes on C's ten features (not baselines).</summary>
    public IReadOnlyList<ProbeEntry> FeatureProbes => [DRand, DDet, CleanD, DRandRandomFeatures, DDetRandomFeatures, DRandTargetNotLabel];

    /// <summary>The three probes against their nulls, labelled by their training labels.</summary>
    public IReadOnlyList<(string Labels, LeakageComparison Comparison)> Paired =>
        [("D_rand", Comparisons.DRand), ("D_rand, target ≠ label", Comparisons.DRandTargetNotLabel), ("D_det", Comparisons.DDet)];

    /// <summary>The view of the leakage step's outcome.</summary>
    /// <exception cref="NotebookCheckException">The outcome lacks its comparisons.</exception>
    public static LeakageView Of(LeakageOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        var comparisons = outcome.Comparisons ?? throw new NotebookCheckException("The leakage step returned no comparisons with its nulls.");
        var c = outcome.Controls;
        return new LeakageView(outcome.DRand, outcome.DDet, c.CleanD, c.DRandRandomFeatures, c.DDetRandomFeatures, c.DRandTargetNotLabel, c.Chance, c.MajorityClass, comparisons);
    }

    /// <summary>The view of the leakage step as results.json records it, or null when the step has not run.</summary>
    /// <param name="results">The results, as read from results.json.</param>
    /// <param name="source">The file, for error messages.</param>
    /// <exception cref="InvalidDataException">A recorded value is missing; the message names the file and its path.</exception>
    public static LeakageView? Read(RunResultsRecord results, string source)
    {
        ArgumentNullException.ThrowIfNull(results);
        if (results.Leakage is not { } recorded) return null;
        var leakage = ResultsUpgrade.Whole(recorded, StepCatalog.Leakage.ResultsKey, source);
        var nulls = ResultsUpgrade.Whole(results.LeakageControls ?? throw new InvalidDataException($"{source}: {LeakageControls.ResultsKey} is missing."),
            LeakageControls.ResultsKey, source);
        var (comparisons, controls, intervals) = (leakage.Comparisons, leakage.Controls, leakage.Intervals);
        ProbeEntry Probe(ComparisonResult c, double accuracy, IReadOnlyList<double> interval, long trainImages) =>
            new(c.Name, accuracy, interval[0], interval[1], (int)trainImages, leakage.TestImages, leakage.Features) { Converged = c.Converged, Iterations = c.Iterations };
        var drand = Probe(comparisons.Drand, leakage.Drand, intervals.Drand, leakage.TrainImages.Drand);
        var ddet = Probe(comparisons.Ddet, leakage.Ddet, intervals.Ddet, leakage.TrainImages.Ddet);
        var notLabel = controls.DrandTargetNotLabel.ToEntry();
        return new LeakageView(drand, ddet, controls.CleanD.ToEntry(), controls.DrandRandomFeatures.ToEntry(), controls.DdetRandomFeatures.ToEntry(), notLabel,
            controls.Chance.ToEntry(), controls.MajorityClass.ToEntry(),
            new LeakageComparisons(
                comparisons.Drand.ToComparison(drand, nulls.DrandClean.ToEntry()),
                comparisons.Ddet.ToComparison(ddet, nulls.DdetClean.ToEntry()),
                comparisons.DrandTargetNotLabel.ToComparison(notLabel, nulls.DrandTargetNotLabelClean.ToEntry())));
    }

    /// <summary>
    /// Checks the probes and controls: each a share inside its interval and scored on
    /// <paramref name="testPoints"/> points, ten features for each probe on C's features, chance at
    /// 1/10, and the training images of each probe.
    /// </summary>
    /// <param name="testPoints">Test images of the run.</param>
    /// <param name="trainImages">Training images of the run (the clean-D probe's).</param>
    /// <param name="drandImages">Images of D_rand.</param>
    /// <param name="ddetImages">Images of D_det.</param>
    /// <param name="targetNotLabelImages">D_rand images whose target differs from their label.</param>
    public LeakageView Check(long testPoints, long trainImages, long drandImages, long ddetImages, long targetNotLabelImages)
    {
        foreach (var e in new[] { DRand, DDet, CleanD, DRandRandomFeatures, DDetRandomFeatures, DRandTargetNotLabel, Chance, MajorityClass })
        {
            Interactive.Check.Interval(e);
            Interactive.Check.Equal($"{e.Name}: test points", (long)e.NTest, testPoints);
        }
        foreach (var e in FeatureProbes) Interactive.Check.Equal($"{e.Name}: features", e.Features, 10);
        Interactive.Check.Equal("chance accuracy", Chance.Accuracy, 0.1);
        Interactive.Check.Equal("D_rand probe: training images", (long)DRand.NTrain, drandImages);
        Interactive.Check.Equal("D_det probe: training images", (long)DDet.NTrain, ddetImages);
        Interactive.Check.Equal("clean-D probe: training images", (long)CleanD.NTrain, trainImages);
        Interactive.Check.Equal("D_rand with target ≠ label: training images", (long)DRandTargetNotLabel.NTrain, targetNotLabelImages);
        return this;
    }

    /// <summary>
    /// Checks the matched nulls: each a share inside its interval, fitted on as many images as its
    /// probe and scored on <paramref name="testPoints"/> points; each excess inside its interval;
    /// every fit converged; and the D_rand null refitted on <paramref name="nullDraws"/> fresh target draws.
    /// </summary>
    public LeakageView CheckNulls(long testPoints, int nullDraws)
    {
        foreach (var (_, c) in Paired)
        {
            Interactive.Check.Interval(c.Null);
            Interactive.Check.Equal($"{c.Null.Name}: training images", c.Null.NTrain, c.Probe.NTrain);
            Interactive.Check.Equal($"{c.Null.Name}: test points", (long)c.Null.NTest, testPoints);
            Interactive.Check.That(c.ExcessInterval.Contains(c.Excess), $"{c.Probe.Name}: the excess interval does not contain the excess.");
            Interactive.Check.That(c.Probe.Converged != false && c.Null.Converged != false, $"{c.Probe.Name}: a probe fit did not converge (raise probe.maxIterations).");
        }
        Interactive.Check.That(Comparisons.DRand.Draws?.K == nullDraws, "D_rand: the null over fresh target draws is missing.");
        if (!Comparisons.DRand.FirstPass)
        {
            Interactive.Check.That(Comparisons.DRand.DrawExcesses?.Count == nullDraws, "D_rand: the excess over fresh target draws is missing.");
            foreach (var (_, c) in Paired)
                Interactive.Check.That(c.Shift is { } s && s.Lower <= s.Mean && s.Mean <= s.Upper, $"{c.Probe.Name}: the feature shift is missing or outside its interval.");
        }
        return this;
    }

    /// <summary>One row of the probe table.</summary>
    public sealed record ProbeRow(string Probe, double Percent, double LowerPercent, double UpperPercent, int TrainImages, string Goh);

    /// <summary>Every entry with its accuracy and interval in percent, and Goh's figures beside his two probes.</summary>
    public IReadOnlyList<ProbeRow> Rows() => Entries.Select(e => new ProbeRow(e.Name, 100 * e.Accuracy, 100 * e.Lo, 100 * e.Hi, e.NTrain,
        e == DRand ? Published.Percent(Published.LeakageDRand) : e == DDet ? Published.Percent(Published.LeakageDDet) : "")).ToList();

    /// <summary>The probe table (what a cell ending with the view shows).</summary>
    public Html ToHtml() => Tables.ToHtml(Rows(), "Probe on ten robust features: clean test accuracy (percent)");

    /// <summary>The probes and the controls as bars with their intervals, Goh's figures as diamonds.</summary>
    public GenericChart Chart() => Charts.BarsWithIntervals("Probe on ten robust features: clean test accuracy", "test accuracy (%)",
        new[] { DRand, DDet, DRandTargetNotLabel, DRandRandomFeatures, DDetRandomFeatures, CleanD, Chance, MajorityClass }.Select(e => new IntervalBar(
            e.Name, 100 * e.Accuracy, 100 * e.Lo, 100 * e.Hi,
            e == DRand ? 100 * Published.LeakageDRand.Value : e == DDet ? 100 * Published.LeakageDDet.Value : null)),
        valueName: "this run", referenceName: "Goh 2019");

    /// <summary>One row of the table of probes against their nulls (percent; excess in points; feature shift in sd of the features).</summary>
    public sealed record NullRow(string Labels, double AttackedPercent, double NullPercent, double ExcessPoints, double ExcessLo, double ExcessHi,
        string IntervalCovers, double PValue, string Verdict, double McNemarP, double? ShiftSd, double? ShiftLo, double? ShiftHi,
        double? DrawMeanPercent, double? DrawSdPoints, string Attacked);

    /// <summary>Each probe against its matched null.</summary>
    public IReadOnlyList<NullRow> NullRows() => Paired.Select(p => new NullRow(p.Labels,
        100 * p.Comparison.Probe.Accuracy, 100 * p.Comparison.Null.Accuracy, 100 * p.Comparison.Excess,
        100 * p.Comparison.ExcessInterval.Lo, 100 * p.Comparison.ExcessInterval.Hi, p.Comparison.IntervalCovers, p.Comparison.PValue, p.Comparison.Verdict,
        p.Comparison.McNemarP, p.Comparison.Shift?.Mean, p.Comparison.Shift?.Lower, p.Comparison.Shift?.Upper,
        p.Comparison.Draws is null ? null : 100 * p.Comparison.Draws.Mean, p.Comparison.Draws is null ? null : 100 * p.Comparison.Draws.Sd,
        $"{p.Comparison.AgainstNull()} its clean-image null")).ToList();

    /// <summary>The table of <see cref="NullRows"/>.</summary>
    public Html NullTable() => Tables.ToHtml(NullRows(), "Probes on attacked images against the same labels on the clean originals");

    /// <summary>The three probes as bars, their nulls as diamonds.</summary>
    public GenericChart NullChart() => Charts.BarsWithIntervals("Probe on attacked images; diamonds: the same labels on the clean originals", "test accuracy (%)",
        Paired.Select(p => new IntervalBar(p.Labels, 100 * p.Comparison.Probe.Accuracy, 100 * p.Comparison.Probe.Lo, 100 * p.Comparison.Probe.Hi, 100 * p.Comparison.Null.Accuracy)),
        valueName: "attacked images", referenceName: "clean originals, same labels");

    /// <summary>What an accuracy excess can and cannot show (the reading's row of that name).</summary>
    public const string WhatTheExcessShows =
        "An excess above its null shows that the attack moved robust features towards the targets. Its size is not comparable across sets: " +
        "where the clean features already carry the label (the shifted labels of D_det, the images whose target is not their class) the probe " +
        "accuracy barely responds to the same pull, so a small or undecided excess there does not show that no leakage happened. " +
        "Sets are compared by the feature shift.";

    /// <summary>
    /// The gap to Goh's D_rand figure on the right scale: the draw-adjusted probe (mean null over fresh
    /// draws plus the excess) and its standard error, beside Goh's 23.5%; or null without fresh draws.
    /// </summary>
    public string? GapToGoh()
    {
        if (Comparisons.DRand.DrawAdjusted is not { } a) return null;
        double gap = Published.LeakageDRand.Value - a.Accuracy;
        var draws = Comparisons.DRand.Draws!;
        return I($"draw-adjusted probe {a.Accuracy:P1} (se {100 * a.Se:0.0} points: mean null over {draws.K} draws {draws.Mean:P1} plus the excess), ")
            + I($"{100 * gap:0.0} points below Goh's {Published.Percent(Published.LeakageDRand)}, {gap / a.Se:0.0} standard errors; ")
            + I($"this run's own probe {DRand.Accuracy:P1} carries its draw's null {DRandNull.Accuracy:P1}");
    }

    static string I(FormattableString f) => FormattableString.Invariant(f);

    /// <summary>Our excess over chance beside Goh's (his 23.5% against chance 10%: 13.5 points).</summary>
    public string OverChance()
    {
        double goh = Published.LeakageDRand.Value - 0.1;
        var adjusted = Comparisons.DRand.DrawAdjusted;
        return I($"excess over its null {100 * Comparisons.DRand.Excess:+0.0;-0.0} points") +
            (adjusted is { } a ? I($", draw-adjusted probe minus chance {100 * (a.Accuracy - 0.1):+0.0;-0.0} points") : "") +
            I($"; Goh: {100 * goh:0.0} points ({Published.Percent(Published.LeakageDRand)} against chance 10%)");
    }

    /// <summary>The feature shifts of the three sets side by side.</summary>
    public string Shifts() => Comparisons.DRand.Shift is null
        ? "not recorded by this run (a first-pass results.json)"
        : $"D_rand {Comparisons.DRand.Shift.Show()}; target ≠ label {Comparisons.DRandTargetNotLabel.Shift.Show()}; D_det {Comparisons.DDet.Shift.Show()}";

    /// <summary>What one set's comparison says, in a sentence: the accuracy verdict, then the shift.</summary>
    static string Conclusion(LeakageComparison c, string set)
    {
        string shift = c.Shift is not { } s ? ""
            : s.Lower > 0 ? $" Its feature shift {s.Show()} says the attack moved robust features towards the targets."
            : s.Upper < 0 ? $" Its feature shift {s.Show()} is away from the targets."
            : $" Its feature shift {s.Show()} does not separate from zero.";
        return c.Verdict switch
        {
            ExcessUncertainty.Above => $"Leakage: the {set} probe is above its clean-image null.{shift}",
            ExcessUncertainty.Below => $"The {set} probe is below its clean-image null.{shift}",
            _ => $"Undecided by accuracy: the {set} excess interval touches zero within its Monte-Carlo error.{shift}",
        };
    }

    /// <summary>
    /// The reading of notebook 06: each probe against chance and against its null (verdict and p-value
    /// from one variance, McNemar beside it), the gap to Goh on the draw-adjusted scale, the sets compared
    /// by their feature shift, what the accuracy excess can and cannot show.
    /// </summary>
    /// <param name="targetEqualsLabelRate">Share of D_rand targets equal to the original label.</param>
    /// <param name="drandImages">Images of D_rand.</param>
    public Html Reading(double targetEqualsLabelRate, long drandImages)
    {
        var c = Comparisons;
        var rows = new List<(string, string)>
        {
            ("D_rand probe", $"{DRand.Show()}: {DRand.Against(0.1)} chance, {c.DRand.AgainstNull()} its clean-image null {DRandNull.Show()} (Goh: {Published.Percent(Published.LeakageDRand)})"),
            ("D_rand excess over its null", c.DRand.Excess()),
            ("null over fresh target draws", $"{c.DRand.Draws}; this run's draw {DRandNull.Accuracy:P1}"),
            ($"gap to Goh's {Published.Percent(Published.LeakageDRand)}", GapToGoh() ?? $"{100 * (Published.LeakageDRand.Value - DRand.Accuracy):0.0} points (no fresh draws recorded)"),
            ("excess over chance, beside Goh's", OverChance()),
            ("D_rand targets equal to the label", $"{targetEqualsLabelRate:P1} of {drandImages:N0} images"),
            ("D_rand probe, target ≠ label", $"{DRandTargetNotLabel.Show()}: {c.DRandTargetNotLabel.AgainstNull()} its clean-image null {DRandTargetNotLabelNull.Show()}; {c.DRandTargetNotLabel.Excess()}"),
            ("D_det probe", $"{DDet.Show()}: {DDet.Against(0.1)} chance, {c.DDet.AgainstNull()} its clean-image null {DDetNull.Show()} (Goh: {Published.Percent(Published.LeakageDDet)}); {c.DDet.Excess()}"),
            ("feature shift towards the target, f_target − f_label (sd of the features)", Shifts()),
            ("what the accuracy excess can and cannot show", WhatTheExcessShows),
            ("random features on D_rand / D_det", $"{DRandRandomFeatures.Show()} / {DDetRandomFeatures.Show()}"),
            ("ceiling (clean D, true labels)", CleanD.Show()),
            ("D_rand", Conclusion(c.DRand, "D_rand")),
            ("D_rand, target ≠ label", Conclusion(c.DRandTargetNotLabel, "target ≠ label")),
            ("D_det", Conclusion(c.DDet, "D_det")),
        };
        return Tables.KeyValue(rows, "Reading");
    }
}
