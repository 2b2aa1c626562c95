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
/// with the same labels): the excess accuracy, a paired comparison on the test points (McNemar: the
/// fits held fixed), a bootstrap over refits on resampled training images, and, when the targets are
/// random, the excess over emulated fresh target draws. <see cref="Uncertainty"/> gives the interval,
/// the p-value and the verdict from one variance (docs/statistics.md).
/// </summary>
/// <param name="Probe">The probe on the attacked images.</param>
/// <param name="Null">The matched null.</param>
/// <param name="Paired">Probe vs null on per-point correctness (test points only; the fits are held fixed).</param>
/// <param name="TrainingInterval">Normal interval of the excess from the standard error of refits on resampled training images (null when not computed).</param>
/// <param name="Strata">Number of strata (true classes) the training images were resampled within.</param>
/// <param name="Resamples">Bootstrap resamples behind <paramref name="TrainingInterval"/>.</param>
/// <param name="RefitsNotConverged">Refits of the bootstrap and of the fresh draws that stopped before their tolerance.</param>
/// <param name="Draws">The null over fresh target draws, when the targets are random.</param>
public sealed record LeakageComparison(ProbeEntry Probe, ProbeEntry Null, PairedComparison Paired, ConfidenceInterval? TrainingInterval,
    int Strata, int Resamples, int RefitsNotConverged, NullDraws? Draws)
{
    readonly ExcessUncertainty? _uncertainty;

    /// <summary>Probe accuracy minus null accuracy.</summary>
    [JsonIgnore]
    public double Excess => Probe.Accuracy - Null.Accuracy;

    /// <summary>
    /// Excess of the probe over its null for each emulated fresh target draw (the same draws as
    /// <see cref="Draws"/>, in order): the attacked features rebuilt for the new targets by moving each
    /// image by the recorded shift of another image of its class attacked towards its new target.
    /// </summary>
    public IReadOnlyList<double>? DrawExcesses { get; init; }

    /// <summary>Standard error of the excess over the training bootstrap's refits (behind <see cref="TrainingInterval"/>).</summary>
    public double? BootstrapSe { get; init; }

    /// <summary>The attack's mean shift of (f_target - f_label) on this set, in units of the features' sd.</summary>
    public FeatureShift? Shift { get; init; }

    /// <summary>
    /// Read from a first-pass results.json (no <c>mcnemarP</c>): its <c>pValue</c> was McNemar's and its
    /// <c>above</c> the first pass's rule; <see cref="Uncertainty"/> is its recorded interval read back.
    /// </summary>
    public bool FirstPass { get; init; }

    /// <summary>
    /// The one variance behind <see cref="ExcessInterval"/>, <see cref="PValue"/> and <see cref="Verdict"/>:
    /// as computed (fresh draws, else the training bootstrap with a t quantile), else read back from the
    /// recorded interval, else the test points alone.
    /// </summary>
    public ExcessUncertainty Uncertainty
    {
        get => _uncertainty ?? (TrainingInterval is { } t
            ? ExcessUncertainty.FromFirstPass(Excess, t, Resamples, LegacyCovers)
            : ExcessUncertainty.WithT(Excess, Math.Sqrt(ExcessUncertainty.TestPointVariance(Paired.FirstOnly, Paired.SecondOnly, Probe.NTest)),
                Math.Max(1, Probe.NTest - 1), Paired.Interval.Level, ExcessUncertainty.TestPoints, "test points"));
        init => _uncertainty = value;
    }

    /// <summary>What a first-pass interval covered; for deterministic targets (no draws) not "target draws", whatever the file says.</summary>
    string LegacyCovers => Draws is null
        ? "training images (resampled within each class) and test points"
        : "training images with their target draws (resampled within each class) and test points";

    /// <summary>The interval of the excess (<see cref="Uncertainty"/>).</summary>
    [JsonIgnore]
    public ConfidenceInterval ExcessInterval => Uncertainty.Interval;
    /// <summary>What <see cref="ExcessInterval"/> covers.</summary>
    [JsonIgnore]
    public string IntervalCovers => Uncertainty.Covers;
    /// <summary>Two-sided p-value of "no excess" from the variance of <see cref="ExcessInterval"/>.</summary>
    [JsonIgnore]
    public double PValue => Uncertainty.PValue;
    /// <summary>McNemar's exact p-value of probe vs null: test points only, the fits (and so the target draw) held fixed.</summary>
    [JsonIgnore]
    public double McNemarP => Paired.PValue;
    /// <summary>"above", "below" or "undecided" (<see cref="ExcessUncertainty.Verdict"/>).</summary>
    [JsonIgnore]
    public string Verdict => Uncertainty.Verdict;

    /// <summary>
    /// The probe as if its null had scored the mean over fresh draws: mean null over <see cref="Draws"/> plus
    /// the matched excess, with the standard error of both (independent: the fresh draws are not the probe's);
    /// null when the targets are not random. It takes the luck of this run's target draw out of the probe.
    /// </summary>
    [JsonIgnore]
    public DrawAdjusted? DrawAdjusted => Draws is { K: >= 2 } d
        ? new DrawAdjusted(d.Mean + Excess, Math.Sqrt(d.StandardError * d.StandardError + Uncertainty.StandardError * Uncertainty.StandardError))
        : null;

    /// <summary>
    /// The probe is above its null: <see cref="Verdict"/> is "above". For a comparison without its own
    /// uncertainty (a first-pass file), the first pass's rule, which its <c>above</c> key records: McNemar
    /// rejects at <paramref name="alpha"/> with a positive difference, and the excess interval lies above zero.
    /// </summary>
    public bool Above(double alpha = 0.05) => _uncertainty is null || FirstPass
        ? Paired.FirstAbove(alpha) && ExcessInterval.Lo > 0
        : Verdict == ExcessUncertainty.Above;

    /// <inheritdoc/>
    public override string ToString() =>
        $"{Probe.Name}: {Probe.Accuracy:P2} vs null {Null.Accuracy:P2}, excess {Excess * 100:+0.00;-0.00} points " +
        $"[{ExcessInterval.Lo * 100:+0.00;-0.00}, {ExcessInterval.Hi * 100:+0.00;-0.00}] ({IntervalCovers}), p = {PValue:G3}, {Verdict}; " +
        $"McNemar p = {McNemarP:G3} (test points only)" +
        (Draws is null ? "" : $"; null over {Draws}") + (Shift is null ? "" : $"; feature shift {Shift}");
}

