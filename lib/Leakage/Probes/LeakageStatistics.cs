using System.Text.Json.Serialization;
using Leakage.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Probes;

/// <summary>
/// A null probe's accuracy over fresh draws of its random labels (e.g. K new D_rand target draws on
/// the clean originals): the spread that one draw, the one inside a recorded D_rand, carries.
/// </summary>
/// <param name="Accuracies">Clean-test accuracy of the probe fitted with each draw.</param>
public sealed record NullDraws(IReadOnlyList<double> Accuracies)
{
    /// <summary>Number of draws K.</summary>
    [JsonIgnore] public int K => Accuracies.Count;
    /// <summary>Mean accuracy over the draws.</summary>
    [JsonIgnore] public double Mean => SampleStatistics.Mean(Accuracies);
    /// <summary>Sample standard deviation over the draws (NaN for one draw).</summary>
    [JsonIgnore] public double Sd => SampleStatistics.Sd(Accuracies);
    /// <summary>Standard error of <see cref="Mean"/>.</summary>
    [JsonIgnore] public double StandardError => Sd / Math.Sqrt(K);
    /// <summary>Lowest accuracy over the draws.</summary>
    [JsonIgnore] public double Min => Accuracies.Min();
    /// <summary>Highest accuracy over the draws.</summary>
    [JsonIgnore] public double Max => Accuracies.Max();

    /// <summary>
    /// Monte-Carlo p-value of <paramref name="accuracy"/> against the draws, <c>(1 + #{draws &gt;= accuracy}) / (K + 1)</c>:
    /// how often a probe without leakage scores as high. Its floor is <c>1 / (K + 1)</c>.
    /// </summary>
    public double PValue(double accuracy) => (1 + Accuracies.Count(a => a >= accuracy)) / (K + 1.0);

    /// <inheritdoc/>
    public override string ToString() => $"{K} draws: mean {Mean:P2}, sd {Sd * 100:0.00} points, range {Min:P2} to {Max:P2}";
}

/// <summary>
/// Leakage of one probe measured against its matched null (the same probe on the clean originals
/// with the same labels): the excess accuracy, a paired comparison on the test points, and a bootstrap
/// interval of the excess over refits on resampled training images, which also covers the draw of their targets.
/// </summary>
/// <param name="Probe">The probe on the attacked images.</param>
/// <param name="Null">The matched null.</param>
/// <param name="Paired">Probe vs null on per-point correctness (test points only; the fits are held fixed).</param>
/// <param name="TrainingInterval">Interval of the excess from the standard error of refits on resampled training images (null when not computed).</param>
/// <param name="Strata">Number of strata (true classes) the training images were resampled within.</param>
/// <param name="Resamples">Bootstrap resamples behind <paramref name="TrainingInterval"/>.</param>
/// <param name="RefitsNotConverged">Refits of the bootstrap that stopped before their tolerance.</param>
/// <param name="Draws">The null over fresh target draws, when the targets are random.</param>
public sealed record LeakageComparison(ProbeEntry Probe, ProbeEntry Null, PairedComparison Paired, ConfidenceInterval? TrainingInterval,
    int Strata, int Resamples, int RefitsNotConverged, NullDraws? Draws)
{
    /// <summary>Probe accuracy minus null accuracy.</summary>
    [JsonIgnore]
    public double Excess => Probe.Accuracy - Null.Accuracy;
    /// <summary>The widest-covering interval available: the training-image bootstrap when computed, else the paired test-point bootstrap.</summary>
    [JsonIgnore]
    public ConfidenceInterval ExcessInterval => TrainingInterval ?? Paired.Interval;
    /// <summary>What <see cref="ExcessInterval"/> resamples.</summary>
    [JsonIgnore]
    public string IntervalCovers => TrainingInterval != null ? "training images with their target draws (resampled within each class) and test points" : "test points";
    /// <summary>McNemar's exact p-value of probe vs null.</summary>
    [JsonIgnore]
    public double PValue => Paired.PValue;
    /// <summary>
    /// The probe is above its null: McNemar rejects at <paramref name="alpha"/> with a positive difference, and
    /// the excess interval lies above zero.
    /// </summary>
    public bool Above(double alpha = 0.05) => Paired.FirstAbove(alpha) && ExcessInterval.Lo > 0;

    /// <inheritdoc/>
    public override string ToString() =>
        $"{Probe.Name}: {Probe.Accuracy:P2} vs null {Null.Accuracy:P2}, excess {Excess * 100:+0.00;-0.00} points " +
        $"[{ExcessInterval.Lo * 100:+0.00;-0.00}, {ExcessInterval.Hi * 100:+0.00;-0.00}] ({IntervalCovers}), McNemar p = {PValue:G3}" +
        (Draws is null ? "" : $"; null over {Draws}");
}

