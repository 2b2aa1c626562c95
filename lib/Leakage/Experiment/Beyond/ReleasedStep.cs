using System.Diagnostics;
using Leakage.Probes;
using Leakage.Released;
using static TorchSharp.torch;

namespace Leakage.Experiment;

/// <summary>The probe on one of Ilyas et al.'s released data sets.</summary>
public sealed record ReleasedProbe(string Folder, ReleasedDatasetKind? Kind, long Images, ProbeEntry Entry);

/// <summary>
/// Extension <c>beyond.released</c>: the leakage probe on Ilyas et al.'s released data sets
/// (<c>beyond.releasedData</c>): the same robust features C, trained on each released set with its
/// labels, scored on our clean test set.
/// </summary>
public sealed class ReleasedStep(ExperimentRun run)
{
    /// <summary>Probes every released set found under <c>beyond.releasedData</c>.</summary>
    public IReadOnlyList<ReleasedProbe> Run(CancellationToken ct = default)
    {
        var root = run.Settings.Beyond.ReleasedData ?? throw new InvalidOperationException("Set beyond.releasedData (or --released DIR) to the folder where datasets.tar was extracted.");
        var folders = ReleasedDatasets.Discover(root);
        if (folders.Count == 0)
            throw new DirectoryNotFoundException($"{root}: none of the released data sets (release_datasets/{{d_robust_CIFAR, d_non_robust_CIFAR, drand_CIFAR, ddet_CIFAR}}/CIFAR_ims, CIFAR_lab) was found.");
        var robust = run.RobustModel(ct);
        using var w = robust.Weights.detach().to(CPU);
        var probe = run.Probe();
        var clock = Stopwatch.StartNew();
        var results = new List<ReleasedProbe>();
        foreach (var f in folders)
        {
            ct.ThrowIfCancellationRequested();
            using var data = ReleasedDatasets.Load(f.Path);
            var entry = probe.Run($"released {f.Name}, robust features", w, data.Images, data.Labels, run.Test.Images, run.Test.Labels);
            run.Observer.Log($"Released data: {entry}");
            run.WarnUnconverged(entry);
            results.Add(new ReleasedProbe(f.Path, f.Kind, data.Count, entry));
        }
        // One entry per set found, named by its kind (or folder); the folder they came from is settings.beyond.releasedData.
        run.Results.Set(StepCatalog.Released.ResultsKey,
            ResultsJson.Node(results.Select(r => new ReleasedSetResult(r.Kind?.ToString() ?? Path.GetFileName(r.Folder), EntryResult.Of(r.Entry))).ToArray()));
        run.Results.SetSeconds(StepCatalog.Released, clock.Elapsed.TotalSeconds);
        return results;
    }
}
