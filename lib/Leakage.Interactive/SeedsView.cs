using Leakage.Experiment;
using Leakage.Probes;
using Plotly.NET;

namespace Leakage.Interactive;

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

