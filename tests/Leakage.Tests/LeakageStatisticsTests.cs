using Leakage.Probes;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Tests;

/// <summary>The statistics behind "leakage above its null": McNemar, the paired interval, the null over target draws, the bootstrap, fresh draws, t quantiles, verdicts, feature shift.</summary>
public class LeakageStatisticsTests
{
    const int Classes = 10;

    [Fact]
    public void McNemar_exact_p_values_match_the_binomial_tail()
    {
        Assert.Equal(1.0, Paired.McNemarExact(0, 0));
        Assert.Equal(2 / 32.0, Paired.McNemarExact(0, 5), 12);          // 2 P(X = 0), X ~ Bin(5, 1/2)
        Assert.Equal(2 * 6 / 32.0, Paired.McNemarExact(4, 1), 12);      // 2 (1 + 5) / 32, symmetric in b and c
        Assert.Equal(Paired.McNemarExact(1, 4), Paired.McNemarExact(4, 1));
        Assert.Equal(1.0, Paired.McNemarExact(7, 7));
        // Large counts: the exact tail agrees with the normal approximation z = (b - c) / sqrt(b + c).
        double p = Paired.McNemarExact(1100, 1000); // z = 100 / sqrt(2100) = 2.18 -> about 0.03
        Assert.InRange(p, 0.025, 0.036);
    }

    [Fact]
    public void Normal_quantiles_match_tabulated_values()
    {
        Assert.Equal(1.959963984540054, LeakageStatistics.NormalQuantile(0.975), 8);
        Assert.Equal(1.6448536269514722, LeakageStatistics.NormalQuantile(0.95), 8);
        Assert.Equal(0, LeakageStatistics.NormalQuantile(0.5), 10);
        Assert.Equal(-2.3263478740408408, LeakageStatistics.NormalQuantile(0.01), 8);
    }

    /// <summary>Per-point correctness of two classifiers with chosen rates of "only the first right" and "only the second right".</summary>
    static (bool[] A, bool[] B) Outcomes(Random rng, int n, double firstOnly, double secondOnly, double both = 0.25)
    {
        var a = new bool[n]; var b = new bool[n];
        for (int i = 0; i < n; i++)
        {
            double u = rng.NextDouble();
            if (u < both) { a[i] = b[i] = true; }
            else if (u < both + firstOnly) a[i] = true;
            else if (u < both + firstOnly + secondOnly) b[i] = true;
        }
        return (a, b);
    }

    [Fact]
    public void Paired_test_detects_a_small_planted_effect_and_holds_its_level_without_one()
    {
        const int seeds = 200, n = 10_000;
        int falseAlarms = 0, detected = 0, covered = 0;
        for (int s = 0; s < seeds; s++)
        {
            var rng = new Random(1000 + s);
            // No effect: both right alone on 5% of the points each.
            var (a0, b0) = Outcomes(rng, n, 0.05, 0.05);
            if (Paired.Compare(a0, b0, resamples: 200, seed: s).FirstAbove()) falseAlarms++;
            // A planted 1.5-point effect (6.5% vs 5% of the points), about 0.5 points of bootstrap half-width.
            var (a1, b1) = Outcomes(rng, n, 0.065, 0.05);
            var c = Paired.Compare(a1, b1, resamples: 200, seed: s);
            if (c.FirstAbove()) detected++;
            if (c.Interval.Contains(0.015)) covered++;
        }
        // One-sided "above" at alpha 0.05 two-sided: about 2.5% expected; 5% plus binomial slack is the bound.
        Assert.True(falseAlarms <= 0.05 * seeds + 2 * Math.Sqrt(0.05 * 0.95 * seeds), $"{falseAlarms} of {seeds} null comparisons flagged");
        Assert.True(detected >= 0.9 * seeds, $"the planted effect was detected in {detected} of {seeds}");
        Assert.True(covered >= 0.88 * seeds, $"the paired interval covered the planted effect in {covered} of {seeds}");
    }

    [Fact]
    public void Paired_comparison_counts_discordant_points_and_needs_the_same_points()
    {
        bool[] a = [true, true, false, false, true];
        bool[] b = [true, false, true, false, false];
        var c = Paired.Compare(a, b, resamples: 100);
        Assert.Equal((2, 1), (c.FirstOnly, c.SecondOnly));
        Assert.Equal(0.2, c.Difference, 12);
        Assert.Contains("same test points", Assert.Throws<ArgumentException>(() => Paired.Compare(a, b[..4])).Message);
    }

