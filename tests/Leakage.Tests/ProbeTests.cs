using Leakage.Probes;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Tests;

public class ProbeTests
{
    const int Classes = 10;

    static Tensor BalancedLabels(int n, int seed) =>
        (arange(n, dtype: ScalarType.Int64) % Classes).index_select(0, randperm(n, generator: new Generator((ulong)seed)));

    [Fact]
    public void Probe_learns_features_that_carry_the_label()
    {
        using var scope = NewDisposeScope();
        // Images around ten class means; the directions are the means themselves, so the ten features carry the label.
        var means = RobustTestData.Means(Classes, seed: 21, dim: 200, dtype: ScalarType.Float32);
        var (trainX, trainY) = RobustTestData.Blobs(means, 1000, 0.3, seed: 22);
        var (testX, testY) = RobustTestData.Blobs(means, 1000, 0.3, seed: 23);
        var entry = new LeakageProbe().Run("separable", means, trainX, trainY, testX, testY);
        Assert.True(entry.Accuracy > 0.9, entry.ToString());
        Assert.Equal((1000, 1000, Classes), (entry.NTrain, entry.NTest, entry.Features));
    }

    [Fact]
    public void Probe_on_pure_noise_features_stays_at_chance()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(31);
        var trainF = randn([2000, Classes], dtype: ScalarType.Float64, generator: g);
        var testF = randn([2000, Classes], dtype: ScalarType.Float64, generator: g);
        var entry = new LeakageProbe().RunOnFeatures("noise", trainF, BalancedLabels(2000, 32), testF, BalancedLabels(2000, 33));
        Assert.True(entry.Lo <= 0.1 && 0.1 <= entry.Hi, entry.ToString());
    }

    [Fact]
    public void Bootstrap_interval_contains_the_point_estimate_and_narrows_with_more_test_points()
    {
        var rng = new Random(5);
        bool[] Outcomes(int n) => Enumerable.Range(0, n).Select(_ => rng.NextDouble() < 0.3).ToArray();
        var small = Outcomes(200);
        var large = Outcomes(5000);
        var ciSmall = Bootstrap.AccuracyInterval(small, seed: 1);
        var ciLarge = Bootstrap.AccuracyInterval(large, seed: 1);
        Assert.True(ciSmall.Contains(small.Count(c => c) / 200.0), ciSmall.ToString());
        Assert.True(ciLarge.Contains(large.Count(c => c) / 5000.0), ciLarge.ToString());
        Assert.True(ciLarge.Width < ciSmall.Width / 3, $"{ciLarge.Width} vs {ciSmall.Width}");
        // The width follows the binomial standard error: about 2 * 1.96 * sqrt(p (1 - p) / n).
        Assert.Equal(2 * 1.96 * Math.Sqrt(0.3 * 0.7 / 5000), ciLarge.Width, 0.004);
        // Seeded: the same call gives the same interval.
        Assert.Equal(ciSmall, Bootstrap.AccuracyInterval(small, seed: 1));
    }

    [Fact]
    public void Logistic_probe_fit_is_a_stationary_point_of_the_regularised_loss()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(41);
        var y = BalancedLabels(600, 42);
        // Overlapping classes: a finite optimum that L-BFGS must actually find.
        var features = nn.functional.one_hot(y, Classes).to(ScalarType.Float64) * 0.8 + randn([600, Classes], dtype: ScalarType.Float64, generator: g) * 3 + 5;
        var options = new LogisticProbeOptions { L2 = 1e-3 };
        var probe = LogisticProbe.Fit(features, y, Classes, options);
        Assert.True(probe.Converged, $"not converged after {probe.Iterations} iterations (max |grad| {probe.GradientMaxAbs})");

        // Independent check with autograd: the gradient of the regularised loss at the solution vanishes.
        var mean = tensor(probe.FeatureMean.ToArray(), dtype: ScalarType.Float64);
        var std = tensor(probe.FeatureStd.ToArray(), dtype: ScalarType.Float64);
        var w = tensor(probe.Weights.ToArray(), dtype: ScalarType.Float64).reshape(Classes, Classes).requires_grad_(true);
        var b = tensor(probe.Bias.ToArray(), dtype: ScalarType.Float64).requires_grad_(true);
        var z = ((features - mean) / std).matmul(w.t()) + b;
        var loss = nn.functional.cross_entropy(z, y) + 0.5 * options.L2 * w.square().sum();
        loss.backward();
        Assert.True(w.grad!.abs().max().item<double>() < 1e-6);
        Assert.True(b.grad!.abs().max().item<double>() < 1e-6);
        Assert.Equal(loss.item<double>(), probe.Loss, 1e-9);
        // Standardisation uses the training features' own statistics.
        Assert.True(mean.allclose(features.mean([0L])));
    }

    [Fact]
    public void Chance_entries_report_one_over_k_and_the_majority_share()
    {
        using var scope = NewDisposeScope();
        // 300 of class 3, 70 of every other class: majority share 300 / 930.
        var labels = cat([full(300, 3L, dtype: ScalarType.Int64), arange(630, dtype: ScalarType.Int64) % 9 + (arange(630, dtype: ScalarType.Int64) % 9 >= 3).to(ScalarType.Int64)]);
        var entries = new LeakageProbe().Chance(labels);
        Assert.Equal(2, entries.Count);
        Assert.Equal(0.1, entries[0].Accuracy);
        Assert.Equal((0.1, 0.1), (entries[0].Lo, entries[0].Hi));
        Assert.Equal(300 / 930.0, entries[1].Accuracy, 12);
        Assert.Contains("(3)", entries[1].Name);
        Assert.True(entries[1].Lo < entries[1].Accuracy && entries[1].Accuracy < entries[1].Hi);
        Assert.Equal((0, 930, 0), (entries[1].NTrain, entries[1].NTest, entries[1].Features));
    }

    [Fact]
    public void Random_direction_control_keeps_the_row_norms_and_is_seeded()
    {
        using var scope = NewDisposeScope();
        var w = randn([Classes, 3072], generator: new Generator(51)) * linspace(0.1, 2, Classes).unsqueeze(1);
        var r1 = LeakageProbe.RandomDirectionsLike(w, seed: 7);
        var r2 = LeakageProbe.RandomDirectionsLike(w, seed: 7);
        var r3 = LeakageProbe.RandomDirectionsLike(w, seed: 8);
        Assert.True(linalg.vector_norm(r1, dims: [1L]).allclose(linalg.vector_norm(w, dims: [1L]), rtol: 1e-5));
        Assert.True(r1.eq(r2).all().item<bool>());
        Assert.False(r1.eq(r3).all().item<bool>());
        // Random directions in 3072 dimensions are nearly orthogonal to the given ones.
        var cosines = nn.functional.normalize(r1, dim: 1).mul(nn.functional.normalize(w, dim: 1)).sum(1).abs();
        Assert.True(cosines.max().item<float>() < 0.1f);
    }

    /// <summary>
    /// A miniature D_rand: every training image gets a random target label t and a perturbation
    /// towards t. When the perturbation moves the probed (robust) features towards t, the probe trained
    /// on (perturbed image, t) learns the true classes of clean images: leakage. When the perturbation
    /// is orthogonal to those features, the probe sees the clean features with unrelated labels and
    /// learns nothing that transfers: it stays near chance. (Near, not at: the finite training set ties
    /// each class to its most frequent random target by chance, a variation the test-set bootstrap
    /// interval does not cover.)
    /// </summary>
    [Fact]
    public void Leakage_probe_sees_leakage_only_when_the_perturbation_moves_the_probed_features()
    {
        using var scope = NewDisposeScope();
        const int dim = 200, n = 2000;
        var means = RobustTestData.Means(Classes, seed: 61, dim: dim, dtype: ScalarType.Float32);
        var (x, y) = RobustTestData.Blobs(means, n, 0.3, seed: 62);
        var (testX, testY) = RobustTestData.Blobs(means, 2000, 0.3, seed: 63);
        var g = new Generator(64);
        var target = randint(0, Classes, [n], dtype: ScalarType.Int64, generator: g);

        var towardsTarget = 0.5f * (means.index_select(0, target) - means.index_select(0, y));
        // Large random perturbations with no component in the span of the probed directions.
        var basis = linalg.qr(means.t()).Q; // D x K, orthonormal basis of the row space
        var noise = randn([n, dim], generator: g);
        var orthogonal = noise - noise.matmul(basis).matmul(basis.t());
        Assert.True(orthogonal.matmul(means.t()).abs().max().item<float>() < 1e-3f);

        var probe = new LeakageProbe();
        var leaky = probe.Run("leaky", means, x + towardsTarget, target, testX, testY);
        var clean = probe.Run("orthogonal", means, x + orthogonal, target, testX, testY);
        Assert.True(leaky.Lo > 0.3, leaky.ToString());
        Assert.True(Math.Abs(clean.Accuracy - 0.1) < 0.05, clean.ToString());
        Assert.True(leaky.Lo > clean.Hi);
    }

    [Fact]
    public void Probe_rejects_mismatched_inputs_with_a_clear_message()
    {
        using var scope = NewDisposeScope();
        var probe = new LeakageProbe();
        Assert.Contains("same number of columns", Assert.Throws<ArgumentException>(() =>
            probe.RunOnFeatures("bad", randn(10, 3), zeros(10, dtype: ScalarType.Int64), randn(10, 4), zeros(10, dtype: ScalarType.Int64))).Message);
        Assert.Contains("[0, 9]", Assert.Throws<ArgumentException>(() =>
            LogisticProbe.Fit(randn(10, 3), full(10, 12L, dtype: ScalarType.Int64))).Message);
        Assert.Contains("L2", Assert.Throws<ArgumentException>(() =>
            new LeakageProbe(new LeakageProbeOptions { Probe = new LogisticProbeOptions { L2 = -1 } })).Message);
        Assert.Contains("values each", Assert.Throws<ArgumentException>(() =>
            LeakageProbe.Features(randn(10, 50), randn(4, 3, 32, 32))).Message);
    }
}
