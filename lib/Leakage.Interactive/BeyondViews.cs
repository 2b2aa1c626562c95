using Leakage.Experiment;
using Leakage.Models;
using Leakage.Probes;
using Leakage.Released;
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
        foreach (var e in Outcome.Probes)
            Interactive.Check.Entry(e, e.Name.StartsWith("D_rand", StringComparison.Ordinal) ? drandImages
                : e.Name.StartsWith("D_det", StringComparison.Ordinal) ? ddetImages : trainImages, TestPoints);
        long penultimate = ((IFeatureModel)Outcome.Model).FeatureCount;
        foreach (var (view, width) in new[] { (LogitsView, 10L), (PenultimateView, penultimate) })
            foreach (var set in new[] { "D_rand", "D_det", "clean D", "clean images, D_rand labels", "clean images, D_det labels" })
                Interactive.Check.Equal($"{set}, {view}: features", (long)Outcome.Probe($"{set}, {view}").Features, width);
        Interactive.Check.Equal("D_rand, standard model logits: features", Outcome.Probe("D_rand, standard model logits").Features, 10);
        return this;
    }

    /// <summary>Name of the robust CNN's logits view in its probe names.</summary>
    public const string LogitsView = "robust CNN logits";
    /// <summary>Name of the robust CNN's penultimate view in its probe names.</summary>
    public const string PenultimateView = "robust CNN penultimate features";

    /// <summary>One of the robust CNN's views with its nulls and ceiling.</summary>
    public FeatureSet Features(string view) => new(view, Outcome.Probe($"D_rand, {view}"), Outcome.Probe($"D_det, {view}"),
        Outcome.Probe($"clean images, D_rand labels, {view}"), Outcome.Probe($"clean images, D_det labels, {view}"), Outcome.Probe($"clean D, {view}"));

    /// <summary>The standard model's logits on D_rand and D_det (no nulls).</summary>
    public FeatureSet StandardLogits => new("standard model logits (non-robust)", Outcome.Probe("D_rand, standard model logits"), Outcome.Probe("D_det, standard model logits"), null, null, null);

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

/// <summary>
/// The radius sweep of notebook 07 (part b): C trained and certified at each radius, its γ, Spec 2,
/// accuracies and leakage against the matched nulls. A cell that ends with it shows the table.
/// </summary>
public sealed record SweepView(IReadOnlyList<SweepPoint> Points, string Units, NullTest Nulls)
{
    /// <summary>The radii, in order.</summary>
    public IReadOnlyList<double> Radii => Points.Select(p => p.Radius).ToList();

    string Axis => $"radius ({Units} units)";

    /// <summary>
    /// The radii are the setting's, in its units; ten finite γ; Spec 2 and accuracies are shares with
    /// max(0, clean + Spec 2 − 1) ≤ certified ≤ min(clean, Spec 2); every probe and null is sound.
    /// </summary>
    public SweepView Check(IReadOnlyList<double> radii, long drandImages, long ddetImages, long testPoints)
    {
        Interactive.Check.Equal("radii of the sweep", string.Join(", ", Radii), string.Join(", ", radii));
        foreach (var p in Points)
        {
            var at = $"radius {p.Radius}";
            Interactive.Check.Equal($"{at}: units", ExperimentRun.ParseUnits(p.Units), ExperimentRun.ParseUnits(Units));
            Interactive.Check.Equal($"{at}: γ values", p.Gamma.Count, 10);
            Interactive.Check.That(p.Gamma.All(double.IsFinite), $"{at}: a γ is not finite.");
            Interactive.Check.Fraction($"{at}: Spec 2", p.Spec2);
            Interactive.Check.Fraction($"{at}: clean accuracy", p.CleanAccuracy);
            Interactive.Check.AtMost($"{at}: certified accuracy", p.CertifiedAccuracy, Math.Min(p.CleanAccuracy, p.Spec2) + 1e-12);
            Interactive.Check.That(p.CertifiedAccuracy >= p.CleanAccuracy + p.Spec2 - 1 - 1e-12, $"{at}: certified accuracy is below clean + Spec 2 - 1.");
            foreach (var e in new[] { p.DRand, p.DRandClean }) Interactive.Check.Entry(e, drandImages, testPoints);
            foreach (var e in new[] { p.DDet, p.DDetClean }) Interactive.Check.Entry(e, ddetImages, testPoints);
        }
        return this;
    }