/// <summary>A probe's accuracy with the draw's luck taken out (<see cref="LeakageComparison.DrawAdjusted"/>) and its standard error.</summary>
public sealed record DrawAdjusted(double Accuracy, double Se);

/// <summary>
/// The mean change of (f_target - f_label) between attacked and clean images, each feature in units of
/// its standard deviation over the clean training images, with a t interval over the images.
/// </summary>
public sealed record FeatureShift(double Mean, double Lower, double Upper, int Images)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Mean:+0.000;-0.000} sd [{Lower:+0.000;-0.000}, {Upper:+0.000;-0.000}] over {Images:N0} images";
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
    /// test set with its true labels, and compares them point by point (McNemar: test points only).
    /// <para>When <paramref name="strataOfRow"/> gives each training row's stratum (its true class), the excess
    /// also gets a bootstrap over the training images: <paramref name="resamples"/> times, training rows are
    /// drawn with replacement within each stratum and test points with replacement, and probe and null are
    /// refitted on the same rows and scored on the same points. Resampling within classes keeps the class
    /// composition fixed, as it is in the experiment. Its standard error makes <see cref="LeakageComparison.TrainingInterval"/>
    /// (normal, as in the first pass) and, with a t quantile on <c>resamples - 1</c> degrees of freedom, the
    /// excess's uncertainty when the targets are not random (D_det).</para>
    /// <para>When the targets are random, <paramref name="draws"/> is the null refitted on K fresh target
    /// draws and <paramref name="freshAttacked"/>(d) the attacked training set emulated for draw d (features,
    /// labels; <see cref="Donors"/>, <see cref="Emulate"/>): the probe is refitted on each, and the excess's uncertainty is the
    /// spread of the K excesses plus the test points' variance, with a t quantile. Near the null the
    /// probe's weights are close to zero, and a bootstrap of training rows understates how much a new draw
    /// moves the accuracy (docs/statistics.md); fresh draws measure it.</para>
    /// </summary>
    public static LeakageComparison Compare(LeakageProbe probe, string name, string nullName, Tensor attackedFeatures, Tensor cleanFeatures, Tensor trainLabels,
        Tensor testFeatures, Tensor testLabels, int[]? strataOfRow = null, int resamples = 0, NullDraws? draws = null,
        Func<int, (Tensor Features, Tensor Labels)>? freshAttacked = null)
    {
        TorchNative.Ensure();
        if (attackedFeatures.shape[0] != cleanFeatures.shape[0] || attackedFeatures.shape[0] != trainLabels.shape[0])
            throw new ArgumentException($"Probe '{name}': attacked features, clean features and labels must have one row per training image ({attackedFeatures.shape[0]}, {cleanFeatures.shape[0]}, {trainLabels.shape[0]}).");
        if (strataOfRow != null && strataOfRow.Length != attackedFeatures.shape[0])
            throw new ArgumentException($"Probe '{name}': {strataOfRow.Length} strata for {attackedFeatures.shape[0]} training rows.", nameof(strataOfRow));
        if (freshAttacked != null && draws == null)
            throw new ArgumentException($"Probe '{name}': emulated fresh draws need the null over the same draws.", nameof(freshAttacked));
        var (entry, fit) = probe.Fit(name, attackedFeatures, trainLabels, testFeatures, testLabels);
        var (nullEntry, nullFit) = probe.Fit(nullName, cleanFeatures, trainLabels, testFeatures, testLabels);
        var paired = probe.Compare(entry, nullEntry);
        double excessObserved = entry.Accuracy - nullEntry.Accuracy, level = probe.Options.Level;
        double testVariance = ExcessUncertainty.TestPointVariance(paired.FirstOnly, paired.SecondOnly, entry.NTest);
        var refit = Refit(probe);
        ConfidenceInterval? interval = null;
        double? bootstrapSe = null;
        int strata = strataOfRow?.Distinct().Count() ?? 0, notConverged = 0;
        if (strataOfRow != null && resamples > 0)
        {
            var rowsOf = strataOfRow.Select((c, row) => (c, row)).GroupBy(p => p.c).OrderBy(g => g.Key).Select(g => g.Select(p => (long)p.row).ToArray()).ToArray();
            int m = (int)testFeatures.shape[0];
            var rng = new Random(probe.Options.Seed);
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
            // The first pass's normal interval from the bootstrap standard error, kept beside the calibrated one.
            double se = SampleStatistics.Sd(excess);
            if (resamples < 2) se = 0;
            double zq = NormalQuantile((1 + level) / 2);
            interval = new ConfidenceInterval(excessObserved - zq * se, excessObserved + zq * se, level);
            bootstrapSe = se;
        }
        double[]? drawExcesses = null;
        if (freshAttacked != null)
        {
            drawExcesses = new double[draws!.K];
            for (int d = 0; d < draws.K; d++)
            {
                using var scope = NewDisposeScope();
                var (features, labels) = freshAttacked(d);
                var a = LogisticProbe.Fit(features, labels, probe.Options.Classes, refit, fit);
                notConverged += a.Converged ? 0 : 1;
                drawExcesses[d] = a.Accuracy(testFeatures, testLabels) - draws.Accuracies[d];
            }
        }
        ExcessUncertainty? bootstrap = bootstrapSe is { } bs && resamples >= 2
            ? ExcessUncertainty.WithT(excessObserved, bs, resamples - 1, level, ExcessUncertainty.TrainingBootstrap,
                drawExcesses is null ? "training images (resampled within each class) and test points"
                    : "training images with their target draws (resampled within each class) and test points, wider than the fresh draws")
            : null;
        // Fresh draws, unless the bootstrap is wider: each can understate in its own way (the bootstrap the
        // draw, the emulation any part of the shift that is specific to the image), so the wider one is used.
        ExcessUncertainty uncertainty;
        if (drawExcesses is { Length: >= 2 })
        {
            var fresh = ExcessUncertainty.OverDraws(excessObserved, drawExcesses, testVariance, level,
                $"fresh target draws ({drawExcesses.Length}, emulated) and test points");
            uncertainty = bootstrap is { } wider && wider.StandardError > fresh.StandardError ? wider : fresh;
        }
        else uncertainty = bootstrap
            ?? ExcessUncertainty.WithT(excessObserved, Math.Sqrt(testVariance), Math.Max(1, entry.NTest - 1), level, ExcessUncertainty.TestPoints, "test points");
        return new LeakageComparison(entry, nullEntry, paired, interval, strata, interval == null ? 0 : resamples, notConverged, draws)
        {
            Uncertainty = uncertainty,
            BootstrapSe = bootstrapSe,
            DrawExcesses = drawExcesses,
        };
    }

    /// <summary>
    /// An attacked training set emulated for new targets: row i (true class <paramref name="classOf"/>[i],
    /// new target <paramref name="newTargets"/>[i]) gets its clean features plus the attack's recorded shift
    /// (attacked minus clean features) of a donor drawn at random among the rows of the same class that
    /// were attacked towards that target (<paramref name="recordedTargets"/>); when no such row exists, among
    /// the rows attacked towards that target; else no shift. Returns the donor of each row (for
    /// <see cref="Emulate"/>). The assumption: the attack's shift depends on an image mainly through its
    /// class and its target, and what remains is exchangeable within a (class, target) cell.
    /// </summary>
    public static long[] Donors(int[] classOf, long[] recordedTargets, long[] newTargets, int classes, Random rng)
    {
        if (classOf.Length != recordedTargets.Length || classOf.Length != newTargets.Length)
            throw new ArgumentException($"Donors need one class, recorded target and new target per row ({classOf.Length}, {recordedTargets.Length}, {newTargets.Length}).");
        var cells = new List<long>[classes * classes];
        var byTarget = new List<long>[classes];
        for (int i = 0; i < cells.Length; i++) cells[i] = [];
        for (int t = 0; t < classes; t++) byTarget[t] = [];
        for (int i = 0; i < classOf.Length; i++)
        {
            cells[classOf[i] * classes + (int)recordedTargets[i]].Add(i);
            byTarget[(int)recordedTargets[i]].Add(i);
        }
        var donors = new long[classOf.Length];
        for (int i = 0; i < donors.Length; i++)
        {
            var pool = cells[classOf[i] * classes + (int)newTargets[i]];
            if (pool.Count == 0) pool = byTarget[(int)newTargets[i]];
            donors[i] = pool.Count == 0 ? -1 : pool[rng.Next(pool.Count)];
        }
        return donors;
    }

    /// <summary>
    /// Clean features plus the donors' shifts (<see cref="Donors"/>; a donor of -1 adds nothing): the
    /// attacked features emulated for a new target draw.
    /// </summary>
    public static Tensor Emulate(Tensor attackedFeatures, Tensor cleanFeatures, long[] donors)
    {
        using var scope = NewDisposeScope();
        var shift = (attackedFeatures.to(ScalarType.Float64) - cleanFeatures.to(ScalarType.Float64));
        shift = cat([shift, zeros(1, shift.shape[1], dtype: ScalarType.Float64)], 0);
        var idx = tensor(donors.Select(d => d < 0 ? shift.shape[0] - 1 : d).ToArray(), dtype: ScalarType.Int64);
        return (cleanFeatures.to(ScalarType.Float64) + shift.index_select(0, idx)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The mean over the rows of the change of (f_target - f_label) from clean to attacked features, each
    /// feature divided by its standard deviation over <paramref name="featureScale"/> (the clean training
    /// features), with a t interval at <paramref name="level"/> over the rows. Rows whose target equals
    /// their label contribute zero by construction.
    /// </summary>
    public static FeatureShift Shift(Tensor attackedFeatures, Tensor cleanFeatures, Tensor labels, Tensor targets, Tensor featureScale, double level = 0.95)
    {
        TorchNative.Ensure();
        if (attackedFeatures.shape[0] != cleanFeatures.shape[0] || labels.shape[0] != attackedFeatures.shape[0] || targets.shape[0] != attackedFeatures.shape[0])
            throw new ArgumentException($"The feature shift needs one attacked row, clean row, label and target per image ({attackedFeatures.shape[0]}, {cleanFeatures.shape[0]}, {labels.shape[0]}, {targets.shape[0]}).");
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var sd = featureScale.to(ScalarType.Float64).std([0L]);
        sd = torch.where(sd > Scalars.Zero, sd, ones_like(sd));
        var delta = (attackedFeatures.to(ScalarType.Float64) - cleanFeatures.to(ScalarType.Float64)) / sd;
        var t = targets.to(ScalarType.Int64).unsqueeze(1);
        var y = labels.to(ScalarType.Int64).unsqueeze(1);
        var d = (delta.gather(1, t) - delta.gather(1, y)).squeeze(1).cpu().data<double>().ToArray();
        double mean = SampleStatistics.Mean(d), se = d.Length > 1 ? SampleStatistics.Sd(d) / Math.Sqrt(d.Length) : 0;
        double q = d.Length > 1 ? StudentT.Quantile((1 + level) / 2, d.Length - 1) : 0;
        return new FeatureShift(mean, mean - q * se, mean + q * se, d.Length);
    }
}
