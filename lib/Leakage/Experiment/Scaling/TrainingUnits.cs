using Leakage.Scale;
using Leakage.Experiment;

namespace Leakage.Experiment.Scaling;

/// <summary>
/// Every training run of a run folder (the standard model, the transfer models, C, C at each radius
/// of the sweep, ...) and every other cached computation a single process would do once (the leakage
/// probes) as a work unit named after its artifact folder: the first worker to claim it trains (or
/// loads) the model, a worker that finds it held by a live worker waits and then loads the finished
/// model instead of training it a second time. A folder directly in the run folder (<c>standard</c>)
/// is a unit of the board in the run folder; a nested one (<c>sweep/radius-0.25</c>) is the unit
/// <c>radius-0.25</c> of the board in <c>sweep/</c>, so <c>status</c> lists it as <c>sweep/radius-0.25</c>.
/// </summary>
public static class TrainingUnits
{
    /// <summary>How often a waiting worker looks again.</summary>
    public static TimeSpan Poll { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>The board holding the unit of <paramref name="folder"/> (relative to the run folder), and the unit's name.</summary>
    static (UnitBoard Board, string Unit, string Title) BoardOf(ExperimentRun run, string folder)
    {
        var rel = folder.Replace('\\', '/').Trim('/');
        int slash = rel.LastIndexOf('/');
        if (slash < 0) return (new UnitBoard(run.OutDirectory, run.Observer.Log), rel, "training runs");
        var parent = rel[..slash];
        return (new UnitBoard(Path.Combine(run.OutDirectory, parent), run.Observer.Log), rel[(slash + 1)..], parent);
    }

    /// <summary>Lists the unit of <paramref name="folder"/> on its board (for <c>status</c>) before anyone claims it.</summary>
    public static void Plan(ExperimentRun run, string folder)
    {
        ArgumentNullException.ThrowIfNull(run);
        var (board, unit, title) = BoardOf(run, folder);
        board.AddToPlan(title, unit);
    }

    /// <summary>
    /// Claims the training run <paramref name="folder"/> of <paramref name="run"/>, waiting while a live
    /// worker holds it. Dispose the claim once the model is saved.
    /// </summary>
    static UnitClaim Acquire(ExperimentRun run, string folder, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(run);
        var (board, unit, title) = BoardOf(run, folder);
        board.AddToPlan(title, unit);
        while (true)
        {
            var claim = board.TryClaim(unit, out var holder);
            if (claim != null) return claim;
            run.Observer.Log($"{folder}: waiting for {holder} to finish it.");
            board.WaitWhileHeld(unit, () => false, Poll, ct);
        }
    }

    /// <summary>
    /// Records the training run <paramref name="folder"/> as done once its model is saved or loaded,
    /// so that <c>status</c> lists it as done rather than missing.
    /// </summary>
    static void MarkDone(ExperimentRun run, string folder, double seconds)
    {
        ArgumentNullException.ThrowIfNull(run);
        var (board, unit, _) = BoardOf(run, folder);
        board.MarkDone(unit, board.ReadPlan()?.Fingerprint ?? "", seconds);
    }

    /// <summary>
    /// Runs <paramref name="work"/> (which trains or loads the artifact in <paramref name="folder"/>)
    /// holding the folder's unit, and records the unit as done with the compute time
    /// <paramref name="seconds"/> reports.
    /// </summary>
    public static T Run<T>(ExperimentRun run, string folder, Func<T> work, Func<T, double> seconds, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        ArgumentNullException.ThrowIfNull(seconds);
        using var unit = Acquire(run, folder, ct);
        var result = work();
        MarkDone(run, folder, seconds(result));
        return result;
    }
}
