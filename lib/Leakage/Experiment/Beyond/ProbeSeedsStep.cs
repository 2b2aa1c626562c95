using System.Diagnostics;
using Leakage.Adversarial;
using Leakage.Probes;
using Leakage.Robust;
using static TorchSharp.torch;

namespace Leakage.Experiment;

/// <summary>Leakage over several seeds of the robust classifier C (and of the probe's bootstrap).</summary>
public sealed record ProbeSeedStudy(IReadOnlyList<int> Seeds, IReadOnlyList<double> DRand, IReadOnlyList<double> DDet)
{
    /// <inheritdoc cref="SampleStatistics.Mean"/>
    public static double Mean(IReadOnlyList<double> v) => SampleStatistics.Mean(v);
    /// <inheritdoc cref="SampleStatistics.Sd"/>
    public static double Sd(IReadOnlyList<double> v) => SampleStatistics.Sd(v);
}

/// <summary>
/// Extension <c>beyond.probeSeeds</c>: the probe over <c>beyond.seeds</c> seeds of C (each trained and
/// cached under <c>seeds/robust-linear-s/</c>) with the mean and standard deviation of the leakage on
/// D_rand and D_det: how much of a leakage figure is the robust classifier's own randomness.
/// </summary>
public sealed class ProbeSeedsStep(ExperimentRun run)
{
    /// <summary>The cache folder of C with seed <paramref name="seed"/>, relative to the run folder.</summary>
    public static string Folder(int seed) => Path.Combine("seeds", $"robust-linear-{seed}");

    /// <summary>The training runs of this step in seed order (folder, recipe): C with each seed; each is a training unit.</summary>
    public static IReadOnlyList<(string Folder, RobustLinearOptions Options)> Trainings(ExperimentSettings settings) =>
        [.. Enumerable.Range(0, Math.Max(1, settings.Beyond.Seeds)).Select(i => checked(settings.IntSeed + i))
            .Select(seed => (Folder(seed), RobustStep.Options(settings, seed: seed)))];

    /// <summary>Trains (or loads) C for each seed and probes with it.</summary>
    public ProbeSeedStudy Run(CancellationToken ct = default)
    {
        var trainings = Trainings(run.Settings);
        int k = trainings.Count;
        var drand = run.AdversarialSet(AdversarialKind.Random, ct);
        var ddet = run.AdversarialSet(AdversarialKind.Deterministic, ct);
        var (train, test) = (run.Train, run.Test);
        var clock = Stopwatch.StartNew();
        int first = run.Settings.IntSeed;
        var seeds = trainings.Select(t => t.Options.Seed).ToList();
        var rand = new List<double>();
        var det = new List<double>();
        var randExcess = new List<double>();
        var detExcess = new List<double>();
        foreach (var (folder, options) in trainings)
        {
            ct.ThrowIfCancellationRequested();
            int seed = options.Seed;
            using var trained = RobustStep.TrainOrLoad(run, folder, options, null, ct);
            using var w = trained.Model.weight.detach().to(CPU);
            var probe = run.Probe(seed - first);
            using var scope = NewDisposeScope();
            var fTest = LeakageProbe.Features(w, test.Images);
            var fClean = LeakageProbe.Features(w, train.Images);
            // Each seed's probes against their matched nulls (clean originals, same labels); the target draw is the run's one.
            foreach (var (name, images, labels, acc, excess) in new[] { ("D_rand", drand.Images, drand.Targets, rand, randExcess), ("D_det", ddet.Images, ddet.Targets, det, detExcess) })
            {
                var attacked = probe.RunOnFeatures(name, LeakageProbe.Features(w, images), labels, fTest, test.Labels);
                var baseline = probe.RunOnFeatures($"clean images, {name} labels", fClean, labels, fTest, test.Labels);
                run.WarnUnconverged(attacked); run.WarnUnconverged(baseline);
                acc.Add(attacked.Accuracy);
                excess.Add(attacked.Accuracy - baseline.Accuracy);
            }
            run.Observer.Progress(new StepProgress(StepCatalog.ProbeSeeds.Key, (double)rand.Count / k, $"seed {seed}: D_rand {rand[^1]:P2}, D_det {det[^1]:P2}"));
        }
        run.Results.Set(StepCatalog.ProbeSeeds.ResultsKey, ResultsJson.Node(new ProbeSeedsResult(seeds,
            SpreadResult.Of(rand), SpreadResult.Of(det), SpreadResult.Of(randExcess), SpreadResult.Of(detExcess))));
        run.Results.SetSeconds(StepCatalog.ProbeSeeds, clock.Elapsed.TotalSeconds);
        return new ProbeSeedStudy(seeds, rand, det);
    }
}
