using Leakage.Experiment;
using Leakage.Probes;
using Plotly.NET;

namespace Leakage.Interactive;

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