    /// <summary>One row per radius.</summary>
    public Html ToHtml() => Tables.ToHtml(Points.Select(p => new
    {
        Radius = p.Radius,
        GammaMin = p.Gamma.Min(),
        GammaMax = p.Gamma.Max(),
        Spec2Percent = 100 * p.Spec2,
        CleanPercent = 100 * p.CleanAccuracy,
        CertifiedPercent = 100 * p.CertifiedAccuracy,
        DRandPercent = 100 * p.DRand.Accuracy,
        DRandNullPercent = 100 * p.DRandClean.Accuracy,
        DRand = Nulls.Against(p.DRand, p.DRandClean) + " its null",
        DDetPercent = 100 * p.DDet.Accuracy,
        DDetNullPercent = 100 * p.DDetClean.Accuracy,
        DDet = Nulls.Against(p.DDet, p.DDetClean) + " its null",
    }), $"C trained and certified at each radius ({Units} units)", significantDigits: 3);

    /// <summary>Weakest, mean and strongest γ by radius, with Goh's range at 0.25.</summary>
    public GenericChart GammaChart() => Charts.Lines("Robust usefulness γ of the ten features", Axis, "γ", new[]
    {
        new Series("min γ", Radii, Points.Select(p => p.Gamma.Min()).ToList()),
        new Series("mean γ", Radii, Points.Select(p => p.Gamma.Average()).ToList()),
        new Series("max γ", Radii, Points.Select(p => p.Gamma.Max()).ToList()),
        new Series($"Goh at 0.25: {Published.GohGamma.Min()} to {Published.GohGamma.Max()}", new[] { 0.25, 0.25 }, new[] { Published.GohGamma.Min(), Published.GohGamma.Max() }),
    }, logX: true);

    /// <summary>Spec 2, clean and certified accuracy by radius, with the 80% threshold.</summary>
    public GenericChart CertificateChart() => Charts.Lines("Spec 2, clean and certified accuracy of C by radius", Axis, "share of test points", new[]
    {
        new Series("Spec 2", Radii, Points.Select(p => p.Spec2).ToList()),
        new Series("clean accuracy", Radii, Points.Select(p => p.CleanAccuracy).ToList()),
        new Series("certified accuracy", Radii, Points.Select(p => p.CertifiedAccuracy).ToList()),
        new Series("80% (Spec 2 threshold)", new[] { Radii.Min(), Radii.Max() }, new[] { Published.Spec2Minimum.Value, Published.Spec2Minimum.Value }),
    }, logX: true);

    Series WithInterval(string name, Func<SweepPoint, ProbeEntry> entry) => new(name, Radii,
        Points.Select(p => 100 * entry(p).Accuracy).ToList(), Points.Select(p => 100 * entry(p).Lo).ToList(), Points.Select(p => 100 * entry(p).Hi).ToList());

    /// <summary>The probes and their nulls by radius with their intervals, and chance.</summary>
    public GenericChart LeakageChart() => Charts.Lines("Leakage probe by radius of C (error bars: 95% bootstrap intervals)", Axis, "clean test accuracy (%)", new[]
    {
        WithInterval("D_rand", p => p.DRand),
        WithInterval("D_rand labels on clean originals (null)", p => p.DRandClean),
        WithInterval("D_det", p => p.DDet),
        WithInterval("D_det labels on clean originals (null)", p => p.DDetClean),
        new Series("chance", new[] { Radii.Min(), Radii.Max() }, new[] { 10.0, 10.0 }),
    }, logX: true);

    /// <summary>
    /// Where each probe is above its null, the range of the D_rand excess, where Spec 2 holds, and, at
    /// the radius of notebook 05's C (<paramref name="ownRadius"/>, when it is also the certification
    /// radius), the sweep's D_rand probe beside notebook 06's <paramref name="linearDRand"/>.
    /// </summary>
    public Html Reading(double? ownRadius, ProbeEntry linearDRand)
    {
        static string RadiiOrNone(IEnumerable<SweepPoint> points) => points.Any() ? string.Join(", ", points.Select(p => p.Radius)) : "none";
        var excess = Points.Select(p => 100 * (p.DRand.Accuracy - p.DRandClean.Accuracy)).ToList();
        var rows = new List<(string, string)>
        {
            ("D_rand above its null at radius", RadiiOrNone(Points.Where(p => Nulls.Above(p.DRand, p.DRandClean)))),
            ("D_rand excess over its null", $"{excess.Min():0.0} to {excess.Max():0.0} points across radii {Radii.Min()} to {Radii.Max()}"),
            ("D_det above its null at radius", RadiiOrNone(Points.Where(p => Nulls.Above(p.DDet, p.DDetClean)))),
            ("Spec 2 holds (≥ 80%) at radius", RadiiOrNone(Points.Where(p => p.Spec2 >= Published.Spec2Minimum.Value))),
        };
        if (Points.FirstOrDefault(p => p.Radius == ownRadius) is { } own)
            rows.Add(($"radius {own.Radius}: D_rand probe, sweep / notebook 06", $"{own.DRand.Show()} / {linearDRand.Show()}"));
        return Tables.KeyValue(rows, "Reading");
    }
}