    [Fact]
    public void Null_over_draws_of_labels_independent_of_the_images_averages_one_over_k()
    {
        using var scope = NewDisposeScope();
        // Informative features (the true class is readable from them) and labels drawn without looking at the image.
        var means = RobustTestData.Means(Classes, seed: 71, dim: 200);
        var (x, _) = RobustTestData.Blobs(means, 2000, 0.3, seed: 72);
        var (testX, testY) = RobustTestData.Blobs(means, 2000, 0.3, seed: 73);
        var f = LeakageProbe.Features(means, x);
        var fTest = LeakageProbe.Features(means, testX);
        var probe = new LeakageProbe();
        Assert.True(probe.RunOnFeatures("true labels", f, RobustTestData.Blobs(means, 2000, 0.3, seed: 72).Y, fTest, testY).Accuracy > 0.8);
        const int k = 30;
        var draws = LeakageStatistics.OverDraws(probe, k, d => (f, randint(0, Classes, [2000], dtype: ScalarType.Int64, generator: new Generator((ulong)(500 + d)))), fTest, testY);
        Assert.Equal(k, draws.K);
        // Over draws the expectation is exactly 1/K by symmetry; one draw strays far more than the test-point noise.
        Assert.True(Math.Abs(draws.Mean - 0.1) <= 3 * draws.StandardError, draws.ToString());
        Assert.True(draws.Sd > 0.005, draws.ToString());
        Assert.Equal(1 / (k + 1.0), draws.PValue(draws.Max + 0.01), 12);
        Assert.Equal(1.0, draws.PValue(0));
    }

    /// <summary>
    /// The comparison trains on the given labels (the targets) and scores the true test labels. D_det-like
    /// targets (true class + 1) on unperturbed images: probe and null both learn the shift and fall far
    /// below chance, with no excess. A probe trained on the original labels instead would score like clean
    /// D and fail this test. Perturbations that move the features towards the target give a clear excess.
    /// </summary>
    [Fact]
    public void Comparison_trains_on_the_targets_scores_true_labels_and_finds_only_planted_leakage()
    {
        using var scope = NewDisposeScope();
        var means = RobustTestData.Means(Classes, seed: 81, dim: 200);
        const int n = 2000;
        var (x, y) = RobustTestData.Blobs(means, n, 0.3, seed: 82);
        var (testX, testY) = RobustTestData.Blobs(means, 2000, 0.3, seed: 83);
        var targets = (y + 1).remainder(Classes);
        var strata = y.data<long>().Select(c => (int)c).ToArray();
        var probe = new LeakageProbe(new LeakageProbeOptions { BootstrapResamples = 200 });
        var f = LeakageProbe.Features(means, x);
        var fTest = LeakageProbe.Features(means, testX);

        var none = LeakageStatistics.Compare(probe, "unperturbed", "null", f, f, targets, fTest, testY, strata, resamples: 30);
        Assert.True(none.Probe.Accuracy < 0.05, none.ToString());
        Assert.Equal(0, none.Excess, 12);
        Assert.False(none.Above(), none.ToString());
        Assert.True(none.ExcessInterval.Contains(0), none.ToString());
        Assert.Equal(10, none.Strata);
        Assert.True(none.Probe.Converged == true && none.Null.Converged == true);

        // Strong pull of the features towards the target's mean: the probe now reads the shift back.
        var towards = x + 0.8 * (means.index_select(0, targets) - means.index_select(0, y));
        var leaky = LeakageStatistics.Compare(probe, "leaky", "null", LeakageProbe.Features(means, towards), f, targets, fTest, testY, strata, resamples: 30);
        Assert.True(leaky.Above(), leaky.ToString());
        Assert.True(leaky.TrainingInterval!.Value.Lo > 0 && leaky.McNemarP < 1e-6 && leaky.PValue < 1e-6, leaky.ToString());
        Assert.Equal(ExcessUncertainty.Above, leaky.Verdict);
        // Deterministic targets: the interval covers training images and test points, not target draws (defect 6).
        Assert.Contains("training images", leaky.IntervalCovers);
        Assert.DoesNotContain("target draws", leaky.IntervalCovers);

        // Random targets with the null refitted on fresh draws: the interval covers the target draws.
        var random = randint(0, Classes, [n], dtype: ScalarType.Int64, generator: new Generator(84));
        var pulled = LeakageProbe.Features(means, x + 0.8 * (means.index_select(0, random) - means.index_select(0, y)));
        var fresh = Enumerable.Range(0, 5).Select(d => randint(0, Classes, [n], dtype: ScalarType.Int64, generator: new Generator((ulong)(850 + d)))).ToList();
        var nulls = LeakageStatistics.OverDraws(probe, fresh.Count, d => (f, fresh[d]), fTest, testY);
        var recorded = random.data<long>().ToArray();
        var drawn = LeakageStatistics.Compare(probe, "leaky, random targets", "null", pulled, f, random, fTest, testY, strata, resamples: 10, nulls,
            d => (LeakageStatistics.Emulate(pulled, f, LeakageStatistics.Donors(strata, recorded, fresh[d].data<long>().ToArray(), Classes, new Random(d))), fresh[d]));
        Assert.Contains("target draws", drawn.IntervalCovers);
        Assert.Equal(ExcessUncertainty.FreshDraws, drawn.Uncertainty.Source);
        Assert.Equal(5, drawn.DrawExcesses!.Count);
        Assert.Equal(4, drawn.Uncertainty.DegreesOfFreedom, 0); // about K - 1: the test points' part is small beside the draws'
        Assert.True(drawn.ExcessInterval.Contains(drawn.Excess) && drawn.Verdict == ExcessUncertainty.Above, drawn.ToString());
    }

