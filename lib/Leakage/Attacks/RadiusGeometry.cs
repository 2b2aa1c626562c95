using Leakage.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Attacks;

/// <summary>
/// The units a perturbation radius is measured in. Goh (2019) gives radius 0.25 without saying which;
/// both are supported and reported side by side.
/// </summary>
public enum RadiusUnits
{
    /// <summary>Raw pixels in [0,1]: the ball is <c>||delta||_2 &lt;= eps</c>.</summary>
    Pixel,
    /// <summary>
    /// The per-channel normalised input <c>(x - mean) / std</c> of <see cref="CifarNormalisation"/>:
    /// the ball is <c>delta = s ⊙ d</c> with <c>||d||_2 &lt;= eps</c> and s the per-coordinate std,
    /// i.e. <c>||delta ⊘ s||_2 &lt;= eps</c>. With std about 0.2, radius 0.25 here is about 0.05 in pixels.
    /// </summary>
    Normalised,
}

/// <summary>
/// The geometry of an L2 perturbation ball in pixel space, <c>{ delta : ||delta ⊘ s||_2 &lt;= eps }</c>,
/// with a per-coordinate scale s (all ones for <see cref="RadiusUnits.Pixel"/>, the CIFAR std for
/// <see cref="RadiusUnits.Normalised"/>). Features are always linear in raw pixels, so the one fact
/// every certificate needs is the dual norm: <c>max over the unit ball of v^T delta = ||s ⊙ v||_2</c>.
/// It is implemented here once and used by training, certificates and attacks alike.
/// </summary>
/// <remarks>
/// Vectors are the last dimension of a tensor (length <see cref="Dimension"/>); leading dimensions
/// are batch dimensions. Every method works in the dtype and on the device of its argument.
/// </remarks>
public sealed class RadiusGeometry
{
    readonly double[]? _scale; // null: identity (pixel units)

    // Scalars kept for the process (Native/Scalars.cs says why): the step's and projections' floors, 2 and 1.0.
    static readonly Scalar Tiny = Scalars.Constant(1e-30), NormFloor = Scalars.Constant(1e-12), StepFloor = Scalars.Constant(1e-10),
        Two = Scalars.Constant(2L), OneDouble = Scalars.Constant(1.0);

    RadiusGeometry(RadiusUnits units, long dimension, double[]? scale)
    {
        Units = units;
        Dimension = dimension;
        _scale = scale;
    }

    /// <summary>The units this geometry measures radii in.</summary>
    public RadiusUnits Units { get; }

    /// <summary>Length of the (flattened) input vectors.</summary>
    public long Dimension { get; }

    /// <summary>True when the scale is all ones (pixel units): the plain Euclidean ball.</summary>
    public bool IsEuclidean => _scale is null;

