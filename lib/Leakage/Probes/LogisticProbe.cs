using Leakage.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Probes;

/// <summary>Settings of the multinomial logistic-regression probe.</summary>
public sealed record LogisticProbeOptions
{
    /// <summary>
    /// L2 penalty <c>(L2 / 2) ||W||_F^2</c> on the weights of the standardised features (not the biases),
    /// added to the mean cross-entropy. Default 1e-4: just enough to keep separable data finite.
    /// </summary>
    public double L2 { get; init; } = DefaultL2;

    /// <summary>The default of <see cref="L2"/> (also that of the run setting <c>probe.l2</c>).</summary>
    public const double DefaultL2 = 1e-4;

    /// <summary>Largest number of L-BFGS iterations.</summary>
    public int MaxIterations { get; init; } = DefaultMaxIterations;

    /// <summary>
    /// The default of <see cref="MaxIterations"/> (also that of the run setting <c>probe.maxIterations</c>):
    /// the ten-feature probes of the experiment converge in far fewer; a fit that does not is reported.
    /// </summary>
    public const int DefaultMaxIterations = 500;

    /// <summary>Convergence: stop when every gradient entry is below this in absolute value.</summary>
    public double GradientTolerance { get; init; } = 1e-7;

    /// <summary>Number of (s, y) pairs L-BFGS keeps.</summary>
    public int History { get; init; } = 20;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (!(L2 >= 0) || double.IsInfinity(L2)) throw new ArgumentException($"Invalid probe setting: L2 must be a finite number >= 0, got {L2}.");
        if (MaxIterations < 1) throw new ArgumentException($"Invalid probe setting: MaxIterations must be >= 1, got {MaxIterations}.");
        if (!(GradientTolerance > 0)) throw new ArgumentException($"Invalid probe setting: GradientTolerance must be > 0, got {GradientTolerance}.");
        if (History < 1) throw new ArgumentException($"Invalid probe setting: History must be >= 1, got {History}.");
    }
}

/// <summary>
/// Multinomial logistic regression on k given features (Goh's linear probe): the features are
/// standardised with the training features' mean and standard deviation, then
/// <c>p(y | f) = softmax(W f~ + b)</c> is fitted by full-batch L-BFGS (float64, Armijo backtracking)
/// on the mean cross-entropy plus an L2 penalty on W. The objective is strictly convex in W and
/// the fit starts from zero, so it is deterministic: no seed is involved.
/// </summary>
public sealed class LogisticProbe
{
    readonly double[] _mean, _std, _weights, _bias;

    LogisticProbe(int classes, double[] mean, double[] std, double[] weights, double[] bias, int iterations, bool converged, double loss, double gradientNorm)
    {
        Classes = classes; _mean = mean; _std = std; _weights = weights; _bias = bias;
        Iterations = iterations; Converged = converged; Loss = loss; GradientMaxAbs = gradientNorm;
    }

    /// <summary>Number of classes K.</summary>
    public int Classes { get; }
    /// <summary>Number of input features k.</summary>
    public int Features => _mean.Length;
    /// <summary>Per-feature mean of the training features (the standardiser's offset).</summary>
    public IReadOnlyList<double> FeatureMean => _mean;
    /// <summary>Per-feature standard deviation of the training features (1 where a feature is constant).</summary>
    public IReadOnlyList<double> FeatureStd => _std;
    /// <summary>Weights on the standardised features, row-major K x k.</summary>
    public IReadOnlyList<double> Weights => _weights;
    /// <summary>Biases, length K.</summary>
    public IReadOnlyList<double> Bias => _bias;
    /// <summary>L-BFGS iterations used.</summary>
    public int Iterations { get; }
    /// <summary>True when the gradient tolerance was met (otherwise the iteration limit or a stalled line search ended the fit).</summary>
    public bool Converged { get; }
    /// <summary>Final regularised training loss.</summary>
    public double Loss { get; }
    /// <summary>Largest absolute gradient entry at the solution.</summary>
    public double GradientMaxAbs { get; }

