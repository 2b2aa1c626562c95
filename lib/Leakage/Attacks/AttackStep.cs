using Leakage.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Attacks;

/// <summary>
/// The geometry of one attack, as MadryLab <c>robustness</c>'s <c>attack_steps.py</c> has it: the set
/// the iterates must stay in (a ball around <see cref="Origin"/>, then the pixel box), the ascent step
/// taken from a gradient, and the random start. <see cref="Pgd.Ascend"/> is the one loop that drives a
/// step; <see cref="L2Pgd"/> (classifiers, autograd) and <c>Robust.LinearPgd</c> (linear models,
/// closed-form gradient) only differ in the objective they give it.
/// </summary>
public abstract class AttackStep
{
    /// <summary>A step around <paramref name="origin"/> (N x ...), the unperturbed inputs.</summary>
    protected AttackStep(Tensor origin)
    {
        ArgumentNullException.ThrowIfNull(origin);
        Origin = origin;
    }

    /// <summary>The unperturbed inputs the set is centred on (not owned).</summary>
    public Tensor Origin { get; }

    /// <summary>The nearest point of the set to each sample of <paramref name="x"/>.</summary>
    public abstract Tensor Project(Tensor x);

    /// <summary>
    /// <paramref name="x"/> moved step <paramref name="t"/> (from 0) up the objective whose input gradient
    /// is <paramref name="grad"/> (not yet projected).
    /// </summary>
    public abstract Tensor Step(Tensor x, Tensor grad, int t);

    /// <summary>A random starting point in the set, drawn from <paramref name="generator"/> (a CPU generator).</summary>
    public abstract Tensor RandomStart(Generator generator);
}

/// <summary>
/// L2 ball of radius <see cref="Eps"/> in a <see cref="RadiusGeometry"/> (pixel units: MadryLab's
/// <c>L2Step</c>; CIFAR-normalised units: the same ball measured through the per-channel std), with
/// steps of <see cref="StepSize"/> along the normalised gradient and an optional clamp to a pixel box.
/// Works on N x ... tensors whose trailing dimensions flatten to the geometry's dimension.
/// </summary>
public sealed class L2Step : AttackStep
{
    readonly RadiusGeometry geometry;
    readonly double? clampMin, clampMax;
    readonly bool startInBall;
    readonly Func<int, double>? schedule;

    /// <param name="origin">The unperturbed inputs (N x ...).</param>
    /// <param name="geometry">Units of <paramref name="eps"/> and <paramref name="stepSize"/>.</param>
    /// <param name="eps">Ball radius.</param>
    /// <param name="stepSize">Length of each step.</param>
    /// <param name="clampMin">Lower pixel bound after every projection, or null for none.</param>
    /// <param name="clampMax">Upper pixel bound, or null for none.</param>
    /// <param name="startInBall">Random starts uniform in the ball (true) or on its sphere (MadryLab's default).</param>
    /// <param name="schedule">Length of step t, overriding <paramref name="stepSize"/> (e.g. <see cref="L2PgdOptions.StepSizeAt"/>); null: constant.</param>
    public L2Step(Tensor origin, RadiusGeometry geometry, double eps, double stepSize, double? clampMin = 0.0, double? clampMax = 1.0, bool startInBall = false,
        Func<int, double>? schedule = null)
        : base(origin)
    {
        ArgumentNullException.ThrowIfNull(geometry);
        if (!(eps >= 0) || double.IsInfinity(eps)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "Radius must be a finite number >= 0.");
        if (!(stepSize >= 0) || double.IsInfinity(stepSize)) throw new ArgumentOutOfRangeException(nameof(stepSize), stepSize, "Step size must be a finite number >= 0.");
        this.geometry = geometry;
        Eps = eps;
        StepSize = stepSize;
        this.clampMin = clampMin;
        this.clampMax = clampMax;
        this.startInBall = startInBall;
        this.schedule = schedule;
    }

    /// <summary>Ball radius in the geometry's units.</summary>
    public double Eps { get; }

    /// <summary>Step length in the geometry's units (of every step, unless a schedule was given).</summary>
    public double StepSize { get; }

    /// <inheritdoc/>
    public override Tensor Project(Tensor x)
    {
        using var scope = NewDisposeScope();
        var projected = Origin + geometry.ProjectSamples(x - Origin, Eps);
        if (clampMin is null && clampMax is null) return projected.MoveToOuterDisposeScope();
        using Scalar? lo = clampMin?.ToScalar(), hi = clampMax?.ToScalar();
        return projected.clamp(lo, hi).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override Tensor Step(Tensor x, Tensor grad, int t)
    {
        using var scope = NewDisposeScope();
        return (x + geometry.StepSamples(grad, schedule?.Invoke(t) ?? StepSize)).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override Tensor RandomStart(Generator generator)
    {
        ArgumentNullException.ThrowIfNull(generator);
        using var scope = NewDisposeScope();
        return Project(Origin + geometry.RandomSamples(Origin, Eps, generator, startInBall)).MoveToOuterDisposeScope();
    }
}