    /// <summary>Radius measured in raw pixels, for inputs of length <paramref name="dimension"/>.</summary>
    public static RadiusGeometry Pixel(long dimension = CifarNormalisation.Dimension)
    {
        if (dimension <= 0) throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "Input dimension must be positive.");
        return new(RadiusUnits.Pixel, dimension, null);
    }

    /// <summary>Radius measured in CIFAR-normalised units (3 x 32 x 32 inputs, MadryLab std).</summary>
    public static RadiusGeometry CifarNormalised() =>
        new(RadiusUnits.Normalised, CifarNormalisation.Dimension, CifarNormalisation.PerCoordinate(CifarNormalisation.Std));

    /// <summary>
    /// The geometry for <paramref name="units"/>. Normalised units are defined for CIFAR images only,
    /// so <paramref name="dimension"/> must then be 3072.
    /// </summary>
    public static RadiusGeometry For(RadiusUnits units, long dimension = CifarNormalisation.Dimension) => units switch
    {
        RadiusUnits.Pixel => Pixel(dimension),
        RadiusUnits.Normalised when dimension == CifarNormalisation.Dimension => CifarNormalised(),
        RadiusUnits.Normalised => throw new ArgumentException(
            $"Radius units 'Normalised' use the per-channel CIFAR std and need 3 x 32 x 32 = {CifarNormalisation.Dimension} inputs; these inputs have {dimension} values each.",
            nameof(dimension)),
        _ => throw new ArgumentOutOfRangeException(nameof(units), units, "Unknown radius units."),
    };

    /// <summary>The per-coordinate scale s (a copy; all ones in pixel units).</summary>
    public double[] Scale()
    {
        if (_scale is not null) return (double[])_scale.Clone();
        var ones = new double[Dimension];
        Array.Fill(ones, 1.0);
        return ones;
    }

    /// <summary>The scale s as a tensor of length <see cref="Dimension"/> (ones in pixel units).</summary>
    public Tensor ScaleTensor(ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        TorchNative.Ensure();
        return _scale is null
            ? ones(Dimension, dtype: dtype, device: device)
            : tensor(_scale, dtype: ScalarType.Float64).to(dtype, device ?? CPU);
    }

    /// <summary><c>s ⊙ v</c> (v itself in pixel units).</summary>
    Tensor Scaled(Tensor v)
    {
        CheckLast(v, nameof(v));
        return _scale is null ? v.alias() : v * ScaleTensor(v.dtype, v.device);
    }

    /// <summary>
    /// The dual norm <c>||s ⊙ v||_2</c> over the last dimension: the largest change of the linear
    /// function <c>v^T x</c> over a unit ball of this geometry. Shape (..., D) to (...).
    /// </summary>
    public Tensor DualNorm(Tensor v)
    {
        using var sv = Scaled(v);
        return linalg.vector_norm(sv, ord: 2, dims: [-1L]);
    }

    /// <summary>
    /// The <c>K x K</c> matrix of dual norms of row differences, <c>||s ⊙ (w_j - w_k)||_2</c>, computed from
    /// the Gram matrix of <c>s ⊙ W</c> (one <c>K x D</c> by <c>D x K</c> product). The diagonal is exactly
    /// zero and the result is differentiable everywhere (no NaN gradients at zero distances), so the
    /// robust training loss can use it directly. Shape (K, D) to (K, K).
    /// </summary>
    public Tensor PairwiseDualNorms(Tensor w)
    {
        if (w.dim() != 2) throw new ArgumentException($"Expected a K x D weight matrix, got shape [{string.Join(", ", w.shape)}].", nameof(w));
        using var scope = NewDisposeScope();
        var v = Scaled(w);
        var gram = v.matmul(v.t());
        var sq = gram.diagonal();
        // ||a - b||^2 = ||a||^2 + ||b||^2 - 2 a.b ; clamp rounding below zero; the +I keeps sqrt away from 0
        // on the diagonal (masked out afterwards), the clamp gives zero (not infinite) gradients elsewhere.
        var d2 = (sq.unsqueeze(1) + sq.unsqueeze(0) - Two * gram).clamp_min(Tiny);
        var eye = torch.eye(w.shape[0], dtype: w.dtype, device: w.device);
        return ((d2 + eye).sqrt() * (Scalars.One - eye)).MoveToOuterDisposeScope();
    }

    /// <summary>The size of a perturbation in this geometry, <c>||delta ⊘ s||_2</c>. Shape (..., D) to (...).</summary>
    public Tensor PerturbationNorm(Tensor delta)
    {
        CheckLast(delta, nameof(delta));
        if (_scale is null) return linalg.vector_norm(delta, ord: 2, dims: [-1L]);
        using var s = ScaleTensor(delta.dtype, delta.device);
        using var d = delta / s;
        return linalg.vector_norm(d, ord: 2, dims: [-1L]);
    }

    /// <summary>
    /// The perturbation of unit size in this geometry that increases <c>v^T x</c> the most:
    /// <c>s ⊙ (s ⊙ v) / ||s ⊙ v||_2</c>, along which <c>v^T delta = ||s ⊙ v||_2</c> (the dual norm).
    /// Rows with <c>v = 0</c> give zero. Shape (..., D) to (..., D).
    /// </summary>
    public Tensor WorstCaseDirection(Tensor v)
    {
        using var scope = NewDisposeScope();
        var sv = Scaled(v);
        var norm = linalg.vector_norm(sv, ord: 2, dims: [-1L], keepdim: true);
        var dir = _scale is null ? sv : sv * ScaleTensor(v.dtype, v.device);
        return torch.where(norm > Scalars.Zero, dir / norm.clamp_min(Tiny), zeros_like(dir)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// A normalised steepest-ascent step for a gradient g, as in MadryLab's L2 step but in this
    /// geometry: <c>s ⊙ (s ⊙ g) / (||s ⊙ g||_2 + 1e-10)</c>, of size at most 1 here.
    /// </summary>
    public Tensor AscentStep(Tensor grad)
    {
        using var scope = NewDisposeScope();
        var sg = Scaled(grad);
        var norm = linalg.vector_norm(sg, ord: 2, dims: [-1L], keepdim: true);
        var dir = _scale is null ? sg : sg * ScaleTensor(grad.dtype, grad.device);
        return (dir / (norm + StepFloor)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Projects each perturbation (last dimension) onto the ball of radius <paramref name="eps"/>:
    /// rows already inside are unchanged, others are scaled back to its surface.
    /// </summary>
    public Tensor Project(Tensor delta, double eps)
    {
        if (!(eps >= 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "Radius must be >= 0.");
        using var scope = NewDisposeScope();
        var norm = PerturbationNorm(delta).unsqueeze(-1);
        var factor = Scalars.With(eps, e => (e / norm.clamp_min(NormFloor)).clamp_max(OneDouble));
        return (delta * factor).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// <see cref="Project"/> per sample: each slice along dimension 0 of <paramref name="delta"/> (N x ...,
    /// its trailing dimensions flattening to <see cref="Dimension"/> values) onto the ball of radius
    /// <paramref name="eps"/>. In pixel units this is MadryLab's L2 projection, <c>renorm(2, 0, eps)</c>
    /// (slices longer than eps scaled by eps / (norm + 1e-7)): one fused kernel, no reshape of the batch.
    /// </summary>
    public Tensor ProjectSamples(Tensor delta, double eps)
    {
        if (!(eps >= 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "Radius must be >= 0.");
        CheckSamples(delta, nameof(delta));
        if (_scale is null) return delta.renorm(2, 0, (float)eps);
        using var scope = NewDisposeScope();
        return Project(delta.reshape(delta.shape[0], Dimension), eps).reshape(delta.shape).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// A step of size <paramref name="size"/> along the normalised steepest-ascent direction of each
    /// sample's gradient (dimension 0 of <paramref name="grad"/>, as in <see cref="ProjectSamples"/>):
    /// <c>size * s ⊙ (s ⊙ g) / (||s ⊙ g||_2 + 1e-10)</c>, in pixel units MadryLab's L2 step
    /// <c>size * g / (||g||_2 + 1e-10)</c>.
    /// </summary>
    public Tensor StepSamples(Tensor grad, double size)
    {
        CheckSamples(grad, nameof(grad));
        using var scope = NewDisposeScope();
        if (_scale is not null)
            return Scalars.With(size, s => (s * AscentStep(grad.reshape(grad.shape[0], Dimension))).reshape(grad.shape)).MoveToOuterDisposeScope();
        var norm = grad.flatten(1).norm(1).view(SampleShape(grad));
        return Scalars.With(size, s => s * grad / (norm + StepFloor)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// A random offset of size <paramref name="eps"/> in this geometry per sample, shaped like
    /// <paramref name="like"/>: on the sphere (MadryLab's <c>random_perturb</c>: a Gaussian direction
    /// normalised, + 1e-10) or, with <paramref name="inBall"/>, uniformly in the ball (radius eps * u^(1/D)).
    /// Drawn on the CPU from <paramref name="generator"/> (so a seed gives the same start on any device),
    /// in the dtype and on the device of <paramref name="like"/>.
    /// </summary>
    public Tensor RandomSamples(Tensor like, double eps, Generator generator, bool inBall = false)
    {
        CheckSamples(like, nameof(like));
        using var scope = NewDisposeScope();
        Tensor d;
        if (inBall)
        {
            d = randn([like.shape[0], Dimension], dtype: like.dtype, device: CPU, generator: generator);
            d /= linalg.vector_norm(d, ord: 2, dims: [-1L], keepdim: true).clamp_min(NormFloor);
            var u = rand([like.shape[0], 1L], dtype: like.dtype, device: CPU, generator: generator);
            d *= Scalars.With(1.0 / Dimension, p => Scalars.With(eps, e => u.pow(p) * e));
            d = d.reshape(like.shape);
        }
        else
        {
            d = randn(like.shape, dtype: like.dtype, device: CPU, generator: generator);
            d = Scalars.With(eps, e => e * d / (d.flatten(1).norm(1).view(SampleShape(like)) + StepFloor));
        }
        d = d.to(like.device);
        if (_scale is not null) d = (d.reshape(like.shape[0], Dimension) * ScaleTensor(like.dtype, like.device)).reshape(like.shape);
        return d.MoveToOuterDisposeScope();
    }

    /// <summary>[N, 1, ..., 1]: broadcasts a per-sample value over a sample of <paramref name="x"/>.</summary>
    internal static long[] SampleShape(Tensor x)
    {
        var shape = new long[x.dim()];
        Array.Fill(shape, 1L);
        shape[0] = x.shape[0];
        return shape;
    }

    void CheckSamples(Tensor v, string name)
    {
        if (v.dim() < 2 || v.shape[0] > 0 && v.numel() / v.shape[0] != Dimension)
            throw new ArgumentException(
                $"Expected N samples of {Dimension} values each ({Units} units), got shape [{string.Join(", ", v.shape)}].", name);
    }

    void CheckLast(Tensor v, string name)
    {
        if (v.dim() == 0 || v.shape[^1] != Dimension)
            throw new ArgumentException(
                $"Expected vectors of length {Dimension} in the last dimension ({Units} units), got shape [{string.Join(", ", v.shape)}].", name);
    }

    /// <inheritdoc/>
    public override string ToString() => Units == RadiusUnits.Pixel ? "pixel L2" : "CIFAR-normalised L2";
}
