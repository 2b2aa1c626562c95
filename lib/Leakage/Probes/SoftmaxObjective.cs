using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Leakage.Probes;

/// <summary>
/// The probe's objective, mean softmax cross-entropy plus <c>(L2 / 2) ||W||^2</c>, and its gradient, over
/// N rows of k standardised features: the inner loop of every L-BFGS iteration of <see cref="LogisticProbe"/>.
/// <para>
/// Features are stored feature-major so that four rows go through one 256-bit vector at a time (logits,
/// log-sum-exp, gradient), and the rows are cut into fixed blocks of <see cref="BlockRows"/> that run in
/// parallel on up to <c>threads</c> cores; each block's partial sums are added in block order, so the
/// result does not depend on the number of threads or on scheduling. Written by hand because a fixed
/// summation order is what makes probe results identical across thread counts and machines, which
/// libtorch's reductions do not promise.
/// </para>
/// </summary>
sealed class SoftmaxObjective
{
    /// <summary>Rows per block: the unit of parallel work and of the fixed summation order.</summary>
    public const int BlockRows = 4096;

    readonly double[] _x;      // k x rows, feature-major
    readonly double[] _y;      // label per row, as a double (compared lane-wise)
    readonly int _rows, _k, _classes, _threads;
    readonly double _l2;

    /// <param name="featureMajor">The features, k x rows (feature j of row r at <c>j * rows + r</c>).</param>
    /// <param name="labels">Class of each row.</param>
    /// <param name="rows">Rows N.</param>
    /// <param name="k">Features per row.</param>
    /// <param name="classes">Classes K.</param>
    /// <param name="l2">L2 penalty on the weights.</param>
    /// <param name="threads">Most blocks evaluated at once.</param>
    public SoftmaxObjective(double[] featureMajor, long[] labels, int rows, int k, int classes, double l2, int threads)
    {
        if (featureMajor.Length != (long)rows * k || labels.Length != rows)
            throw new ArgumentException($"Expected {rows} x {k} features and {rows} labels, got {featureMajor.Length} values and {labels.Length} labels.");
        _rows = rows; _k = k; _classes = classes; _l2 = l2; _threads = Math.Max(1, threads);
        _x = featureMajor;
        _y = new double[rows];
        for (int r = 0; r < rows; r++) _y[r] = labels[r];
    }

    /// <summary>Number of parameters: classes x k weights, then classes biases.</summary>
    public int Dimension => _classes * _k + _classes;

    /// <summary>The objective and its gradient at <paramref name="theta"/> (weights row-major classes x k, then biases).</summary>
    public (double, double[]) Evaluate(double[] theta)
    {
        int blocks = (_rows + BlockRows - 1) / BlockRows, dim = Dimension;
        var partLoss = new double[blocks];
        var partGrad = new double[blocks * dim];
        if (_threads == 1 || blocks == 1)
            for (int b = 0; b < blocks; b++) Block(b, theta, partLoss, partGrad);
        else
            Parallel.For(0, blocks, new ParallelOptions { MaxDegreeOfParallelism = _threads }, b => Block(b, theta, partLoss, partGrad));

        double n = _rows, loss = 0;
        var grad = new double[dim];
        for (int b = 0; b < blocks; b++)
        {
            loss += partLoss[b];
            for (int i = 0; i < dim; i++) grad[i] += partGrad[b * dim + i];
        }
        int nw = _classes * _k;
        double penalty = 0;
        for (int i = 0; i < nw; i++)
        {
            grad[i] = grad[i] / n + _l2 * theta[i];
            penalty += theta[i] * theta[i];
        }
        for (int c = 0; c < _classes; c++) grad[nw + c] /= n;
        return (loss / n + 0.5 * _l2 * penalty, grad);
    }

    void Block(int block, double[] theta, double[] partLoss, double[] partGrad)
    {
        int k = _k, classes = _classes, nw = classes * k, dim = nw + classes, rows = _rows;
        int start = block * BlockRows, end = Math.Min(rows, start + BlockRows);
        var grad = new Span<double>(partGrad, block * dim, dim);
        // Per-class logits and per-(class, feature) gradient accumulators, four rows per lane group.
        Span<Vector256<double>> z = stackalloc Vector256<double>[classes];
        Span<Vector256<double>> xr = stackalloc Vector256<double>[k];
        var acc = new Vector256<double>[dim];
        var lossAcc = Vector256<double>.Zero;
        int r = start;
        for (; r + 4 <= end; r += 4)
        {
            for (int j = 0; j < k; j++) xr[j] = Vector256.Create(_x.AsSpan(j * rows + r, 4));
            var max = Vector256.Create(double.NegativeInfinity);
            for (int c = 0; c < classes; c++)
            {
                var v = Vector256.Create(theta[nw + c]);
                int wc = c * k;
                for (int j = 0; j < k; j++) v += Vector256.Create(theta[wc + j]) * xr[j];
                z[c] = v;
                max = Vector256.Max(max, v);
            }
            var y = Vector256.Create(_y.AsSpan(r, 4));
            var sum = Vector256<double>.Zero;
            var zLabel = Vector256<double>.Zero;
            for (int c = 0; c < classes; c++)
            {
                var isLabel = Vector256.Equals(y, Vector256.Create((double)c));
                zLabel += Vector256.ConditionalSelect(isLabel, z[c], Vector256<double>.Zero);
                z[c] = Vector256.Exp(z[c] - max);
                sum += z[c];
            }
            lossAcc += Vector256.Log(sum) + max - zLabel;
            var inv = Vector256<double>.One / sum;
            for (int c = 0; c < classes; c++)
            {
                var isLabel = Vector256.Equals(y, Vector256.Create((double)c));
                var g = z[c] * inv - Vector256.ConditionalSelect(isLabel, Vector256<double>.One, Vector256<double>.Zero);
                int wc = c * k;
                for (int j = 0; j < k; j++) acc[wc + j] += g * xr[j];
                acc[nw + c] += g;
            }
        }
        double loss = Vector256.Sum(lossAcc);
        for (int i = 0; i < dim; i++) grad[i] = Vector256.Sum(acc[i]);
        // The last rows of the last block (fewer than four), one at a time with the same formulas.
        Span<double> zs = stackalloc double[classes];
        for (; r < end; r++)
        {
            double max = double.NegativeInfinity;
            for (int c = 0; c < classes; c++)
            {
                double v = theta[nw + c];
                int wc = c * k;
                for (int j = 0; j < k; j++) v += theta[wc + j] * _x[j * rows + r];
                zs[c] = v;
                if (v > max) max = v;
            }
            int label = (int)_y[r];
            double zl = zs[label], sum = 0;
            for (int c = 0; c < classes; c++) { zs[c] = Math.Exp(zs[c] - max); sum += zs[c]; }
            loss += Math.Log(sum) + max - zl;
            for (int c = 0; c < classes; c++)
            {
                double g = zs[c] / sum - (c == label ? 1 : 0);
                int wc = c * k;
                for (int j = 0; j < k; j++) grad[wc + j] += g * _x[j * rows + r];
                grad[nw + c] += g;
            }
        }
        partLoss[block] = loss;
    }
}