    /// <summary>
    /// Fits the probe on <paramref name="features"/> (N x k, any float dtype) with <paramref name="labels"/>
    /// (N, int64 in [0, <paramref name="classes"/>)). <paramref name="start"/> (a probe fitted on similar
    /// data, e.g. the full set when fitting a bootstrap resample) is where L-BFGS starts instead of zero:
    /// the objective is strictly convex, so the optimum is the same and only the iterations drop.
    /// </summary>
    public static LogisticProbe Fit(Tensor features, Tensor labels, int classes = 10, LogisticProbeOptions? options = null, LogisticProbe? start = null)
    {
        options ??= new LogisticProbeOptions();
        options.Validate();
        TorchNative.Ensure();
        if (features.dim() != 2 || features.shape[0] == 0)
            throw new ArgumentException($"Probe features must be a non-empty N x k matrix, got shape [{string.Join(", ", features.shape)}].", nameof(features));
        if (labels.dim() != 1 || labels.shape[0] != features.shape[0])
            throw new ArgumentException($"Expected one label per feature row ({features.shape[0]}), got label shape [{string.Join(", ", labels.shape)}].", nameof(labels));
        if (classes < 2) throw new ArgumentOutOfRangeException(nameof(classes), classes, "The probe needs at least 2 classes.");

        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var f = features.to(ScalarType.Float64);
        var y = labels.to(ScalarType.Int64, f.device);
        long lo = y.min().item<long>(), hi = y.max().item<long>();
        if (lo < 0 || hi >= classes) throw new ArgumentException($"Probe labels must lie in [0, {classes - 1}], found {lo} to {hi}.", nameof(labels));
        if (!f.isfinite().all().item<bool>()) throw new ArgumentException("Probe features contain NaN or infinite values.", nameof(features));

        var mean = f.mean([0L]);
        var std = (f - mean).square().mean([0L]).sqrt();
        std = torch.where(std > Scalars.Zero, std, ones_like(std));
        var xs = (f - mean) / std;
        int k = (int)f.shape[1];
        int nw = classes * k;
        int rows = (int)f.shape[0];
        double l2 = options.L2;
        // The objective runs on plain arrays: with k = 10 features a row costs a few hundred
        // multiply-adds, and a vectorised pass over the rows is many times faster than a dozen tensor kernels.
        var objective = new SoftmaxObjective(xs.t().cpu().contiguous().data<double>().ToArray(), y.cpu().data<long>().ToArray(),
            rows, k, classes, l2, get_num_threads());

        if (start != null && (start.Classes != classes || start.Features != k))
            throw new ArgumentException($"The starting probe has {start.Classes} classes and {start.Features} features; this fit has {classes} and {k}.", nameof(start));
        var theta0 = start == null ? new double[nw + classes] : [.. start._weights, .. start._bias];
        var (theta, value, grad, iterations, converged) = Lbfgs.Minimise(objective.Evaluate, theta0, options);
        return new LogisticProbe(classes,
            mean.cpu().data<double>().ToArray(), std.cpu().data<double>().ToArray(),
            theta[..nw], theta[nw..], iterations, converged, value, grad.Max(Math.Abs));
    }

    /// <summary>Logits N x K (float64) for raw (unstandardised) features N x k.</summary>
    public Tensor Logits(Tensor features)
    {
        if (features.dim() != 2 || features.shape[1] != Features)
            throw new ArgumentException($"The probe was fitted on {Features} features; got shape [{string.Join(", ", features.shape)}].", nameof(features));
        using var scope = NewDisposeScope();
        var f = features.to(ScalarType.Float64);
        var dev = f.device;
        var xs = (f - tensor(_mean, device: dev)) / tensor(_std, device: dev);
        var w = tensor(_weights, device: dev).reshape(Classes, Features);
        return (xs.matmul(w.t()) + tensor(_bias, device: dev)).MoveToOuterDisposeScope();
    }

    /// <summary>Predicted class per row (N, int64).</summary>
    public Tensor Predict(Tensor features)
    {
        using var z = Logits(features);
        return z.argmax(1);
    }

    /// <summary>Per-row correctness of the predictions against <paramref name="labels"/>.</summary>
    public bool[] Correct(Tensor features, Tensor labels)
    {
        if (labels.dim() != 1 || labels.shape[0] != features.shape[0])
            throw new ArgumentException($"Expected one label per feature row ({features.shape[0]}), got label shape [{string.Join(", ", labels.shape)}].", nameof(labels));
        using var scope = NewDisposeScope();
        var p = Predict(features);
        return p.eq(labels.to(ScalarType.Int64, p.device)).cpu().data<bool>().ToArray();
    }