/// <summary>
/// The seed study of notebook 07 (part c): the probe over several trainings of C, beside the
/// test-point interval of notebook 06's single probe and Goh's figures. A cell that ends with it
/// shows the table.
/// </summary>
public sealed record SeedsView(ProbeSeedStudy Study, LeakageView Linear)
{
    /// <summary>Seeds of C.</summary>
    public int Count => Study.Seeds.Count;

    /// <summary>As many seeds as asked, the run's seed first; each value a share; mean within the range; sd defined.</summary>
    public SeedsView Check(int seeds, long firstSeed)
    {
        Interactive.Check.Equal("seeds", Count, seeds);
        Interactive.Check.Equal("first seed", (long)Study.Seeds[0], firstSeed);
        foreach (var (name, values) in new[] { ("D_rand", Study.DRand), ("D_det", Study.DDet) })
        {
            Interactive.Check.Equal($"{name}: values", values.Count, Count);
            foreach (var v in values) Interactive.Check.Fraction($"{name}: leakage of one seed", v);
            Interactive.Check.InRange($"{name}: mean over seeds", ProbeSeedStudy.Mean(values), values.Min(), values.Max());
            Interactive.Check.That(ProbeSeedStudy.Sd(values) >= 0, $"{name}: the standard deviation over seeds is negative or undefined.");
        }
        return this;
    }

    /// <summary>One row per data set, in percent.</summary>
    public sealed record SeedRow(string Set, int Seeds, double MeanPercent, double SdPercent, double MinPercent, double MaxPercent, double BootstrapHalfWidthPercent, double GohPercent);

    /// <summary>D_rand and D_det over the seeds.</summary>
    public IReadOnlyList<SeedRow> Rows()
    {
        SeedRow Row(string set, IReadOnlyList<double> v, ProbeEntry single, PublishedValue goh) =>
            new(set, v.Count, 100 * ProbeSeedStudy.Mean(v), 100 * ProbeSeedStudy.Sd(v), 100 * v.Min(), 100 * v.Max(), 100 * (single.Hi - single.Lo) / 2, 100 * goh.Value);
        return [Row("D_rand", Study.DRand, Linear.DRand, Published.LeakageDRand), Row("D_det", Study.DDet, Linear.DDet, Published.LeakageDDet)];
    }

    /// <summary>The table of <see cref="Rows"/>.</summary>
    public Html ToHtml() => Tables.ToHtml(Rows(), "Leakage over seeds of C (percent); BootstrapHalfWidth: half the 95% interval of notebook 06's single probe (test sampling only)");

    /// <summary>Mean over seeds with min-max whiskers, Goh's figures as diamonds.</summary>
    public GenericChart Chart() => Charts.BarsWithIntervals($"Leakage over {Count} seeds of C: mean, whiskers from min to max", "test accuracy (%)",
        Rows().Select(r => new IntervalBar(r.Set, r.MeanPercent, r.MinPercent, r.MaxPercent, r.GohPercent)),
        valueName: "this run, mean over seeds", referenceName: "Goh 2019 (one run)");

    /// <summary>The gap to Goh against seed noise (2√2 sd), the standard error of the mean, and the seeds a ±1 point interval needs.</summary>
    public Html Reading()
    {
        var rows = Rows();
        var reading = rows.Select(r =>
        {
            double noise = 2 * Math.Sqrt(2) * r.SdPercent;
            double gap = Math.Abs(r.MeanPercent - r.GohPercent);
            return ($"{r.Set}: mean {r.MeanPercent:0.0}% against Goh's {r.GohPercent}%",
                $"gap {gap:0.0} points; two single runs differ by up to about {noise:0.0} points from the seed of C alone " +
                (gap <= noise ? "(the gap is within seed noise)" : $"(the gap is {gap / Math.Max(noise, 1e-9):0.#} times that: a difference in procedure, not seed noise)") +
                $"; the bootstrap interval of one probe is ±{r.BootstrapHalfWidthPercent:0.0} points");
        }).ToList();
        reading.Add(($"standard error of the mean over these {Count} seeds", string.Join(", ", rows.Select(r => $"{r.Set}: {r.SdPercent / Math.Sqrt(Count):0.00} points"))));
        reading.Add(("seeds for a 95% interval of ±1 point on the mean", string.Join(", ", rows.Select(r => $"{r.Set}: about {Math.Max(2, Math.Ceiling(Math.Pow(2 * r.SdPercent, 2)))}"))));
        return Tables.KeyValue(reading, "Reading");
    }
}

