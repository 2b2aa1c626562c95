using Leakage.Attacks;
using Leakage.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Robust;

/// <summary>What <see cref="LinearPgd"/> ascends.</summary>
public enum PgdObjective
{
    /// <summary>Cross-entropy of the label (the usual untargeted PGD loss).</summary>
    CrossEntropy,
    /// <summary>
    /// Margin <c>max_{j != y} z_j - z_y</c>: positive exactly when the label is no longer the prediction,
    /// so it is the strongest objective for trying to flip a prediction.
    /// </summary>
    Margin,
}

/// <summary>
/// Settings of an untargeted L2 PGD attack on a linear classifier.
/// </summary>
/// <param name="Radius">Ball radius, in the units of the geometry the attack is given.</param>
/// <param name="Steps">Gradient steps per start (&gt;= 1).</param>
/// <param name="StepSize">Step length in the geometry's units; null means <c>2.5 * Radius / Steps</c> (Madry et al.).</param>
/// <param name="Restarts">Extra starts from uniformly random points of the ball (0: one start at x).</param>
/// <param name="Objective">The loss the attack increases.</param>
/// <param name="ClampToUnitBox">Keep <c>x + delta</c> in [0,1] (pixel space), as MadryLab attacks do.</param>
/// <param name="Seed">Seed of the random starts.</param>
public sealed record LinearPgdOptions(
    double Radius,
    int Steps = 20,
    double? StepSize = null,
    int Restarts = 0,
    PgdObjective Objective = PgdObjective.CrossEntropy,
    bool ClampToUnitBox = true,
    int Seed = 0)
{
    /// <summary>The step length actually used.</summary>
    public double EffectiveStepSize => StepSize ?? PgdStepRule.StepSize(Radius, Steps);

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (!(Radius >= 0) || double.IsInfinity(Radius)) throw new ArgumentException($"PGD Radius must be a finite number >= 0, got {Radius}.");
        if (Steps < 1) throw new ArgumentException($"PGD Steps must be >= 1, got {Steps}.");
        if (StepSize is { } s && !(s > 0)) throw new ArgumentException($"PGD StepSize must be > 0, got {s}.");
        if (Restarts < 0) throw new ArgumentException($"PGD Restarts must be >= 0, got {Restarts}.");
    }
}

/// <summary>
/// Projected gradient ascent for a linear classifier <c>z = W x + b</c> in an L2 ball of a
/// <see cref="RadiusGeometry"/> (pixel or CIFAR-normalised units). The input gradient of a linear
/// model is exact and cheap, <c>dL/dx = (dL/dz) W</c>, so no autograd graph is built.
/// Each step follows MadryLab's L2 step in the geometry (normalised ascent direction, projection back
/// onto the ball, clamp to [0,1]); the per-example best point over all steps and starts is returned.
/// The loop is <see cref="Pgd.Ascend"/> with an <see cref="L2Step"/> in the geometry; this class
/// supplies the objective and its closed-form gradient.
/// </summary>
public static class LinearPgd
{
    /// <summary>Attacks <paramref name="model"/> at inputs <paramref name="x"/> (N x ..., in [0,1] when clamping) with labels <paramref name="y"/> (N).</summary>
    /// <returns>Adversarial inputs, same shape and dtype as <paramref name="x"/>.</returns>
    public static Tensor Attack(LinearClassifier model, Tensor x, Tensor y, RadiusGeometry geometry, LinearPgdOptions options)
    {
        using var w = model.weight.detach();
        using var b = model.bias.detach();
        return Attack(w, b, x, y, geometry, options);
    }

    /// <summary>
    /// Attacks the linear model with weights <paramref name="w"/> (K x D) and biases <paramref name="b"/> (K)
    /// at <paramref name="x"/> (N x ..., flattening to N x D) with labels <paramref name="y"/> (N, int64).
    /// Works in the dtype and on the device of <paramref name="x"/>.
    /// </summary>
    public static Tensor Attack(Tensor w, Tensor b, Tensor x, Tensor y, RadiusGeometry geometry, LinearPgdOptions options)
    {
        options.Validate();
        TorchNative.Ensure();
        if (y.dim() != 1 || y.shape[0] != x.shape[0])
            throw new ArgumentException($"Labels must be a vector with one entry per input ({x.shape[0]}), got shape [{string.Join(", ", y.shape)}].", nameof(y));
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var flat = LinearClassifier.Flatten(x, geometry.Dimension);
        if (options.ClampToUnitBox && (flat.min().ToDouble() < 0 || flat.max().ToDouble() > 1))
            throw new ArgumentException("PGD with ClampToUnitBox needs inputs in [0,1] (pixel space); these inputs leave that range.", nameof(x));
        var wx = w.to(flat.dtype, flat.device);
        var bx = b.to(flat.dtype, flat.device);
        var yx = y.to(ScalarType.Int64, flat.device);
        var onehot = nn.functional.one_hot(yx, wx.shape[0]).to(flat.dtype);
        using var gen = new Generator((ulong)options.Seed, CPU);
        var step = new L2Step(flat, geometry, options.Radius, options.EffectiveStepSize,
            options.ClampToUnitBox ? 0.0 : null, options.ClampToUnitBox ? 1.0 : null, startInBall: true);
        // The input gradient of a linear model in closed form: dL/dx = (dL/dz) W.
        (Tensor, Tensor?) Objective(Tensor xa, bool withGradient)
        {
            var (value, gz) = ObjectiveAndGradient(nn.functional.linear(xa, wx, bx), onehot, options.Objective);
            return (value, withGradient ? gz.matmul(wx) : null);
        }
        var (best, _) = Pgd.Ascend(step, Objective, options.Steps, keepBest: true, restarts: options.Restarts, generator: gen);
        return best.reshape(x.shape).MoveToOuterDisposeScope();
    }

    /// <summary>Per-example objective (N) and its gradient with respect to the logits (N x K).</summary>
    internal static (Tensor Value, Tensor Gradient) ObjectiveAndGradient(Tensor z, Tensor onehot, PgdObjective objective)
    {
        switch (objective)
        {
            case PgdObjective.CrossEntropy:
            {
                var value = z.logsumexp(1) - (z * onehot).sum(1);
                return (value, z.softmax(1) - onehot);
            }
            case PgdObjective.Margin:
            {
                var others = z.masked_fill(onehot.to(ScalarType.Bool), Scalars.NegativeInfinity);
                var (top, arg) = others.max(1);
                var value = top - (z * onehot).sum(1);
                var grad = nn.functional.one_hot(arg, z.shape[1]).to(z.dtype) - onehot;
                return (value, grad);
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(objective), objective, "Unknown PGD objective.");
        }
    }
}