    /// <summary>Share of rows predicted correctly.</summary>
    public double Accuracy(Tensor features, Tensor labels)
    {
        var c = Correct(features, labels);
        return c.Count(v => v) / (double)c.Length;
    }
}

/// <summary>Limited-memory BFGS with Armijo backtracking, on plain arrays (for small parameter vectors).</summary>
static class Lbfgs
{
    public static (double[] Theta, double Value, double[] Gradient, int Iterations, bool Converged) Minimise(
        Func<double[], (double, double[])> objective, double[] start, LogisticProbeOptions options)
    {
        int dim = start.Length, m = options.History;
        var x = (double[])start.Clone();
        var (f, g) = objective(x);
        var sHist = new List<double[]>(); var yHist = new List<double[]>(); var rhoHist = new List<double>();
        int it = 0;
        for (; it < options.MaxIterations; it++)
        {
            if (g.Max(Math.Abs) < options.GradientTolerance) return (x, f, g, it, true);

            // Two-loop recursion: d = -H g.
            var q = (double[])g.Clone();
            var alpha = new double[sHist.Count];
            for (int i = sHist.Count - 1; i >= 0; i--)
            {
                alpha[i] = rhoHist[i] * Dot(sHist[i], q);
                Axpy(-alpha[i], yHist[i], q);
            }
            double gamma = sHist.Count > 0 ? Dot(sHist[^1], yHist[^1]) / Dot(yHist[^1], yHist[^1]) : 1.0 / Math.Max(1.0, Norm(g));
            for (int i = 0; i < dim; i++) q[i] *= gamma;
            for (int i = 0; i < sHist.Count; i++)
            {
                var beta = rhoHist[i] * Dot(yHist[i], q);
                Axpy(alpha[i] - beta, sHist[i], q);
            }
            var d = q; for (int i = 0; i < dim; i++) d[i] = -d[i];
            var slope = Dot(g, d);
            if (slope >= 0)
            {
                // Not a descent direction (should not happen for a convex objective): restart with steepest descent.
                sHist.Clear(); yHist.Clear(); rhoHist.Clear();
                for (int i = 0; i < dim; i++) d[i] = -g[i] / Math.Max(1.0, Norm(g));
                slope = Dot(g, d);
            }

            double step = 1.0, fNew = 0; double[] xNew = new double[dim], gNew = [];
            bool accepted = false;
            for (int ls = 0; ls < 50; ls++)
            {
                for (int i = 0; i < dim; i++) xNew[i] = x[i] + step * d[i];
                (fNew, gNew) = objective(xNew);
                if (double.IsFinite(fNew) && fNew <= f + 1e-4 * step * slope) { accepted = true; break; }
                step *= 0.5;
            }
            if (!accepted) return (x, f, g, it, g.Max(Math.Abs) < options.GradientTolerance);

            var s = new double[dim]; var yv = new double[dim];
            for (int i = 0; i < dim; i++) { s[i] = xNew[i] - x[i]; yv[i] = gNew[i] - g[i]; }
            var sy = Dot(s, yv);
            if (sy > 1e-12 * Norm(s) * Norm(yv))
            {
                if (sHist.Count == m) { sHist.RemoveAt(0); yHist.RemoveAt(0); rhoHist.RemoveAt(0); }
                sHist.Add(s); yHist.Add(yv); rhoHist.Add(1.0 / sy);
            }
            bool stalled = Math.Abs(f - fNew) <= 1e-15 * Math.Max(1.0, Math.Abs(f));
            x = xNew; f = fNew; g = gNew;
            if (stalled) return (x, f, g, it + 1, g.Max(Math.Abs) < options.GradientTolerance);
        }
        return (x, f, g, it, g.Max(Math.Abs) < options.GradientTolerance);
    }

    static double Dot(double[] a, double[] b) { double s = 0; for (int i = 0; i < a.Length; i++) s += a[i] * b[i]; return s; }
    static double Norm(double[] a) => Math.Sqrt(Dot(a, a));
    static void Axpy(double a, double[] x, double[] y) { for (int i = 0; i < x.Length; i++) y[i] += a * x[i]; }
}
