namespace Leakage.Attacks;

/// <summary>
/// Settings of an L2 projected-gradient attack, MadryLab <c>robustness</c> semantics (<c>L2Step</c>).
/// Distances are in pixel space, pixels in [0, 1]; a 32 x 32 x 3 image has 3072 coordinates, so
/// eps 0.5 is a root-mean-square change of about 0.009 (2.3 / 255) per coordinate.
/// </summary>
public sealed record L2PgdOptions
{
    /// <summary>Radius of the L2 ball around each input (Ilyas et al.: 0.5).</summary>
    public double Eps { get; init; } = 0.5;

    /// <summary>L2 length of each step (Ilyas et al.: 0.1).</summary>
    public double StepSize { get; init; } = 0.1;

    /// <summary>Number of gradient steps (Ilyas et al.: 100).</summary>
    public int Steps { get; init; } = 100;

    /// <summary>
    /// Null (Ilyas et al.): every step has length <see cref="StepSize"/>. Set: step t of
    /// <see cref="Steps"/> has length <see cref="StepSizeAt"/>(t), falling from <see cref="StepSize"/> to
    /// this on a cosine schedule, so early steps travel and late ones settle near the boundary.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public double? FinalStepSize { get; init; }

    /// <summary>Length of step <paramref name="t"/> (from 0): <see cref="StepSize"/>, or the cosine schedule down to <see cref="FinalStepSize"/>.</summary>
    public double StepSizeAt(int t) => FinalStepSize is double last
        ? last + 0.5 * (StepSize - last) * (1 + Math.Cos(Math.PI * t / Math.Max(1, Steps - 1)))
        : StepSize;

    /// <summary>
    /// Targeted: descend the cross-entropy towards the given labels (success = the model predicts them).
    /// Untargeted: ascend the cross-entropy of the true labels (success = the prediction changes).
    /// </summary>
    public bool Targeted { get; init; }

    /// <summary>Start from a uniformly random point on the eps-sphere (clamped) instead of the input. Off, as in Ilyas et al.</summary>
    public bool RandomStart { get; init; }

    /// <summary>
    /// Return, per sample, the iterate with the best objective seen (lowest target loss when targeted,
    /// highest true-label loss otherwise), the start and final iterates included; robustness's
    /// <c>use_best=True</c> default. Off: return the last iterate.
    /// </summary>
    public bool KeepBest { get; init; } = true;

    /// <summary>Lower pixel bound after every step, or null for no lower bound (unbounded-geometry tests).</summary>
    public double? ClampMin { get; init; } = 0.0;

    /// <summary>Upper pixel bound after every step, or null for no upper bound.</summary>
    public double? ClampMax { get; init; } = 1.0;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        static void Check(bool ok, string setting, object? value, string rule)
        {
            if (!ok) throw new ArgumentException($"L2 PGD option {setting} = {value} is invalid: {rule}.");
        }
        Check(double.IsFinite(Eps) && Eps >= 0, nameof(Eps), Eps, "must be a finite number >= 0");
        Check(double.IsFinite(StepSize) && StepSize >= 0, nameof(StepSize), StepSize, "must be a finite number >= 0");
        Check(Steps >= 0, nameof(Steps), Steps, "must be >= 0");
        Check(FinalStepSize is null || double.IsFinite(FinalStepSize.Value) && FinalStepSize >= 0, nameof(FinalStepSize), FinalStepSize, "must be a finite number >= 0");
        Check(ClampMin is null || ClampMax is null || ClampMin < ClampMax, nameof(ClampMin), ClampMin, $"must be below ClampMax ({ClampMax})");
    }
}
