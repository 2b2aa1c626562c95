using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Attacks;

/// <summary>
/// What an attack ascends: per-sample values (N, detached) at <paramref name="x"/> and, when
/// <paramref name="withGradient"/>, their input gradient (shaped like <paramref name="x"/>).
/// </summary>
public delegate (Tensor Value, Tensor? Gradient) AttackObjective(Tensor x, bool withGradient);

/// <summary>
/// Projected gradient ascent: the one attack loop of the library (MadryLab <c>robustness</c>'s
/// <c>Attacker</c> loop), parameterised by an <see cref="AttackStep"/> (the set, the step, the random
/// start) and an <see cref="AttackObjective"/>.
/// </summary>
public static class Pgd
{
    /// <summary>
    /// From each start (the origin, or a random point when <paramref name="randomStart"/>, then
    /// <paramref name="restarts"/> random ones) takes <paramref name="steps"/> steps
    /// <c>x &lt;- Project(Step(x, grad, t))</c>, evaluating the objective at every iterate (the last one
    /// without a gradient).
    /// </summary>
    /// <param name="step">The attack's geometry, centred on the unperturbed inputs.</param>
    /// <param name="objective">The per-sample value to increase.</param>
    /// <param name="steps">Steps per start (0: the starts themselves are evaluated).</param>
    /// <param name="keepBest">
    /// Return, per sample, the iterate with the highest value over all iterates and starts (the first
    /// one on ties, as robustness's <c>replace_best</c>); otherwise the last iterate of the last start.
    /// </param>
    /// <param name="randomStart">The first start is a random point rather than the origin.</param>
    /// <param name="restarts">Further starts from random points.</param>
    /// <param name="generator">CPU generator of the random starts; required when there are any.</param>
    /// <returns>The chosen iterates and their objective values.</returns>
    public static (Tensor X, Tensor Value) Ascend(AttackStep step, AttackObjective objective, int steps, bool keepBest = true,
        bool randomStart = false, int restarts = 0, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(step);
        ArgumentNullException.ThrowIfNull(objective);
        if (steps < 0) throw new ArgumentOutOfRangeException(nameof(steps), steps, "PGD steps must be >= 0.");
        if (restarts < 0) throw new ArgumentOutOfRangeException(nameof(restarts), restarts, "PGD restarts must be >= 0.");
        if ((randomStart || restarts > 0) && generator is null)
            throw new ArgumentException("PGD with random starts needs a generator.", nameof(generator));
        using var outer = NewDisposeScope();
        var shape = RadiusGeometry.SampleShape(step.Origin);
        Tensor? bestX = null, bestValue = null;
        for (int start = 0; start <= restarts; start++)
        {
            var x = start == 0 && !randomStart ? step.Origin.detach().clone() : step.RandomStart(generator!);
            for (int t = 0; ; t++)
            {
                bool last = t == steps;
                Tensor? next = null;
                (Tensor X, Tensor Value)? kept = null;
                using (var scope = NewDisposeScope())
                {
                    var (value, grad) = objective(x, withGradient: !last);
                    if (bestX is null || bestValue is null || !keepBest && last)
                    {
                        if (keepBest || last) kept = (x.clone().MoveToOuterDisposeScope(), value.clone().MoveToOuterDisposeScope());
                    }
                    else if (keepBest)
                    {
                        var better = value.gt(bestValue);
                        kept = (where(better.view(shape), x, bestX).MoveToOuterDisposeScope(), where(better, value, bestValue).MoveToOuterDisposeScope());
                    }
                    if (!last) next = step.Project(step.Step(x, grad ?? throw new InvalidOperationException("The attack objective returned no gradient."), t)).MoveToOuterDisposeScope();
                }
                if (kept is { } k)
                {
                    bestX?.Dispose();
                    bestValue?.Dispose();
                    (bestX, bestValue) = k;
                }
                x.Dispose();
                if (last) break;
                x = next!;
            }
        }
        return (bestX!.MoveToOuterDisposeScope(), bestValue!.MoveToOuterDisposeScope());
    }
}