/// <summary>Leakage measured against matched nulls (<see cref="LeakageComparison"/>, <see cref="NullDraws"/>).</summary>
public static class LeakageStatistics
{
    /// <summary>
    /// Fits <paramref name="probe"/> once per draw on the training set <paramref name="draw"/>(d) returns
    /// (features N_d x k, labels N_d) and scores it on the test set; starts each fit from
    /// <paramref name="start"/> when given.
    /// </summary>
    public static NullDraws OverDraws(LeakageProbe probe, int draws, Func<int, (Tensor Features, Tensor Labels)> draw, Tensor testFeatures, Tensor testLabels, LogisticProbe? start = null)
    {
        if (draws < 1) throw new ArgumentOutOfRangeException(nameof(draws), draws, "The null needs at least one draw.");
        var acc = new double[draws];
        for (int d = 0; d < draws; d++)
        {
            using var scope = NewDisposeScope();
            var (features, labels) = draw(d);
            var fit = LogisticProbe.Fit(features, labels, probe.Options.Classes, Refit(probe), start);
            acc[d] = fit.Accuracy(testFeatures, testLabels);
        }
        return new NullDraws(acc);
    }

    /// <summary>
    /// Settings of the many refits (null draws, bootstrap): they stop at a gradient of 1e-5 (or the probe's
    /// own tolerance if looser), where predictions no longer change, at a fraction of the iterations.
    /// </summary>
    static LogisticProbeOptions Refit(LeakageProbe probe) =>
        probe.Options.Probe with { GradientTolerance = Math.Max(probe.Options.Probe.GradientTolerance, 1e-5) };

