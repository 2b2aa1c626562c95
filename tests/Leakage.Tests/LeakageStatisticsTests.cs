using Leakage.Probes;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Tests;

/// <summary>The statistics behind "leakage above its null": McNemar, the paired interval, the null over target draws, the chunk bootstrap.</summary>
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
        Assert.True(leaky.TrainingInterval!.Value.Lo > 0 && leaky.PValue < 1e-6, leaky.ToString());
        Assert.Contains("target draws", leaky.IntervalCovers);
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
}
