using Leakage.Scale;
using Leakage.Adversarial;
using Leakage.Compute;
using Leakage.Experiment;
using Leakage.IO;

namespace Leakage.Experiment.Scaling;

/// <summary>What one shard worker did.</summary>
/// <param name="Shard">The shard.</param>
/// <param name="TrainedStandardModel">Whether this worker trained the standard model (rather than loading it).</param>
/// <param name="Sets">The chunks of this shard of each data set it attacked (D_rand, D_det, and D_other with the controls), in <see cref="AdversarialSet.All"/> order.</param>
/// <param name="Trainings">The training units of C that fell to this shard (<c>robust_linear</c>, <c>sweep/radius-r</c>, ...), trained now or found done.</param>
public sealed record ShardReport(Shard Shard, bool TrainedStandardModel, IReadOnlyList<(AdversarialSet Set, ShardOutcome Outcome)> Sets, IReadOnlyList<string> Trainings);

/// <summary>
/// <c>experiment --shard k/n</c>: one worker of several on a shared run folder. It obtains the
/// standard model (the first worker to claim the unit <c>standard</c> trains it; the others wait
/// for it), then attacks the chunks of each data set (<see cref="Sets"/>) that fall to its shard, each
/// claimed as a work unit, then trains the robust linear classifiers that fall to it: C (and C in pixel units) by
/// the hash of their folder, C at the i-th radius of <c>beyond.sweepRadii</c> and with the i-th seed
/// of <c>beyond.seeds</c> when i mod n = k. A plain <c>experiment</c> on the folder afterwards (the finishing job) reuses all of
/// it, waits for chunks a live worker still holds, and runs the remaining steps.
/// </summary>
public static class ShardWorker
{
    public static ShardReport Run(ExperimentRun run, Shard shard, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(run);
        var log = run.Observer.Log;
        var sets = Sets(run.Settings);
        log($"Shard {shard}: standard model, then chunks c with c mod {shard.Count} = {shard.Index} of {string.Join(", ", sets)}.");
        // The standard model is a training unit (TrainingUnits): the first shard trains it, the others wait for it.
        bool trained = !run.StandardModel(ct).Cached;
        var standard = run.StandardModel(ct).Model;
        // The same model the plain run attacks (a bfloat16 copy where compute.precision asks for one).
        using var copy = Precisions.AttackModel(standard, run.Settings.Compute.Precision, run.Device, run.Settings.Compute.FoldBatchNorm);
        var model = copy ?? standard;
        var outcomes = new List<(AdversarialSet, ShardOutcome)>();
        foreach (var set in sets)
        {
            var originals = AdversarialStep.Originals(run, set.Kind);
            var progress = new SyncProgress<AdversarialProgress>(p => run.Observer.Progress(new StepProgress(set.StepKey, p.Images == 0 ? 1 : (double)p.ImagesDone / p.Images,
                $"shard {shard}, chunk {p.Chunk}/{p.Chunks}, {p.ImagesDone:N0}/{p.Images:N0} images")));
            outcomes.Add((set, AdversarialDatasets.BuildShard(set.Kind, model, originals.Images, originals.Labels, run.AttackOptions(),
                run.Folder(set.Folder), run.Device, shard, progress, ct, log)));
        }
        var trainings = TrainRobust(run, shard, ct);
        return new ShardReport(shard, trained, outcomes, trainings);
    }

    /// <summary>The data sets the shards attack: D_rand and D_det, and D_other when the leakage controls are on (<c>controls.enabled</c>).</summary>
    public static IReadOnlyList<AdversarialSet> Sets(ExperimentSettings settings) =>
        [.. AdversarialSet.All.Where(s => !s.Control || settings.Controls.Enabled)];

    /// <summary>
    /// The training runs of C that fall to <paramref name="shard"/>: they need only the clean training
    /// images, so shards train them while the plain run would still wait for D_rand and D_det. Every
    /// unit is listed on its board first, so <c>status</c> shows the ones no shard has reached as missing.
    /// </summary>
    static IReadOnlyList<string> TrainRobust(ExperimentRun run, Shard shard, CancellationToken ct)
    {
        var s = run.Settings;
        var units = RobustStep.Trainings(s).Select(t => (t.Folder, t.Options, Mine: shard.Owns(t.Folder))).ToList();
        if (StepCatalog.RadiusSweep.Runs(s)) units.AddRange(RadiusSweepStep.Trainings(s).Select((t, i) => (t.Folder, t.Options, Mine: shard.Owns(i))));
        if (StepCatalog.ProbeSeeds.Runs(s)) units.AddRange(ProbeSeedsStep.Trainings(s).Select((t, i) => (t.Folder, t.Options, Mine: shard.Owns(i))));
        foreach (var u in units) TrainingUnits.Plan(run, u.Folder);
        var mine = units.Where(u => u.Mine).ToList();
        for (int i = 0; i < mine.Count; i++)
        {
            ct.ThrowIfCancellationRequested();
            run.Observer.Progress(new StepProgress(StepCatalog.Robust.Key, (double)i / mine.Count, $"shard {shard}, {mine[i].Folder}"));
            using var _ = RobustStep.TrainOrLoad(run, mine[i].Folder, mine[i].Options, null, ct);
        }
        return [.. mine.Select(u => u.Folder.Replace('\\', '/'))];
    }
}
