using System.Diagnostics;
using System.Text.Json.Nodes;
using Leakage.Adversarial;
using Leakage.Compute;
using Leakage.IO;

namespace Leakage.Experiment;

/// <summary>
/// Step 2: D_rand or D_det, built with targeted L2 PGD against the standard model, cached (and
/// resumed chunk by chunk) in <c>d_rand/</c> or <c>d_det/</c>, with its compute time in <c>timing.json</c>.
/// The same step builds the control D_other in <c>d_other/</c>, from the controls' training images
/// (<see cref="ExperimentRun.ControlImages"/>).
/// </summary>
public sealed class AdversarialStep(ExperimentRun run, AdversarialKind kind) : IDisposable
{
    AdversarialDataset? _data;

    /// <summary>Which set.</summary>
    public AdversarialKind Kind => kind;

    /// <summary>Its entry of the <see cref="StepCatalog"/>.</summary>
    public StepInfo Info => StepCatalog.Find(AdversarialSet.Of(kind).StepKey)
        ?? throw new InvalidOperationException($"{AdversarialSet.Of(kind).Name} has no attack step in the StepCatalog (key {AdversarialSet.Of(kind).StepKey}).");

    /// <summary>The D_rand / D_det generation settings that <paramref name="settings"/> describe (also used by <c>bench</c>).</summary>
    public static AdversarialOptions Options(ExperimentSettings settings) => new()
    {
        Eps = settings.Attack.Eps,
        StepSize = settings.Attack.Step,
        Steps = settings.Attack.Steps,
        RandomStart = settings.Attack.RandomStart,
        RandomTargetExcludesSource = settings.Attack.RandomTargetExcludesSource,
        ChunkSize = settings.Attack.ChunkSize,
        BatchSize = settings.Attack.BatchSize,
        Seed = settings.Seed,
    };

    /// <summary>
    /// The clean images the set attacks: the run's training split, or for D_other, a control, the
    /// controls' images (<c>controls.trainCount</c>), so that all controls share one set of images.
    /// </summary>
    public static Data.CifarSplit Originals(ExperimentRun run, AdversarialKind kind) =>
        kind == AdversarialKind.Other ? run.ControlImages.Split : run.Train;

    /// <summary>Builds (or resumes, or loads) the set from the standard model.</summary>
    public AdversarialDataset Run(CancellationToken ct = default)
    {
        if (_data != null) return _data;
        var standard = run.StandardModel(ct).Model;
        // compute.precision and compute.foldBatchNorm: a bf16 or folded copy to attack where they apply (its own fingerprint, so its own cache).
        using var copy = Precisions.AttackModel(standard, run.Settings.Compute.Precision, run.Device, run.Settings.Compute.FoldBatchNorm);
        var model = copy ?? standard;
        var dir = run.Folder(AdversarialSet.Of(kind).Folder);
        var options = Options(run.Settings);
        var clock = Stopwatch.StartNew();
        var key = Info.Key;
        var originals = Originals(run, kind);
        bool existed = Artifacts.TryValidate(dir, AdversarialDataset.ArtifactKind,
            AdversarialDatasets.Settings(kind, model, originals.Images, originals.Labels, options), out _, verifyChecksums: false);
        var progress = new SyncProgress<AdversarialProgress>(p => run.Observer.Progress(new StepProgress(key, p.Images == 0 ? 1 : (double)p.ImagesDone / p.Images,
            $"chunk {p.Chunk}/{p.Chunks}, {p.ImagesDone:N0}/{p.Images:N0} images, success {(double.IsNaN(p.SuccessRate) ? "-" : p.SuccessRate.ToString("P1"))}, {p.ImagesPerSecond:N0} images/s")));
        var data = AdversarialDatasets.Build(kind, model, originals.Images, originals.Labels, options, dir, run.Device, progress, ct, run.Observer.Log);
        // Seconds: the compute time when built now (kept beside the set), else the time recorded then.
        var timing = Path.Combine(dir, "timing.json");
        double seconds;
        if (existed && ReadSeconds(timing) is double recorded)
            seconds = recorded;
        else
        {
            seconds = clock.Elapsed.TotalSeconds;
            if (!existed) AtomicFile.WriteAllText(timing, new JsonObject { ["seconds"] = seconds }.ToJsonString());
        }
        run.Observer.Log($"{AdversarialSet.Of(kind).Name}: {data.Count:N0} images, attack success {data.SuccessRate:P2}, target = original label for {data.TargetEqualsLabelRate:P2}.");
        var a = run.Settings.Attack;
        run.Results.Set(Info.ResultsKey, ResultsJson.Node(new AdversarialResult(data.Count, data.SuccessRate, data.TargetEqualsLabelRate, a.Eps, a.Step, a.Steps)));
        run.Results.SetSeconds(Info, seconds);
        return _data = data;
    }

    /// <summary>The "seconds" recorded in a timing file, or null when it is missing or damaged (it is informational only).</summary>
    static double? ReadSeconds(string path)
    {
        if (!File.Exists(path)) return null;
        try { return (double?)JsonNode.Parse(File.ReadAllText(path))?["seconds"]; }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or FormatException) { return null; }
    }

    public void Dispose() => _data?.Dispose();
}
