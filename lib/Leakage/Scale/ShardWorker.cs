using Leakage.Adversarial;
using Leakage.Compute;
using Leakage.Experiment;
using Leakage.IO;

namespace Leakage.Scale;

/// <summary>What one shard worker did.</summary>
public sealed record ShardReport(Shard Shard, bool TrainedStandardModel, ShardOutcome DRand, ShardOutcome DDet);

/// <summary>
/// <c>experiment --shard k/n</c>: one worker of several on a shared run folder. It obtains the
/// standard model (the first worker to claim the unit <c>standard</c> trains it; the others wait
/// for it), then attacks the chunks of D_rand and D_det that fall to its shard, each claimed as a
/// work unit. A plain <c>experiment</c> on the folder afterwards (the finishing job) reuses all of
/// it, waits for chunks a live worker still holds, and runs the remaining steps.
/// </summary>
public static class ShardWorker
{
    public static ShardReport Run(ExperimentRun run, Shard shard, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(run);
        var log = run.Observer.Log;
        log($"Shard {shard}: standard model, then chunks c with c mod {shard.Count} = {shard.Index} of D_rand and D_det.");
        // The standard model is a training unit (TrainingUnits): the first shard trains it, the others wait for it.
        bool trained = !run.StandardModel(ct).Cached;
        var standard = run.StandardModel(ct).Model;
        // The same model the plain run attacks (a bfloat16 copy where compute.precision asks for one).
        using var bf16 = Precisions.AttackModel(standard, run.Settings.Compute.Precision, run.Device);
        var model = bf16 ?? standard;
        var outcomes = new Dictionary<AdversarialKind, ShardOutcome>();
        foreach (var kind in new[] { AdversarialKind.Random, AdversarialKind.Deterministic })
        {
            var dir = Path.Combine(run.OutDirectory, kind == AdversarialKind.Random ? "d_rand" : "d_det");
            var step = kind == AdversarialKind.Random ? "dRand" : "dDet";
            var progress = new SyncProgress<AdversarialProgress>(p => run.Observer.Progress(new StepProgress(step, p.Images == 0 ? 1 : (double)p.ImagesDone / p.Images,
                $"shard {shard}, chunk {p.Chunk}/{p.Chunks}, {p.ImagesDone:N0}/{p.Images:N0} images")));
            outcomes[kind] = AdversarialDatasets.BuildShard(kind, model, run.Train.Images, run.Train.Labels, run.AttackOptions(), dir, run.Device, shard, progress, ct, log);
        }
        return new ShardReport(shard, trained, outcomes[AdversarialKind.Random], outcomes[AdversarialKind.Deterministic]);
    }
}
