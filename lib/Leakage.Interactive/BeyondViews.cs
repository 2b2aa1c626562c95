using Leakage.Experiment;
using Leakage.Models;
using Leakage.Probes;
using Plotly.NET;

namespace Leakage.Interactive;

/// <summary>
/// A probe compared with its matched null on the same test points (McNemar's exact test and a paired
/// bootstrap interval of the difference), with the run's probe settings: the comparison notebook 07
/// applies to every feature set, never overlapping intervals.
/// </summary>
/// <param name="probe">The run's probe (<see cref="ExperimentRun.Probe"/>), which knows the bootstrap settings.</param>
public sealed class NullTest(LeakageProbe probe)
{
    /// <summary>The paired comparison of <paramref name="attacked"/> with <paramref name="unperturbed"/>.</summary>
    public PairedComparison Compare(ProbeEntry attacked, ProbeEntry unperturbed) => probe.Compare(attacked, unperturbed);

    /// <summary>The probe is above its null (<see cref="Readings.AboveNull"/>).</summary>
    public bool Above(ProbeEntry attacked, ProbeEntry unperturbed) => Compare(attacked, unperturbed).AboveNull();

    /// <summary>"above", "below" or "not distinguishable from" its null.</summary>
    public string Against(ProbeEntry attacked, ProbeEntry unperturbed) => Compare(attacked, unperturbed).AgainstNull();

    /// <summary>Notebook 06's linear probes against their nulls, the bound the nonlinear features are compared with.</summary>
    public Html LinearBound(LeakageView linear)
    {
        ArgumentNullException.ThrowIfNull(linear);
        string Line(ProbeEntry attacked, ProbeEntry unperturbed) =>
            $"{attacked.Show()}: {Against(attacked, unperturbed)} its null {unperturbed.Show()}; {Compare(attacked, unperturbed)}";
        return Tables.KeyValue(
        [
            ($"D_rand probe (Goh: {Published.Percent(Published.LeakageDRand)})", Line(linear.DRand, linear.DRandNull)),
            ($"D_det probe (Goh: {Published.Percent(Published.LeakageDDet)})", Line(linear.DDet, linear.DDetNull)),
            ("ceiling: clean D, true labels", linear.CleanD.Show()),
        ], "Linear robust features: the bound of notebook 06");
    }
}

/// <summary>
/// One set of features the probe reads, with its probes on D_rand and D_det, their matched nulls and
/// the ceiling (clean D, true labels); the nulls are null for the standard model's logits.
/// </summary>
public sealed record FeatureSet(string Name, ProbeEntry DRand, ProbeEntry DDet, ProbeEntry? DRandNull, ProbeEntry? DDetNull, ProbeEntry? CleanD)
{
    /// <summary>C's ten linear features, from notebook 06's leakage step.</summary>
    public static FeatureSet Linear(LeakageView linear)
    {
        ArgumentNullException.ThrowIfNull(linear);
        return new("linear C (notebook 06)", linear.DRand, linear.DDet, linear.DRandNull, linear.DDetNull, linear.CleanD);
    }

    /// <summary>Excess of the D_rand probe over its null in points, null without a null.</summary>
    public double? DRandExcessPoints => DRandNull is null ? null : 100 * (DRand.Accuracy - DRandNull.Accuracy);
    /// <summary>Excess of the D_det probe over its null in points, null without a null.</summary>
    public double? DDetExcessPoints => DDetNull is null ? null : 100 * (DDet.Accuracy - DDetNull.Accuracy);
}

/// <summary>
/// The robust CNN of notebook 07 (part a): its accuracy under PGD beside the standard model's, and
/// its probes grouped into feature sets. A cell that ends with it shows the PGD table.
/// </summary>
/// <param name="Outcome">The extension's outcome.</param>
/// <param name="StandardTestAccuracy">The standard model's clean accuracy on the whole test set.</param>
/// <param name="TestPoints">Test images of the run.</param>
public sealed record NonlinearView(NonlinearOutcome Outcome, double StandardTestAccuracy, long TestPoints)
{
    /// <summary>Test images the PGD evaluation attacks: up to 1,000.</summary>
    public int AttackedImages => (int)Math.Min(1000, TestPoints);

