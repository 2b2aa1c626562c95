using Leakage.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Probes;

/// <summary>
/// One row of a leakage table: a probe (or a chance baseline) and its clean-test accuracy with a
/// percentile-bootstrap confidence interval over test points.
/// </summary>
/// <param name="Name">What was probed (e.g. "D_rand, robust features").</param>
/// <param name="Accuracy">Accuracy on the clean test set with its true labels, in [0,1].</param>
/// <param name="Lo">Lower end of the bootstrap interval.</param>
/// <param name="Hi">Upper end of the bootstrap interval.</param>
/// <param name="NTrain">Training points the probe was fitted on (0 for baselines that fit nothing).</param>
/// <param name="NTest">Test points evaluated.</param>
/// <param name="Features">Number of features the probe saw (0 for baselines).</param>
public sealed record ProbeEntry(string Name, double Accuracy, double Lo, double Hi, int NTrain, int NTest, int Features)
{
    /// <summary>Per test point: classified correctly (for paired comparisons with another probe on the same points); null for chance.</summary>
    public IReadOnlyList<bool>? Correct { get; init; }
    /// <summary>Whether the logistic fit met its gradient tolerance; null for baselines that fit nothing.</summary>
    public bool? Converged { get; init; }
    /// <summary>L-BFGS iterations of the fit; null for baselines.</summary>
    public int? Iterations { get; init; }

    /// <summary>
    /// Value equality, the per-point outcomes compared element by element: an entry read back from the
    /// leakage cache equals the one a fresh run computed (the generated record equality would compare
    /// the two lists by reference).
    /// </summary>
    public bool Equals(ProbeEntry? other) =>
        other is not null
        && Name == other.Name && Accuracy.Equals(other.Accuracy) && Lo.Equals(other.Lo) && Hi.Equals(other.Hi)
        && NTrain == other.NTrain && NTest == other.NTest && Features == other.Features
        && Converged == other.Converged && Iterations == other.Iterations
        && (ReferenceEquals(Correct, other.Correct) || (Correct is not null && other.Correct is not null && Correct.SequenceEqual(other.Correct)));

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Name, Accuracy, Lo, Hi, NTrain, NTest, Features, Correct?.Count);

    /// <inheritdoc/>
    public override string ToString() =>
        $"{Name}: {Accuracy:P2} [{Lo:P2}, {Hi:P2}] (train {NTrain}, test {NTest}, {Features} features)";
}

/// <summary>Settings of <see cref="LeakageProbe"/>.</summary>
public sealed record LeakageProbeOptions
{
    /// <summary>Settings of the logistic-regression fit.</summary>
    public LogisticProbeOptions Probe { get; init; } = new();
    /// <summary>Number of classes K. Default 10.</summary>
    public int Classes { get; init; } = 10;
    /// <summary>Bootstrap resamples B for the interval. Default 1000.</summary>
    public int BootstrapResamples { get; init; } = 1000;
    /// <summary>Confidence level of the interval. Default 0.95.</summary>
    public double Level { get; init; } = 0.95;
    /// <summary>Seed of the bootstrap and of the random-direction control.</summary>
    public int Seed { get; init; }
}

/// <summary>
/// Goh's leakage probe: a linear classifier trained on only the k features <c>F = X W^T</c> of given
/// directions W (the rows of the robust linear model), fitted on a relabelled training set (D_rand
/// or D_det images with their new target labels) and tested on the clean test set with the true
/// labels. Accuracy above chance means the features carried information about the true class into
/// the relabelled set: robust features leaked into the attacks. The controls are separate calls:
/// the same probe on clean data (upper reference), on random directions of the same norms
/// (non-robust control) and chance.
/// </summary>
public sealed class LeakageProbe
{
    /// <summary>A probe with <paramref name="options"/> (defaults when null).</summary>
    public LeakageProbe(LeakageProbeOptions? options = null)
    {
        Options = options ?? new LeakageProbeOptions();
        Options.Probe.Validate();
        if (Options.Classes < 2) throw new ArgumentException($"Invalid leakage probe setting: Classes must be >= 2, got {Options.Classes}.");
    }

    /// <summary>The settings in use.</summary>
    public LeakageProbeOptions Options { get; }

    /// <summary>
    /// Fits the probe on the features of <paramref name="directions"/> (k x D) for
    /// <paramref name="trainImages"/> (N x 3 x 32 x 32 or N x D) with <paramref name="trainLabels"/>
    /// (for D_rand/D_det: the new target labels), and scores it on <paramref name="testImages"/> with
    /// their true <paramref name="testLabels"/>.
    /// </summary>
    public ProbeEntry Run(string name, Tensor directions, Tensor trainImages, Tensor trainLabels, Tensor testImages, Tensor testLabels)
    {
        using var scope = NewDisposeScope();
        return RunOnFeatures(name, Features(directions, trainImages), trainLabels, Features(directions, testImages), testLabels);
    }

    /// <summary>The same probe on features already computed (N x k and M x k).</summary>
    public ProbeEntry RunOnFeatures(string name, Tensor trainFeatures, Tensor trainLabels, Tensor testFeatures, Tensor testLabels)
    {
        return Fit(name, trainFeatures, trainLabels, testFeatures, testLabels).Entry;
    }