/// <summary>The probe on Ilyas et al.'s released data sets (notebook 07, part d).</summary>
public static class ReleasedSets
{
    /// <summary>
    /// What the part shows when <c>beyond.releasedData</c> is not set: that it skipped, the layout the
    /// loader looks for (the library's own names), how to run it, and a probe an earlier run recorded.
    /// </summary>
    public static Html Skipped(RunResults recorded)
    {
        ArgumentNullException.ThrowIfNull(recorded);
        var kinds = Enum.GetValues<ReleasedDatasetKind>();
        Check.Equal("data sets in the release", kinds.Length, 4);
        var rows = new List<(string, string)>
        {
            ("status", "skipped: beyond.releasedData is not set"),
            ("layout looked for", $"<folder>/{ReleasedDatasets.ReleaseFolder}/{{{string.Join(", ", kinds.Select(ReleasedDatasets.FolderName))}}}/{{{ReleasedDatasets.ImagesFile}, {ReleasedDatasets.LabelsFile}}}"),
            ("to run it", "extract datasets.tar, then add --released <folder> to the run or experiment command, or set LEAKAGE_SETTINGS=beyond.releasedData=<folder>"),
        };
        if (recorded.Beyond is { Released.Count: > 0 } b)
        {
            foreach (var (kind, accuracy) in b.Released) Check.Fraction($"recorded probe on released {kind}", accuracy);
            rows.Add(("recorded by an earlier run", $"{string.Join(", ", b.Released.Select(r => $"{r.Kind} {r.Accuracy:P1}"))} (sets under {b.ReleasedRoot})"));
        }
        return Tables.KeyValue(rows, "(d) Released data sets");
    }

    /// <summary>How the tables name a released set.</summary>
    public static string Name(ReleasedProbe r)
    {
        ArgumentNullException.ThrowIfNull(r);
        return r.Kind switch
        {
            ReleasedDatasetKind.DRand => "D_rand (released)",
            ReleasedDatasetKind.DDet => "D_det (released)",
            ReleasedDatasetKind.Robust => "D_R (released)",
            ReleasedDatasetKind.NonRobust => "D_NR (released)",
            _ => Path.GetFileName(r.Folder),
        };
    }

    static string Goh(ReleasedProbe r) => r.Kind switch
    {
        ReleasedDatasetKind.DRand => $"{Published.Percent(Published.LeakageDRand)} (D_rand)",
        ReleasedDatasetKind.NonRobust => $"{Published.Percent(Published.LeakageDRand)}, if measured on D_NR",
        ReleasedDatasetKind.DDet => Published.Percent(Published.LeakageDDet),
        _ => "",
    };

    /// <summary>
    /// Checks every released probe (sound entry on its set's images and the test set, ten features,
    /// images present) and shows them beside this run's D_rand and D_det probes and Goh's figures.
    /// </summary>
    public static Html Table(IReadOnlyList<ReleasedProbe> released, LeakageView linear, string folder, long testPoints)
    {
        ArgumentNullException.ThrowIfNull(released);
        ArgumentNullException.ThrowIfNull(linear);
        Check.That(released.Count > 0, $"No released data set was probed under {folder}.");
        foreach (var r in released)
        {
            Check.Entry(r.Entry, r.Images, testPoints);
            Check.Equal($"{r.Entry.Name}: features", r.Entry.Features, 10);
            Check.That(r.Images > 0, $"{r.Folder}: no images.");
        }
        var ours = new Dictionary<ReleasedDatasetKind, ProbeEntry> { [ReleasedDatasetKind.DRand] = linear.DRand, [ReleasedDatasetKind.DDet] = linear.DDet };
        return Tables.ToHtml(released.Select(r => new
        {
            DataSet = Name(r),
            Images = r.Images,
            Percent = 100 * r.Entry.Accuracy,
            LowerPercent = 100 * r.Entry.Lo,
            UpperPercent = 100 * r.Entry.Hi,
            ThisRunsSetPercent = r.Kind is { } kind && ours.TryGetValue(kind, out var e) ? (double?)(100 * e.Accuracy) : null,
            Goh = Goh(r),
        }), $"Probe on C's ten features, trained on the released sets under {folder}, tested on this run's clean test set");
    }
}
