using Leakage.Attacks;

namespace Leakage.Robust;

/// <summary>How <see cref="RobustLinearTrainer"/> makes the model robust.</summary>
public enum RobustTrainingMode
{
    /// <summary>
    /// Cross-entropy on the exact worst-case logits of the L2 ball (a certified upper bound of the
    /// adversarial loss; for a linear model the bound is attained pair by pair).
    /// </summary>
    Certified,
    /// <summary>Madry-style adversarial training: cross-entropy at untargeted L2 PGD points (<see cref="LinearPgd"/>).</summary>
    Pgd,
}

/// <summary>Optimiser for <see cref="RobustLinearTrainer"/>.</summary>
public enum RobustOptimizer
{
    /// <summary>Adam (Kingma and Ba), the default.</summary>
    Adam,
    /// <summary>SGD with momentum <see cref="RobustLinearOptions.Momentum"/>.</summary>
    Sgd,
}

/// <summary>
/// Settings of robust linear training. The training radius and the certification radius are
/// separate: the model is trained at <see cref="TrainRadius"/> and certified (and reported) at
/// <see cref="CertifyRadius"/>, both in <see cref="Units"/>.
/// </summary>
public sealed record RobustLinearOptions
{
    /// <summary>L2 radius of the training ball, in <see cref="Units"/>. 0 gives a plain (non-robust) model. Default 0.25 (Goh).</summary>
    public double TrainRadius { get; init; } = 0.25;

    /// <summary>Radius at which the result is certified and reported, in <see cref="Units"/>. Default 0.25 (Goh).</summary>
    public double CertifyRadius { get; init; } = 0.25;

    /// <summary>Units both radii are measured in (pixel [0,1] or CIFAR-normalised).</summary>
    public RadiusUnits Units { get; init; } = RadiusUnits.Pixel;

    /// <summary>Certified worst-case loss (default) or PGD adversarial training.</summary>
    public RobustTrainingMode Mode { get; init; } = RobustTrainingMode.Certified;

    /// <summary>Number of classes K. Default 10 (CIFAR-10).</summary>
    public int Classes { get; init; } = 10;

    /// <summary>Passes over the training set.</summary>
    public int Epochs { get; init; } = 20;

    /// <summary>Examples per optimiser step.</summary>
    public int BatchSize { get; init; } = 512;

    /// <summary>Optimiser (Adam by default).</summary>
    public RobustOptimizer Optimizer { get; init; } = RobustOptimizer.Adam;

    /// <summary>Peak learning rate.</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Momentum, used by <see cref="RobustOptimizer.Sgd"/> only.</summary>
    public double Momentum { get; init; } = 0.9;

    /// <summary>Cosine decay of the learning rate to 0 over all steps (true) or a constant rate (false).</summary>
    public bool CosineSchedule { get; init; } = true;

    /// <summary>
    /// L2 penalty <c>(WeightDecay / 2) ||W||_F^2</c> added to the loss (weights only, not biases), the same
    /// for every optimiser. Default 0.
    /// </summary>
    public double WeightDecay { get; init; } = 0;

    /// <summary>
    /// Epochs over which the training radius ramps linearly (per step) from 0 to <see cref="TrainRadius"/>;
    /// 0 trains at the full radius from the first step. Default 5.
    /// </summary>
    public int WarmupEpochs { get; init; } = 5;

    /// <summary>
    /// Weight k in [0,1] of the clean loss: the objective is <c>(1 - k) robust + k clean</c>. Default 0
    /// (robust loss only).
    /// </summary>
    public double CleanLossWeight { get; init; } = 0;

    /// <summary>
    /// Train on centred inputs <c>x - mean</c> (the training-set mean) and fold the shift into the bias
    /// at the end: the same model class, a better-conditioned problem. Default true.
    /// </summary>
    public bool CentreInputs { get; init; } = true;

    /// <summary>PGD steps per batch in <see cref="RobustTrainingMode.Pgd"/> mode.</summary>
    public int PgdSteps { get; init; } = 7;

    /// <summary>PGD step length in <see cref="Units"/>; null means <see cref="PgdStepRule.StepSize"/> (2.5 radius / PgdSteps).</summary>
    public double? PgdStepSize { get; init; }

    /// <summary>Seed of the initial weights, the batch order and PGD random starts.</summary>
    public int Seed { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting and its value.</summary>
    public void Validate()
    {
        static void Require(bool ok, string message) { if (!ok) throw new ArgumentException($"Invalid robust linear training setting: {message}"); }
        Require(TrainRadius >= 0 && double.IsFinite(TrainRadius), $"TrainRadius must be a finite number >= 0, got {TrainRadius}.");
        Require(CertifyRadius >= 0 && double.IsFinite(CertifyRadius), $"CertifyRadius must be a finite number >= 0, got {CertifyRadius}.");
        Require(Enum.IsDefined(Units), $"Units '{Units}' is not one of {string.Join(", ", Enum.GetNames<RadiusUnits>())}.");
        Require(Enum.IsDefined(Mode), $"Mode '{Mode}' is not one of {string.Join(", ", Enum.GetNames<RobustTrainingMode>())}.");
        Require(Enum.IsDefined(Optimizer), $"Optimizer '{Optimizer}' is not one of {string.Join(", ", Enum.GetNames<RobustOptimizer>())}.");
        Require(Classes >= 2, $"Classes must be >= 2, got {Classes}.");
        Require(Epochs >= 1, $"Epochs must be >= 1, got {Epochs}.");
        Require(BatchSize >= 1, $"BatchSize must be >= 1, got {BatchSize}.");
        Require(LearningRate > 0 && double.IsFinite(LearningRate), $"LearningRate must be > 0, got {LearningRate}.");
        Require(Momentum >= 0 && Momentum < 1, $"Momentum must be in [0, 1), got {Momentum}.");
        Require(WeightDecay >= 0 && double.IsFinite(WeightDecay), $"WeightDecay must be >= 0, got {WeightDecay}.");
        Require(WarmupEpochs >= 0, $"WarmupEpochs must be >= 0, got {WarmupEpochs}.");
        Require(WarmupEpochs == 0 || WarmupEpochs < Epochs,
            $"WarmupEpochs ({WarmupEpochs}) must be smaller than Epochs ({Epochs}) so that training reaches the full TrainRadius; use 0 for no warm-up.");
        Require(CleanLossWeight is >= 0 and <= 1, $"CleanLossWeight must be in [0, 1], got {CleanLossWeight}.");
        Require(PgdSteps >= 1, $"PgdSteps must be >= 1, got {PgdSteps}.");
        Require(PgdStepSize is null || PgdStepSize > 0, $"PgdStepSize must be > 0 when set, got {PgdStepSize}.");
    }
}

/// <summary>
/// The PGD step length used wherever none is given (Madry et al.): 2.5 x radius / steps, so that the
/// steps together can cross the ball and back from any start.
/// </summary>
public static class PgdStepRule
{
    /// <summary>2.5 x <paramref name="radius"/> / <paramref name="steps"/>.</summary>
    public static double StepSize(double radius, int steps) => 2.5 * radius / steps;
}
