namespace Leakage.Training;

/// <summary>
/// One progress report, sent after every optimisation step (and again when an epoch ends) so that a
/// CLI progress bar or a notebook display can follow the run.
/// </summary>
/// <param name="Epoch">1-based epoch being run.</param>
/// <param name="Epochs">Total epochs of the run.</param>
/// <param name="Step">Steps done in this epoch (1-based; equals <paramref name="Steps"/> at the end).</param>
/// <param name="Steps">Steps per epoch.</param>
/// <param name="Loss">Mean training cross-entropy over this epoch's steps so far (nats).</param>
/// <param name="Accuracy">Fraction of this epoch's (augmented) training images classified correctly so far, in [0, 1].</param>
/// <param name="LearningRate">Learning rate used by the last step.</param>
/// <param name="ImagesPerSecond">Training throughput in this epoch so far.</param>
/// <param name="EpochCompleted">True for the report sent once an epoch is finished (and checkpointed).</param>
public sealed record TrainingProgress(
    int Epoch, int Epochs, int Step, int Steps,
    double Loss, double Accuracy, double LearningRate, double ImagesPerSecond, bool EpochCompleted);

/// <summary>Summary of one finished epoch.</summary>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="Loss">Mean training loss over the epoch (nats).</param>
/// <param name="Accuracy">Training accuracy over the epoch, in [0, 1].</param>
/// <param name="Seconds">Wall-clock time of the epoch.</param>
/// <param name="ImagesPerSecond">Training throughput.</param>
public sealed record EpochSummary(int Epoch, double Loss, double Accuracy, double Seconds, double ImagesPerSecond);

/// <summary>What <see cref="Trainer.Train"/> did.</summary>
/// <param name="Epochs">Epochs completed in total (including those restored from a checkpoint).</param>
/// <param name="ResumedFromEpoch">Epoch of the checkpoint the run resumed from (0 = started fresh).</param>
/// <param name="History">One summary per completed epoch, oldest first.</param>
public sealed record TrainingResult(int Epochs, int ResumedFromEpoch, IReadOnlyList<EpochSummary> History)
{
    /// <summary>Mean training loss of the last epoch.</summary>
    public double FinalLoss => History.Count > 0 ? History[^1].Loss : double.NaN;

    /// <summary>Training accuracy of the last epoch.</summary>
    public double FinalAccuracy => History.Count > 0 ? History[^1].Accuracy : double.NaN;
}