    [Fact]
    public void Warm_started_fit_reaches_the_same_optimum()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(91);
        var y = randint(0, Classes, [1500], dtype: ScalarType.Int64, generator: g);
        var f = nn.functional.one_hot(y, Classes).to(ScalarType.Float64) + randn([1500, Classes], dtype: ScalarType.Float64, generator: g) * 2;
        var cold = LogisticProbe.Fit(f, y);
        var half = LogisticProbe.Fit(f.narrow(0, 0, 700), y.narrow(0, 0, 700));
        var warm = LogisticProbe.Fit(f, y, start: half);
        Assert.True(cold.Converged && warm.Converged);
        Assert.Equal(cold.Loss, warm.Loss, 9);
        Assert.True(cold.Weights.Zip(warm.Weights).All(p => Math.Abs(p.First - p.Second) < 1e-4));
    }

    [Fact]
    public void Student_t_quantiles_and_tails_match_tabulated_values()
    {
        Assert.Equal(12.706204736, StudentT.Quantile(0.975, 1), 6);
        Assert.Equal(2.570581836, StudentT.Quantile(0.975, 5), 8);
        Assert.Equal(2.093024054, StudentT.Quantile(0.975, 19), 8);
        Assert.Equal(2.045229642, StudentT.Quantile(0.975, 29), 8);
        Assert.Equal(-1.729132812, StudentT.Quantile(0.05, 19), 8);
        Assert.Equal(1.959963985, StudentT.Quantile(0.975, double.PositiveInfinity), 6);
        Assert.Equal(0.05, StudentT.TwoSidedP(2.093024054, 19), 8);
        Assert.Equal(1.0, StudentT.TwoSidedP(0, 7), 12);
        Assert.Equal(0.5, StudentT.TwoSidedP(1, 1), 10);                      // Cauchy: P(|T| >= 1) = 1/2
        Assert.Equal(0.3173105079, StudentT.TwoSidedP(1, double.PositiveInfinity), 6);
        Assert.Equal(Math.Log(24), StudentT.LogGamma(5), 12);
    }

    [Fact]
    public void Interval_p_value_and_verdict_come_from_one_variance_and_an_interval_touching_zero_is_undecided()
    {
        var u = ExcessUncertainty.WithT(0.05, 0.01, 19, 0.95, ExcessUncertainty.FreshDraws, "fresh target draws");
        Assert.Equal(0.05 - 2.093024054 * 0.01, u.Interval.Lo, 8);
        Assert.Equal(StudentT.TwoSidedP(5, 19), u.PValue, 12);
        Assert.Equal(2.093024054 * 0.01 / Math.Sqrt(38), u.MonteCarloError, 8);
        Assert.Equal(ExcessUncertainty.Above, u.Verdict);
        Assert.Equal(ExcessUncertainty.Below, (u with { Excess = -0.05 }).Verdict);
        // The lower end above zero by less than its Monte-Carlo error: undecided, though the interval excludes zero.
        var edge = u with { Excess = u.Quantile * 0.01 + 0.5 * u.MonteCarloError };
        Assert.True(edge.Interval.Lo > 0);
        Assert.Equal(ExcessUncertainty.Undecided, edge.Verdict);
        Assert.Equal(ExcessUncertainty.Undecided, (u with { Excess = 0 }).Verdict);
        // The p-value at the interval's end is 1 - level: the two agree.
        Assert.Equal(0.05, (u with { Excess = u.Quantile * 0.01 }).PValue, 8);

        // Over draws: the draws' spread plus the test points' variance, Welch-Satterthwaite degrees of freedom.
        double[] draws = [0.04, 0.06, 0.05, 0.07, 0.03];
        var over = ExcessUncertainty.OverDraws(0.05, draws, 1e-5, 0.95, "fresh target draws");
        double s2 = Math.Pow(SampleStatistics.Sd(draws), 2);
        Assert.Equal(Math.Sqrt(s2 + 1e-5), over.StandardError, 12);
        Assert.Equal(Math.Pow(s2 + 1e-5, 2) / (s2 * s2 / 4), over.DegreesOfFreedom, 9);
        Assert.Equal(((30 + 10) / 1000.0 - 0.02 * 0.02) / 999, ExcessUncertainty.TestPointVariance(30, 10, 1000), 15);
    }

    [Fact]
    public void First_pass_intervals_are_read_back_as_built_and_the_recorded_target_not_label_verdict_is_undecided()
    {
        // docs/results/cpu (first pass): D_rand with target ≠ label, excess 0.24 points in [0.0003, 0.48] points from 30 resamples.
        var notLabel = ExcessUncertainty.FromFirstPass(0.0024, new ConfidenceInterval(2.590350890586783e-06, 0.004797409649109412, 0.95), 30, "recorded");
        Assert.Equal(2.590350890586783e-06, notLabel.Interval.Lo, 12);
        Assert.True(notLabel.Interval.Lo < notLabel.MonteCarloError, $"{notLabel.Interval.Lo} vs {notLabel.MonteCarloError}");
        Assert.Equal(ExcessUncertainty.Undecided, notLabel.Verdict);
        // D_rand: excess 5.22 points in [3.67, 6.77]: above, with a p-value from the interval's own standard error (not McNemar's 6e-65).
        var drand = ExcessUncertainty.FromFirstPass(0.0522, new ConfidenceInterval(0.03667434880456301, 0.06772565119543698, 0.95), 30, "recorded");
        Assert.Equal(ExcessUncertainty.Above, drand.Verdict);
        Assert.InRange(drand.PValue, 1e-12, 1e-9);
    }

    [Fact]
    public void Fresh_draws_are_emulated_with_the_shift_of_an_image_of_the_same_class_attacked_towards_the_new_target()
    {
        using var scope = NewDisposeScope();
        const int n = 400;
        var g = new Generator(95);
        var y = randint(0, Classes, [n], dtype: ScalarType.Int64, generator: g);
        var t = randint(0, Classes, [n], dtype: ScalarType.Int64, generator: g);
        var clean = randn([n, Classes], dtype: ScalarType.Float64, generator: g);
        // Each image's shift encodes its own class and target, so a transplanted shift names its donor's cell.
        var shift = (y * Classes + t).to(ScalarType.Float64).unsqueeze(1).expand(n, Classes);
        var attacked = clean + shift;
        var classOf = y.data<long>().Select(c => (int)c).ToArray();
        var recorded = t.data<long>().ToArray();
        var fresh = randint(0, Classes, [n], dtype: ScalarType.Int64, generator: g).data<long>().ToArray();
        var donors = LeakageStatistics.Donors(classOf, recorded, fresh, Classes, new Random(1));
        var emulated = LeakageStatistics.Emulate(attacked, clean, donors);
        var moved = (emulated - clean).select(1, 0).data<double>().ToArray();
        for (int i = 0; i < n; i++)
        {
            bool cell = Enumerable.Range(0, n).Any(j => classOf[j] == classOf[i] && recorded[j] == fresh[i]);
            if (cell)
            {
                Assert.Equal(classOf[i], classOf[donors[i]]);
                Assert.Equal(fresh[i], recorded[donors[i]]);
                Assert.Equal(classOf[i] * Classes + fresh[i], moved[i], 9);
            }
            else if (donors[i] >= 0) Assert.Equal(fresh[i], recorded[donors[i]]);   // no such image: one attacked towards the same target
            else Assert.Equal(0, moved[i], 12);
        }
        Assert.Contains("one class, recorded target and new target per row", Assert.Throws<ArgumentException>(() => LeakageStatistics.Donors(classOf, recorded, fresh[..10], Classes, new Random(1))).Message);
    }

    [Fact]
    public void Feature_shift_is_the_mean_move_of_f_target_minus_f_label_in_units_of_the_features_sd()
    {
        using var scope = NewDisposeScope();
        const int n = 3000;
        var g = new Generator(97);
        var y = randint(0, Classes, [n], dtype: ScalarType.Int64, generator: g);
        var t = randint(0, Classes, [n], dtype: ScalarType.Int64, generator: g);
        var scale = linspace(0.5, 2.0, Classes, dtype: ScalarType.Float64);
        var clean = randn([n, Classes], dtype: ScalarType.Float64, generator: g) * scale;
        const double pull = 0.3;
        var attacked = clean + pull * (nn.functional.one_hot(t, Classes) - nn.functional.one_hot(y, Classes)).to(ScalarType.Float64);
        var shift = LeakageStatistics.Shift(attacked, clean, y, t, clean);
        // Closed form: pull (1 / sd_t + 1 / sd_y) on each image whose target is not its label, zero on the others.
        var sd = clean.std([0L]).data<double>().ToArray();
        var (yy, tt) = (y.data<long>().ToArray(), t.data<long>().ToArray());
        double expected = Enumerable.Range(0, n).Average(i => yy[i] == tt[i] ? 0 : pull * (1 / sd[tt[i]] + 1 / sd[yy[i]]));
        Assert.Equal(expected, shift.Mean, 10);
        Assert.True(shift.Lower < shift.Mean && shift.Mean < shift.Upper);
        Assert.Equal(n, shift.Images);
        var none = LeakageStatistics.Shift(clean, clean, y, t, clean);
        Assert.Equal(0, none.Mean, 12);
    }

    [Fact]
    public void The_leakage_cache_keeps_each_comparisons_uncertainty_draws_and_shift()
    {
        var probe = new ProbeEntry("probe", 0.18, 0.17, 0.19, 1000, 1000, 10) { Converged = true, Iterations = 7 };
        var nullEntry = new ProbeEntry("null", 0.13, 0.12, 0.14, 1000, 1000, 10) { Converged = true, Iterations = 6 };
        var paired = new PairedComparison(0.05, new ConfidenceInterval(0.04, 0.06, 0.95), 80, 30, 1e-6);
        double[] excesses = [0.04, 0.05, 0.07];
        var c = new LeakageComparison(probe, nullEntry, paired, new ConfidenceInterval(0.035, 0.065, 0.95), 10, 30, 0, new NullDraws([0.09, 0.11, 0.10]))
        {
            Uncertainty = ExcessUncertainty.OverDraws(0.05, excesses, 1e-5, 0.95, "fresh target draws (3, emulated) and test points"),
            BootstrapSe = 0.008,
            DrawExcesses = excesses,
            Shift = new FeatureShift(0.1, 0.09, 0.11, 1000),
        };
        var comparisons = new Leakage.Experiment.LeakageComparisons(c, c, c);
        var controls = new Leakage.Experiment.LeakageProbeControls(probe, probe, probe, probe, probe, probe);
        var cache = new Leakage.Experiment.LeakageCache(new Leakage.Experiment.LeakageOutcome(probe, probe, controls, 1) { Comparisons = comparisons },
            Leakage.Experiment.LeakageResult.Of(comparisons, controls, new LeakageProbeOptions()), Leakage.Experiment.LeakageControlsResult.Of(comparisons));
        var json = System.Text.Json.JsonSerializer.Serialize(cache, Leakage.Experiment.ResultsJsonContext.Default.LeakageCache);
        var back = System.Text.Json.JsonSerializer.Deserialize(json, Leakage.Experiment.ResultsJsonContext.Default.LeakageCache)!.Outcome.Comparisons!.DRand;
        Assert.Equal(c.Uncertainty, back.Uncertainty);
        Assert.Equal(c.Verdict, back.Verdict);
        Assert.Equal(c.PValue, back.PValue);
        Assert.Equal(c.McNemarP, back.McNemarP);
        Assert.Equal(c.Shift, back.Shift);
        Assert.Equal(excesses, back.DrawExcesses);
        Assert.Equal(c.BootstrapSe, back.BootstrapSe);
        Assert.Equal(c.DrawAdjusted, back.DrawAdjusted);
        Assert.Equal(c.Above(), back.Above());
        Assert.False(back.FirstPass);
    }
}
