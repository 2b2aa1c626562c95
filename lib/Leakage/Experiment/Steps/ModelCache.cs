using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Leakage.IO;
using Leakage.Models;
using Leakage.Training;
using static TorchSharp.torch;

namespace Leakage.Experiment;

/// <summary>A model a step trains on the run's architecture, and where its cache lives.</summary>
/// <param name="Folder">Artifact folder inside the run folder (<c>standard</c>, <c>transfer_rand</c>, ...); its checkpoints go to <c>checkpoints/Folder</c>.</param>
/// <param name="Title">What the log calls it, e.g. "Standard model".</param>
/// <param name="Verb">What the log says is done when it is not cached, e.g. "training".</param>
/// <param name="Training">The recipe; its seed also seeds the initial weights.</param>
/// <param name="Identity">The inputs the artifact is valid for (recipe, data checksums...): its <c>metadata.json</c> settings.</param>
/// <param name="ProgressKey">Step key of the progress reports (<see cref="StepCatalog"/>).</param>
/// <param name="LrSetting">The run setting to lower when training diverges, e.g. <c>standard.lr</c>.</param>
public sealed record ModelJob(string Folder, string Title, string Verb, TrainingOptions Training, JsonObject Identity, string ProgressKey, string LrSetting)
{
    /// <summary>Architecture to train; null for the run's (<c>standard.arch</c>).</summary>
    public string? Arch { get; init; }
    /// <summary>Its width; null for the run's (<c>standard.width</c>).</summary>
    public int? Width { get; init; }
    /// <summary>For one of several trainings of a step: its share of the step's progress; null: the whole step.</summary>
    public ProgressPart? Part { get; init; }
}

/// <summary>Training <paramref name="Index"/> (from 0) of <paramref name="Count"/> in one step, reported under <paramref name="Label"/>.</summary>
public sealed record ProgressPart(int Index, int Count, string Label);

/// <summary>A model a <see cref="ModelJob"/> produced: trained now or loaded from its folder.</summary>
public sealed record CachedModel(nn.Module<Tensor, Tensor> Model, IReadOnlyList<EpochSummary> History, double Seconds, bool Cached);

/// <summary>
/// The cache of the models the steps train: loads <c>Folder/</c> when its <c>metadata.json</c>
/// matches the job's identity (and the files are intact); otherwise trains a fresh model of the run's
/// architecture with per-epoch checkpoints (resumable), saves it with its history and compute time,
/// and removes the checkpoints.
/// </summary>
public static class ModelCache
{
    /// <summary>
    /// Loads or trains <paramref name="job"/> on (<paramref name="images"/>, <paramref name="labels"/>), as a
    /// work unit: a worker that finds it held by a live worker waits and loads it (<see cref="Leakage.Experiment.Scaling.TrainingUnits"/>).
    /// </summary>
    public static CachedModel TrainOrLoad(ExperimentRun run, ModelJob job, Tensor images, Tensor labels, CancellationToken ct) =>
        Leakage.Experiment.Scaling.TrainingUnits.Run(run, job.Folder, () => LoadOrTrain(run, job, images, labels, ct), m => m.Seconds, ct);

    static CachedModel LoadOrTrain(ExperimentRun run, ModelJob job, Tensor images, Tensor labels, CancellationToken ct)
    {
        var s = run.Settings.Standard;
        var (arch, width) = (job.Arch ?? s.Arch, job.Width ?? s.Width);
        var dir = run.Folder(job.Folder);
        if (ModelStore.TryLoad(dir, arch, job.Identity, run.Device, out var loaded, out var reason, width))
        {
            run.Observer.Log($"{job.Title}: reusing {dir}.");
            var extra = Artifacts.ReadExtra(dir);
            return new(loaded, extra?["history"]?.Deserialize<List<EpochSummary>>(Artifacts.Json) ?? [], (double?)extra?["seconds"] ?? 0, true);
        }
        run.Observer.Log($"{job.Title}: {job.Verb} ({reason}).");
        var clock = Stopwatch.StartNew();
        var model = ModelFactory.Create(arch, job.Training.Seed, width, run.Device);
        try
        {
            var checkpoints = run.CheckpointFolder(job.Folder);
            var result = Diverging(job, () => Trainer.Train(model, images, labels, job.Training, run.Device, checkpoints,
                TrainingProgress(run.Observer, job.ProgressKey, job.Part), run.Observer.Log, ct));
            var seconds = clock.Elapsed.TotalSeconds;
            ModelStore.Save(model, dir, job.Identity, new JsonObject
            {
                ["history"] = JsonSerializer.SerializeToNode(result.History, Artifacts.Json),
                ["seconds"] = seconds,
            });
            try { if (Directory.Exists(checkpoints)) Directory.Delete(checkpoints, recursive: true); }
            catch (IOException e) { run.Observer.Log($"Could not remove {checkpoints}: {e.Message}"); }
            return new(model, result.History, seconds, false);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Training progress as step progress of <paramref name="key"/> (within <paramref name="part"/> of it, when given).</summary>
    public static IProgress<TrainingProgress> TrainingProgress(IRunObserver observer, string key, ProgressPart? part = null) => new SyncProgress<TrainingProgress>(p =>
    {
        double fraction = p.Epochs == 0 ? 1 : Math.Clamp(((p.Epoch - 1) + (p.Steps == 0 ? 1 : (double)p.Step / p.Steps)) / p.Epochs, 0, 1);
        var detail = $"epoch {p.Epoch}/{p.Epochs}, loss {p.Loss:0.000}, accuracy {p.Accuracy:P1}, lr {p.LearningRate:0.####}, {p.ImagesPerSecond:N0} images/s";
        observer.Progress(part is null ? new StepProgress(key, fraction, detail)
            : new StepProgress(key, (part.Index + fraction) / part.Count, $"{part.Label} ({part.Index + 1}/{part.Count}): {detail}"));
    });

    /// <summary>
    /// Restates a divergence in the run's terms: the step of the experiment, the epoch and training
    /// step, what went wrong, and the run setting to change (the library message names the option).
    /// </summary>
    static T Diverging<T>(ModelJob job, Func<T> train)
    {
        try { return train(); }
        catch (TrainingDivergedException e)
        {
            double value = job.Training.LearningRate;
            throw new InvalidOperationException(
                $"{job.Title}: training diverged at epoch {e.Epoch}, step {e.Step}/{e.Steps}: {e.Detail} (learning rate {e.LearningRate:G4}). " +
                $"Lower the setting '{job.LrSetting}' (now {value:G4}), e.g. --set {job.LrSetting}={value / 10:G4}. " +
                (e.LastCheckpoint is null ? "No checkpoint of this training was written." : $"The last good checkpoint is kept in {e.LastCheckpoint}."), e);
        }
    }
}