    /// <summary>Accuracies are shares, the radius is the setting's, both models were attacked on the same images, and PGD did not raise an accuracy.</summary>
    public NonlinearView Check(double radius)
    {
        Interactive.Check.Fraction("robust CNN: clean test accuracy", Outcome.CleanAccuracy);
        Interactive.Check.Close("attack radius", Outcome.Robust.Radius, radius, 0);
        foreach (var (who, ev) in new[] { ("robust CNN", Outcome.Robust), ("standard model", Outcome.Standard) })
        {
            Interactive.Check.Equal($"{who}: attacked test images", ev.Images, AttackedImages);
            Interactive.Check.Fraction($"{who}: clean accuracy on the attacked images", ev.CleanAccuracy);
            Interactive.Check.Fraction($"{who}: accuracy under PGD", ev.AttackedAccuracy);
            // The attack starts at the clean image and keeps the iterate with the highest loss on the true class:
            // it cannot make right what was wrong, except in the rare case where that loss rises and the class
            // still comes out on top. One point of tolerance.
            Interactive.Check.AtMost($"{who}: accuracy under PGD (it cannot exceed the clean accuracy on the same images)", ev.AttackedAccuracy, ev.CleanAccuracy + 0.01);
        }
        return this;
    }

    /// <summary>
    /// Every probe is sound (trained on the images of its set, scored on the test set), the robust
    /// views have 10 and penultimate-width features, the standard logits 10.
    /// </summary>
    public NonlinearView CheckProbes(long drandImages, long ddetImages, long trainImages)
    {
        foreach (var p in Outcome.Probes)
            Interactive.Check.Entry(p.Entry, p.Kind.Set switch { ProbeSet.DRand => drandImages, ProbeSet.DDet => ddetImages, _ => trainImages }, TestPoints);
        long penultimate = ((IFeatureModel)Outcome.Model).FeatureCount;
        var width = new Dictionary<FeatureView, long> { [FeatureView.RobustLogits] = 10, [FeatureView.RobustPenultimate] = penultimate, [FeatureView.StandardLogits] = 10 };
        Interactive.Check.Equal("nonlinear probes", Outcome.Probes.Count, NonlinearProbeKind.All.Count);
        foreach (var kind in NonlinearProbeKind.All)
            Interactive.Check.Equal($"{kind}: features", (long)Outcome.Probe(kind).Features, width[kind.View]);
        return this;
    }

    /// <summary>One of the robust CNN's views with its nulls and ceiling.</summary>
    public FeatureSet Features(FeatureView view) => new(NonlinearProbeKind.ViewName(view), Outcome.Probe(view, ProbeSet.DRand), Outcome.Probe(view, ProbeSet.DDet),
        Outcome.Probe(view, ProbeSet.DRandNull), Outcome.Probe(view, ProbeSet.DDetNull), Outcome.Probe(view, ProbeSet.CleanD));

    /// <summary>The standard model's logits on D_rand and D_det (no nulls).</summary>
    public FeatureSet StandardLogits => new(NonlinearProbeKind.ViewName(FeatureView.StandardLogits),
        Outcome.Probe(FeatureView.StandardLogits, ProbeSet.DRand), Outcome.Probe(FeatureView.StandardLogits, ProbeSet.DDet), null, null, null);

    static string Kept(PgdEvaluation e) => e.CleanAccuracy == 0 ? "-" : $"{e.AttackedAccuracy / e.CleanAccuracy:P0}";

    /// <summary>Both models clean and under PGD.</summary>
    public Html ToHtml() => Tables.ToHtml(new[]
    {
        new { Model = "robust CNN (adversarially trained)", CleanTestPercent = 100 * Outcome.CleanAccuracy, CleanPercent = 100 * Outcome.Robust.CleanAccuracy,
              UnderPgdPercent = 100 * Outcome.Robust.AttackedAccuracy, CorrectPredictionsKept = Kept(Outcome.Robust) },
        new { Model = "standard model (notebook 02)", CleanTestPercent = 100 * StandardTestAccuracy, CleanPercent = 100 * Outcome.Standard.CleanAccuracy,
              UnderPgdPercent = 100 * Outcome.Standard.AttackedAccuracy, CorrectPredictionsKept = Kept(Outcome.Standard) },
    }, $"L2 PGD at radius {Outcome.Robust.Radius} (pixel units), {Outcome.Robust.Steps} steps, on {AttackedImages:N0} test images (CleanPercent and UnderPgdPercent); CleanTestPercent on all {TestPoints:N0}");
}

