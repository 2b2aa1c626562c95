using System.Diagnostics;
using System.Text.Json.Nodes;
using Leakage.Checkpoints;
using Leakage.IO;
using Leakage.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Experiment;

/// <summary>The standard classifier of step 1 and how well it does.</summary>
public sealed record StandardModelOutcome(nn.Module<Tensor, Tensor> Model, double TestAccuracy, double TrainAccuracy, IReadOnlyList<EpochSummary> History, double Seconds, bool Cached)
{
    /// <summary>The checkpoint it was read from (<c>standard.checkpoint</c>); null when it was trained.</summary>
    public CheckpointInfo? Checkpoint { get; init; }
}

/// <summary>
/// Step 1: the standard (non-robust) classifier, cached in <c>standard/</c>: trained, or read from
/// <c>standard.checkpoint</c> (then <c>standard/metadata.json</c> records the checkpoint's SHA-256,
/// layout and normalisation with the accuracies measured on it, so a changed file is measured again).
/// </summary>
public sealed class StandardStep(ExperimentRun run, ImportedModel? imported = null) : IDisposable
{
    /// <summary>Artifact kind of <c>standard/metadata.json</c> for a model read from a checkpoint.</summary>
    public const string ImportedKind = "imported-model";

    StandardModelOutcome? _outcome;

    /// <summary>The training recipe of the standard model that <paramref name="settings"/> describe (also used by <c>bench</c>).</summary>
    public static TrainingOptions Options(ExperimentSettings settings) => new()
    {
        Epochs = settings.Standard.Epochs,
        BatchSize = settings.Standard.BatchSize,
        LearningRate = settings.Standard.Lr,
        Momentum = settings.Standard.Momentum,
        WeightDecay = settings.Standard.WeightDecay,
        Schedule = settings.Standard.LrSchedule,
        Augmentation = Augmenting(settings, settings.Standard.Augment),
        CropPadding = settings.Standard.CropPadding,
        NormLrScale = settings.Standard.NormLrScale > 0 ? settings.Standard.NormLrScale : null,
        LabelSmoothing = settings.Standard.LabelSmoothing > 0 ? settings.Standard.LabelSmoothing : null,
        LookaheadEvery = settings.Standard.Lookahead > 0 ? settings.Standard.Lookahead : null,
        Seed = settings.Seed,
    };

    /// <summary>The augmentation of a recipe that augments when <paramref name="on"/>: crop and flip, alternating when <c>standard.alternatingFlip</c>.</summary>
    public static Augmentation Augmenting(ExperimentSettings settings, bool on) =>
        !on ? Augmentation.None : settings.Standard.AlternatingFlip ? Augmentation.CropAlternatingFlip : Augmentation.CropFlip;

    /// <summary>Trains (or loads, or reads from the checkpoint) the standard classifier and measures it.</summary>
    public StandardModelOutcome Run(CancellationToken ct = default)
    {
        if (_outcome != null) return _outcome;
        if (imported != null) return _outcome = Imported(imported);
        var s = run.Settings.Standard;
        var options = Options(run.Settings);
        var identity = new JsonObject { ["training"] = Artifacts.ToNode(options), ["data"] = run.DataIdentity };
        var job = new ModelJob("standard", "Standard model", "training", options, identity, StepCatalog.Standard.Key, "standard.lr");
        var (model, history, seconds, cached) = ModelCache.TrainOrLoad(run, job, run.Train.Images, run.Train.Labels, ct);
        double test = Evaluation.Accuracy(model, run.Test.Images, run.Test.Labels, run.Device);
        double train = Evaluation.Accuracy(model, run.Train.Images, run.Train.Labels, run.Device);
        run.Observer.Log($"Standard model: {test:P2} clean test accuracy ({train:P2} on its training data).");
        run.Results.Set(StepCatalog.Standard.ResultsKey, ResultsJson.Node(new StandardModelResult(s.Arch, s.Width, test, train, history.Count)));
        run.Results.SetSeconds(StepCatalog.Standard, seconds);
        return _outcome = new StandardModelOutcome(model, test, train, history, seconds, cached);
    }

    /// <summary>The checkpoint's model on the run's device, with its accuracies (measured, or recorded for the same file and data).</summary>
    StandardModelOutcome Imported(ImportedModel m)
    {
        var info = m.Info;
        var model = m.Model;
        if (run.Device.type != DeviceType.CPU) model.to(run.Device);
        model.eval();
        var dir = run.Folder("standard");
        var identity = new JsonObject { ["checkpoint"] = info.Identity(), ["data"] = run.DataIdentity };
        double test, train, seconds;
        var extra = Artifacts.TryValidate(dir, ImportedKind, identity, out var reason) ? Artifacts.ReadExtra(dir) : null;
        bool cached = extra?["testAccuracy"] is not null && extra["trainAccuracy"] is not null;
        if (cached)
        {
            (test, train, seconds) = ((double)extra!["testAccuracy"]!, (double)extra["trainAccuracy"]!, (double?)extra["seconds"] ?? 0);
            run.Observer.Log($"Standard model: {info.Arch} (width {info.Width}) from {info.Path} ({info.Layout}, sha256 {info.Sha256[..12]}); reusing its accuracies in {dir}.");
        }
        else
        {
            run.Observer.Log($"Standard model: {info.Arch} (width {info.Width}, {info.Parameters:N0} parameters) from {info.Path} ({info.Layout}, sha256 {info.Sha256[..12]}, "
                + $"normalisation from the {info.Normalization}); measuring it ({reason}).");
            var clock = Stopwatch.StartNew();
            test = Evaluation.Accuracy(model, run.Test.Images, run.Test.Labels, run.Device);
            train = Evaluation.Accuracy(model, run.Train.Images, run.Train.Labels, run.Device);
            seconds = clock.Elapsed.TotalSeconds;
            Directory.CreateDirectory(dir);
            Artifacts.Commit(dir, ImportedKind, identity, [], new JsonObject
            {
                ["path"] = info.Path,
                ["bytes"] = info.Bytes,
                ["parameters"] = info.Parameters,
                ["testAccuracy"] = test,
                ["trainAccuracy"] = train,
                ["seconds"] = seconds,
            });
        }
        run.Observer.Log($"Standard model: {test:P2} clean test accuracy ({train:P2} on the training data in use).");
        run.Results.Set(StepCatalog.Standard.ResultsKey, ResultsJson.Node(new StandardModelResult(info.Arch, info.Width, test, train, 0)
        {
            Checkpoint = CheckpointResult.Of(info, run.OutDirectory),
        }));
        run.Results.SetSeconds(StepCatalog.Standard, seconds);
        return new StandardModelOutcome(model, test, train, [], seconds, cached) { Checkpoint = info };
    }

    public void Dispose() => (_outcome?.Model ?? imported?.Model)?.Dispose();
}
