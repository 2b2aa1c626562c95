using Leakage.Experiment;

namespace Leakage.Scale;

/// <summary>
/// Every training run of a run folder (the standard model, the transfer models, ...) as a work unit
/// named after its artifact folder, on the board in the run folder: the first worker to claim it
/// trains (or loads) the model, a worker that finds it held by a live worker waits and then loads
/// the finished model instead of training it a second time.
/// </summary>
public static class TrainingUnits
{
    /// <summary>How often a waiting worker looks again.</summary>
    public static TimeSpan Poll { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Claims the training run <paramref name="folder"/> of <paramref name="run"/>, waiting while a live
    /// worker holds it. Dispose the claim once the model is saved.
    /// </summary>
    public static UnitClaim Acquire(ExperimentRun run, string folder, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(run);
        var board = new UnitBoard(run.OutDirectory, run.Observer.Log);
        board.AddToPlan("training runs", folder);
        while (true)
        {
            var claim = board.TryClaim(folder, out var holder);
            if (claim != null) return claim;
            run.Observer.Log($"{folder}: waiting for {holder} to finish training it.");
            board.WaitWhileHeld(folder, () => false, Poll, ct);
        }
    }

    /// <summary>
    /// Records the training run <paramref name="folder"/> as done once its model is saved or loaded,
    /// so that <c>status</c> lists it as done rather than missing.
    /// </summary>
    public static void MarkDone(ExperimentRun run, string folder, double seconds)
    {
        ArgumentNullException.ThrowIfNull(run);
        var board = new UnitBoard(run.OutDirectory, run.Observer.Log);
        board.MarkDone(folder, board.ReadPlan()?.Fingerprint ?? "", seconds);
    }
}
