using System.Text.Json.Nodes;
using Leakage.IO;
using Leakage.Training;
using static TorchSharp.torch;

namespace Leakage.Experiment;

/// <summary>The standard classifier of step 1 and how well it does.</summary>
public sealed record StandardModelOutcome(nn.Module<Tensor, Tensor> Model, double TestAccuracy, double TrainAccuracy, IReadOnlyList<EpochSummary> History, double Seconds, bool Cached);

/// <summary>Step 1: the standard (non-robust) classifier, cached in <c>standard/</c>.</summary>
public sealed class StandardStep(ExperimentRun run) : IDisposable
{
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
        Augmentation = settings.Standard.Augment ? Augmentation.CropFlip : Augmentation.None,
        Seed = settings.Seed,
    };

    /// <summary>Trains (or loads) the standard classifier and measures it.</summary>
    public StandardModelOutcome Run(CancellationToken ct = default)
    {
        if (_outcome != null) return _outcome;
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

    public void Dispose() => _outcome?.Model.Dispose();
}