/// <summary>
/// The feature sets of notebook 07 side by side, each probe against its null: the table, the chart
/// and the reading. The first set is the linear C, the last the standard model's logits.
/// </summary>
public sealed record FeatureSetComparison(NullTest Nulls, IReadOnlyList<FeatureSet> Sets)
{
    /// <summary>The robust sets (all but the standard model's logits).</summary>
    public IReadOnlyList<FeatureSet> Robust => Sets.Where(s => s.DRandNull is not null).ToList();

    string Versus(ProbeEntry attacked, ProbeEntry? unperturbed) => unperturbed is null ? "no null" : Nulls.Against(attacked, unperturbed);

    /// <summary>Probe accuracy by feature set, with the nulls, the excess and the verdict.</summary>
    public Html ToHtml() => Tables.ToHtml(Sets.Select(f => new
    {
        Features = f.Name,
        Count = f.DRand.Features,
        DRandPercent = 100 * f.DRand.Accuracy,
        DRandNullPercent = f.DRandNull is null ? (double?)null : 100 * f.DRandNull.Accuracy,
        DRandAboveNull = f.DRandExcessPoints,
        DRandAgainstNull = Versus(f.DRand, f.DRandNull),
        DDetPercent = 100 * f.DDet.Accuracy,
        DDetNullPercent = f.DDetNull is null ? (double?)null : 100 * f.DDetNull.Accuracy,
        DDetAboveNull = f.DDetExcessPoints,
        DDetAgainstNull = Versus(f.DDet, f.DDetNull),
        CeilingPercent = f.CleanD is null ? (double?)null : 100 * f.CleanD.Accuracy,
    }), "Probe accuracy on the clean test set by feature set (percent; AboveNull in percentage points)");

    /// <summary>Bars for D_rand and D_det per set, nulls as diamonds.</summary>
    public GenericChart Chart() => Charts.BarsWithIntervals("Probe on D_rand and D_det by feature set; diamonds: the same labels on clean originals", "test accuracy (%)",
        Sets.SelectMany(f => new[]
        {
            new IntervalBar($"D_rand · {f.Name}", 100 * f.DRand.Accuracy, 100 * f.DRand.Lo, 100 * f.DRand.Hi, f.DRandNull is null ? null : 100 * f.DRandNull.Accuracy),
            new IntervalBar($"D_det · {f.Name}", 100 * f.DDet.Accuracy, 100 * f.DDet.Lo, 100 * f.DDet.Hi, f.DDetNull is null ? null : 100 * f.DDetNull.Accuracy),
        }),
        valueName: "attacked images", referenceName: "clean originals, same labels (null)");

    /// <summary>
    /// Per robust set and data set: leakage or not; which set has the largest D_rand excess; the
    /// standard model's logits beside its accuracy and the attacks' success.
    /// </summary>
    public Html Reading(double standardTestAccuracy, double drandSuccess, double ddetSuccess)
    {
        string Verdict(ProbeEntry attacked, ProbeEntry unperturbed, string set) => Nulls.Above(attacked, unperturbed)
            ? $"leakage: {attacked.Show()} against {unperturbed.Show()}, {Nulls.Compare(attacked, unperturbed)}"
            : $"no leakage measurable on {set}: {attacked.Show()}, {Nulls.Against(attacked, unperturbed)} {unperturbed.Show()}";
        var reading = new List<(string, string)>();
        foreach (var f in Robust)
        {
            reading.Add(($"{f.Name}, D_rand", Verdict(f.DRand, f.DRandNull!, "D_rand")));
            reading.Add(($"{f.Name}, D_det", Verdict(f.DDet, f.DDetNull!, "D_det")));
        }
        var linear = Sets[0];
        var tightest = Robust.MaxBy(f => f.DRandExcessPoints)!;
        reading.Add(("largest D_rand excess over its null", tightest == linear
            ? $"the linear C ({tightest.DRandExcessPoints:0.0} points): in this run the robust CNN does not tighten Goh's bound"
            : $"{tightest.Name} ({tightest.DRandExcessPoints:0.0} points, linear C {linear.DRandExcessPoints:0.0})"));
        var standard = Sets[^1];
        reading.Add(("standard model logits on D_rand / D_det", $"{standard.DRand.Show()} / {standard.DDet.Show()}"));
        reading.Add(("standard model: clean test accuracy, D_rand / D_det attack success", $"{standardTestAccuracy:P1}, {drandSuccess:P1} / {ddetSuccess:P1}"));
        return Tables.KeyValue(reading, "Reading");
    }
}