    /// <summary><see cref="RunOnFeatures"/>, also returning the fitted probe (e.g. as the start of refits).</summary>
    public (ProbeEntry Entry, LogisticProbe Fit) Fit(string name, Tensor trainFeatures, Tensor trainLabels, Tensor testFeatures, Tensor testLabels, LogisticProbe? start = null)
    {
        if (trainFeatures.dim() != 2 || testFeatures.dim() != 2 || trainFeatures.shape[1] != testFeatures.shape[1])
            throw new ArgumentException(
                $"Probe '{name}': train and test features must be matrices with the same number of columns, got [{string.Join(", ", trainFeatures.shape)}] and [{string.Join(", ", testFeatures.shape)}].");
        var probe = LogisticProbe.Fit(trainFeatures, trainLabels, Options.Classes, Options.Probe, start);
        var correct = probe.Correct(testFeatures, testLabels);
        var entry = Entry(name, correct, (int)trainFeatures.shape[0], (int)trainFeatures.shape[1]) with { Converged = probe.Converged, Iterations = probe.Iterations };
        return (entry, probe);
    }

    /// <summary>
    /// The paired comparison of <paramref name="probe"/> with <paramref name="baseline"/> (its null), both
    /// scored on the same test points, with this probe's bootstrap settings.
    /// </summary>
    public PairedComparison Compare(ProbeEntry probe, ProbeEntry baseline) =>
        Paired.Compare(probe.Correct ?? throw new ArgumentException($"'{probe.Name}' has no per-point outcomes.", nameof(probe)),
            baseline.Correct ?? throw new ArgumentException($"'{baseline.Name}' has no per-point outcomes.", nameof(baseline)),
            Options.BootstrapResamples, Options.Level, Options.Seed);

    /// <summary>
    /// Non-robust control: the probe on <paramref name="directions"/>.shape[0] random Gaussian directions
    /// with the same row norms as <paramref name="directions"/> (seeded with <see cref="LeakageProbeOptions.Seed"/>).
    /// </summary>
    public ProbeEntry RunRandomDirections(string name, Tensor directions, Tensor trainImages, Tensor trainLabels, Tensor testImages, Tensor testLabels)
    {
        using var random = RandomDirectionsLike(directions, Options.Seed);
        return Run(name, random, trainImages, trainLabels, testImages, testLabels);
    }

    /// <summary>
    /// Chance baselines for <paramref name="testLabels"/>: uniform guessing (exactly 1/K, no interval)
    /// and always predicting the most frequent test class (its share, with a bootstrap interval).
    /// </summary>
    public IReadOnlyList<ProbeEntry> Chance(Tensor testLabels)
    {
        TorchNative.Ensure();
        using var scope = NewDisposeScope();
        var y = testLabels.to(ScalarType.Int64).cpu().data<long>().ToArray();
        if (y.Length == 0) throw new ArgumentException("Chance baselines need at least one test label.", nameof(testLabels));
        var majority = y.GroupBy(v => v).OrderByDescending(g => g.Count()).ThenBy(g => g.Key).First().Key;
        double k = Options.Classes;
        return
        [
            new ProbeEntry($"chance (1/{Options.Classes})", 1 / k, 1 / k, 1 / k, 0, y.Length, 0),
            Entry($"majority class ({majority})", y.Select(v => v == majority).ToArray(), 0, 0),
        ];
    }

    /// <summary>
    /// Features <c>F = X W^T</c> (N x k, float64) of images <paramref name="images"/> (N x ... flattening
    /// to N x D) for directions <paramref name="directions"/> (k x D), computed in the images' dtype on
    /// their device.
    /// </summary>
    public static Tensor Features(Tensor directions, Tensor images)
    {
        TorchNative.Ensure();
        if (directions.dim() != 2) throw new ArgumentException($"Directions must be k x D, got shape [{string.Join(", ", directions.shape)}].", nameof(directions));
        if (images.dim() < 2) throw new ArgumentException($"Expected a batch of images N x ..., got shape [{string.Join(", ", images.shape)}].", nameof(images));
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var flat = images.dim() == 2 ? images : images.flatten(1);
        if (flat.shape[1] != directions.shape[1])
            throw new ArgumentException($"Images have {flat.shape[1]} values each but the directions have {directions.shape[1]}.", nameof(images));
        var w = directions.detach().to(flat.dtype, flat.device);
        return flat.matmul(w.t()).to(ScalarType.Float64).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Random Gaussian directions shaped like <paramref name="directions"/> (k x D), each row rescaled
    /// to the L2 norm of the corresponding row of <paramref name="directions"/>; float32 on its device.
    /// </summary>
    public static Tensor RandomDirectionsLike(Tensor directions, int seed)
    {
        TorchNative.Ensure();
        if (directions.dim() != 2) throw new ArgumentException($"Directions must be k x D, got shape [{string.Join(", ", directions.shape)}].", nameof(directions));
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var gen = new Generator((ulong)seed);
        var r = randn(directions.shape, dtype: ScalarType.Float64, generator: gen);
        var target = linalg.vector_norm(directions.detach().to(ScalarType.Float64, CPU), ord: 2, dims: [1L], keepdim: true);
        r = r / linalg.vector_norm(r, ord: 2, dims: [1L], keepdim: true) * target;
        return r.to(ScalarType.Float32, directions.device).MoveToOuterDisposeScope();
    }

    ProbeEntry Entry(string name, bool[] correct, int nTrain, int features)
    {
        var acc = correct.Count(c => c) / (double)correct.Length;
        var ci = Bootstrap.AccuracyInterval(correct, Options.BootstrapResamples, Options.Level, Options.Seed);
        return new ProbeEntry(name, acc, ci.Lo, ci.Hi, nTrain, correct.Length, features) { Correct = correct };
    }
}
