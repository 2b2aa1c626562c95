using System.Text.Json.Nodes;
using Leakage.Adversarial;
using Leakage.IO;
using Leakage.Models;
using Leakage.Training;
using static TorchSharp.torch;

namespace Leakage.Experiment;

/// <summary>A model trained on D_rand or D_det and its clean test accuracy (Ilyas Table 1).</summary>
public sealed record TransferOutcome(AdversarialKind Kind, nn.Module<Tensor, Tensor> Model, double CleanTestAccuracy, double TrainAccuracy, IReadOnlyList<EpochSummary> History, double Seconds, bool Cached);

/// <summary>
/// Ilyas et al.'s Table 1: a fresh model of the run's architecture trained on D_rand or D_det (with
/// their target labels) and tested on the clean test set; cached in <c>transfer_rand/</c> or <c>transfer_det/</c>.
/// </summary>
public sealed class TransferStep(ExperimentRun run, AdversarialKind kind) : IDisposable
{
    TransferOutcome? _outcome;

    /// <summary>Its entry of the <see cref="StepCatalog"/>.</summary>
    public StepInfo Info => kind switch
    {
        AdversarialKind.Random => StepCatalog.TransferRand,
        AdversarialKind.Deterministic => StepCatalog.TransferDet,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Table 1's transfer step covers D_rand and D_det; the controls train D_other's model (ControlsStep)."),
    };

    /// <summary>Artifact folder of the model trained on <paramref name="kind"/>.</summary>
    public static string Folder(AdversarialKind kind) => kind switch
    {
        AdversarialKind.Random => "transfer_rand",
        AdversarialKind.Deterministic => "transfer_det",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Table 1's transfer step covers D_rand and D_det."),
    };

    /// <summary>
    /// The recipe for a set made by the target rule of <paramref name="kind"/>: the standard recipe with
    /// <c>transfer.*</c>'s epochs, batch size, learning rate (<c>lrRand</c> for the random rules of D_rand
    /// and D_other, <c>lrDet</c> for D_det's) and augmentation, and seed + 1.
    /// </summary>
    public static TrainingOptions Options(ExperimentSettings settings, AdversarialKind kind)
    {
        var t = settings.Transfer;
        return StandardStep.Options(settings) with
        {
            Epochs = t.Epochs,
            BatchSize = t.BatchSize,
            LearningRate = kind == AdversarialKind.Deterministic ? t.LrDet : t.LrRand,
            Augmentation = StandardStep.Augmenting(settings, t.Augment),
            Seed = settings.Seed + 1,
        };
    }

    /// <summary>The setting behind <see cref="Options"/>'s learning rate for <paramref name="kind"/>'s target rule.</summary>
    public static string LrSetting(AdversarialKind kind) => kind == AdversarialKind.Deterministic ? "transfer.lrDet" : "transfer.lrRand";

    /// <summary>
    /// A transfer model of the run's recipe (<see cref="Options"/> for <paramref name="rule"/>, <c>transfer.arch</c>
    /// and <c>transfer.width</c>) trained on a relabelled set, cached in <paramref name="folder"/>: valid for the
    /// recipe, the clean data it was made from (<paramref name="data"/>) and the set's images and labels
    /// (<paramref name="set"/>, their fingerprint).
    /// </summary>
    public static ModelJob Job(ExperimentSettings settings, AdversarialKind rule, string folder, string title, string? data, string set, string progressKey)
    {
        var training = Options(settings, rule);
        var identity = new JsonObject { ["training"] = Artifacts.ToNode(training), ["data"] = data, ["adversarial"] = set };
        return new ModelJob(folder, title, "training", training, identity, progressKey, LrSetting(rule))
        {
            Arch = settings.Transfer.Arch,
            Width = TransferWidth(settings),
        };
    }

    /// <summary>The transfer models' width: <c>transfer.width</c>, or the architecture's default, when <c>transfer.arch</c> is set; else null (the standard model's).</summary>
    public static int? TransferWidth(ExperimentSettings settings) =>
        settings.Transfer.Arch is not { } arch ? null : settings.Transfer.Width > 0 ? settings.Transfer.Width : Models.ModelFactory.DefaultWidth(arch);

    /// <summary>The network the transfer models train: <c>transfer.arch</c> and its width, else the standard model's.</summary>
    public static (string Arch, int Width) Network(ExperimentSettings settings) =>
        (settings.Transfer.Arch ?? settings.Standard.Arch, TransferWidth(settings) ?? settings.Standard.Width);

    /// <summary>Trains (or loads) the model on the set and tests it on clean data.</summary>
    public TransferOutcome Run(CancellationToken ct = default)
    {
        if (_outcome != null) return _outcome;
        var data = run.AdversarialSet(kind, ct);
        var name = AdversarialSet.Of(kind).Name;
        var job = Job(run.Settings, kind, Folder(kind), $"Transfer model on {name}", (string?)data.Settings["data"], Fingerprint.Of(data.Images, data.Targets), Info.Key);
        var training = job.Training;
        var (model, history, seconds, cached) = ModelCache.TrainOrLoad(run, job, data.Images, data.Targets, ct);
        double test = Evaluation.Accuracy(model, run.Test.Images, run.Test.Labels, run.Device);
        double train = Evaluation.Accuracy(model, data.Images, data.Targets, run.Device);
        run.Observer.Log($"Transfer model on {name}: {test:P2} clean test accuracy ({train:P2} of its relabelled training set).");
        run.Results.Set(Info.ResultsKey, test);
        run.Results.Set(RunResultsRecord.PathOf(nameof(RunResultsRecord.TransferDetails), AdversarialSet.Of(kind).ResultsKey),
            ResultsJson.Node(new TransferDetails(train, training.LearningRate, training.Epochs, run.Settings.Transfer.Augment)));
        run.Results.SetSeconds(Info, seconds);
        return _outcome = new TransferOutcome(kind, model, test, train, history, seconds, cached);
    }

    public void Dispose() => _outcome?.Model.Dispose();
}
