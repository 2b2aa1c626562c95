namespace Leakage.Training;

/// <summary>
/// Training stopped because the loss became NaN or infinite, or exploded (see
/// <see cref="Trainer.ExplodedLoss"/> and <see cref="Trainer.ExplosionFactor"/>). The weights of the
/// current epoch are not saved; the last good checkpoint, if any, stays on disk.
/// </summary>
public sealed class TrainingDivergedException : Exception
{
    /// <summary>Creates the exception for a fault at <paramref name="epoch"/>/<paramref name="step"/>.</summary>
    /// <param name="epoch">1-based epoch.</param>
    /// <param name="step">1-based step within the epoch.</param>
    /// <param name="steps">Steps per epoch.</param>
    /// <param name="loss">The offending loss.</param>
    /// <param name="learningRate">Learning rate of the step.</param>
    /// <param name="detail">What was wrong with the loss.</param>
    /// <param name="lastCheckpoint">Folder of the last good checkpoint, or null when none was written.</param>
    public TrainingDivergedException(int epoch, int step, int steps, double loss, double learningRate, string detail, string? lastCheckpoint)
        : base($"Training diverged at epoch {epoch}, step {step}/{steps}: {detail} (learning rate {learningRate:G4}). " +
               "Lower the learning rate (TrainingOptions.LearningRate, the peak of the schedule) or lengthen the warm-up " +
               "(TrainingOptions.WarmupFraction). " +
               (lastCheckpoint is null ? "No checkpoint of this run was written." : $"The last good checkpoint is kept in {lastCheckpoint}."))
    {
        LastCheckpoint = lastCheckpoint;
        Epoch = epoch;
        Step = step;
        Steps = steps;
        Detail = detail;
        Loss = loss;
        LearningRate = learningRate;
    }

    /// <summary>1-based epoch in which the fault happened.</summary>
    public int Epoch { get; }

    /// <summary>1-based step within the epoch.</summary>
    public int Step { get; }

    /// <summary>Steps per epoch.</summary>
    public int Steps { get; }

    /// <summary>What was wrong with the loss, e.g. "the loss is NaN".</summary>
    public string Detail { get; }

    /// <summary>The offending loss value.</summary>
    public double Loss { get; }

    /// <summary>Folder of the last good checkpoint of this run, or null.</summary>
    public string? LastCheckpoint { get; }

    /// <summary>Learning rate of the offending step.</summary>
    public double LearningRate { get; }
}