    /// <summary>Quantile of the standard normal distribution at <paramref name="p"/> in (0, 1) (libtorch's <c>special.ndtri</c>).</summary>
    public static double NormalQuantile(double p)
    {
        if (!(p > 0 && p < 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "A quantile level must lie in (0, 1).");
        TorchNative.Ensure();
        using var q = special.ndtri(tensor(p, ScalarType.Float64));
        return q.item<double>();
    }

    /// <summary>
    /// Fits the probe on <paramref name="attackedFeatures"/> and the null on <paramref name="cleanFeatures"/>
    /// (the clean originals of the same rows), both with <paramref name="trainLabels"/>, scores both on the
    /// test set with its true labels, and compares them point by point.
    /// <para>When <paramref name="strataOfRow"/> gives each training row's stratum (its true class), the excess
    /// also gets a bootstrap interval over the training images (normal, from the bootstrap standard
    /// error): <paramref name="resamples"/> times, training rows are drawn with replacement within each
    /// stratum and test points with replacement, and probe and null are refitted on the same rows and
    /// scored on the same points. Each image's random target is an independent draw, so resampling
    /// images resamples the draw, which the test-point bootstrap holds fixed. Resampling within classes
    /// keeps the class composition fixed, as it is in the experiment. (The attack's chunks are not the
    /// unit: the training images are stored by class, so resampling chunks would resample the class
    /// composition.) The null over fresh draws (<see cref="OverDraws"/>) is the check on it.</para>
    /// </summary>
    public static LeakageComparison Compare(LeakageProbe probe, string name, string nullName, Tensor attackedFeatures, Tensor cleanFeatures, Tensor trainLabels,
        Tensor testFeatures, Tensor testLabels, int[]? strataOfRow = null, int resamples = 0, NullDraws? draws = null)
    {
        TorchNative.Ensure();
        if (attackedFeatures.shape[0] != cleanFeatures.shape[0] || attackedFeatures.shape[0] != trainLabels.shape[0])
            throw new ArgumentException($"Probe '{name}': attacked features, clean features and labels must have one row per training image ({attackedFeatures.shape[0]}, {cleanFeatures.shape[0]}, {trainLabels.shape[0]}).");
        if (strataOfRow != null && strataOfRow.Length != attackedFeatures.shape[0])
            throw new ArgumentException($"Probe '{name}': {strataOfRow.Length} strata for {attackedFeatures.shape[0]} training rows.", nameof(strataOfRow));
        var (entry, fit) = probe.Fit(name, attackedFeatures, trainLabels, testFeatures, testLabels);
        var (nullEntry, nullFit) = probe.Fit(nullName, cleanFeatures, trainLabels, testFeatures, testLabels);
        var paired = probe.Compare(entry, nullEntry);
        ConfidenceInterval? interval = null;
        int strata = strataOfRow?.Distinct().Count() ?? 0, notConverged = 0;
        if (strataOfRow != null && resamples > 0)
        {
            var rowsOf = strataOfRow.Select((c, row) => (c, row)).GroupBy(p => p.c).OrderBy(g => g.Key).Select(g => g.Select(p => (long)p.row).ToArray()).ToArray();
            int m = (int)testFeatures.shape[0];
            var rng = new Random(probe.Options.Seed);
            var refit = Refit(probe);
            var excess = new double[resamples];
            for (int b = 0; b < resamples; b++)
            {
                using var scope = NewDisposeScope();
                var rows = new List<long>(attackedFeatures.shape[0] is var n ? (int)n : 0);
                foreach (var stratum in rowsOf)
                    for (int i = 0; i < stratum.Length; i++) rows.Add(stratum[rng.Next(stratum.Length)]);
                var test = new int[m];
                for (int i = 0; i < m; i++) test[i] = rng.Next(m);
                var idx = tensor(rows.ToArray(), dtype: ScalarType.Int64);
                var y = trainLabels.index_select(0, idx);
                var a = LogisticProbe.Fit(attackedFeatures.index_select(0, idx), y, probe.Options.Classes, refit, fit);
                var z = LogisticProbe.Fit(cleanFeatures.index_select(0, idx), y, probe.Options.Classes, refit, nullFit);
                notConverged += (a.Converged ? 0 : 1) + (z.Converged ? 0 : 1);
                var ca = a.Correct(testFeatures, testLabels);
                var cz = z.Correct(testFeatures, testLabels);
                long diff = 0;
                foreach (var i in test) diff += (ca[i] ? 1 : 0) - (cz[i] ? 1 : 0);
                excess[b] = diff / (double)m;
            }
            // A normal interval from the bootstrap standard error: a few dozen refits pin down a standard
            // error (Efron and Tibshirani, ch. 6) but not the 2.5% and 97.5% quantiles a percentile interval needs.
            double mean = excess.Average();
            double se = Math.Sqrt(excess.Sum(e => (e - mean) * (e - mean)) / Math.Max(1, excess.Length - 1));
            double zq = NormalQuantile((1 + probe.Options.Level) / 2);
            interval = new ConfidenceInterval(entry.Accuracy - nullEntry.Accuracy - zq * se, entry.Accuracy - nullEntry.Accuracy + zq * se, probe.Options.Level);
        }
        return new LeakageComparison(entry, nullEntry, paired, interval, strata, interval == null ? 0 : resamples, notConverged, draws);
    }
}
