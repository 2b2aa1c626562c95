using Leakage.Native;
using Leakage.Randomness;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Leakage.Adversarial;
using Leakage.IO;
using Leakage.Models;
using Leakage.Probes;
using Leakage.Training;
using static TorchSharp.torch;

namespace Leakage.Experiment;

/// <summary>The leakage controls of a run and the compute time behind them.</summary>
public sealed record ControlsOutcome(ControlsResult Result, double Seconds);

/// <summary>
/// The leakage controls beside D_rand and D_det: how much of a relabelled set's transfer,
/// and of Goh's probe on it, needs the attack at all. On the controls' images
/// (<see cref="ExperimentRun.ControlImages"/>), for each of
/// <list type="bullet">
/// <item>D_rand and D_det themselves (taken from the main steps when the controls use every training image),</item>
/// <item>the leakage-only sets: no attack, each clean image plus a fixed pattern of its target class
/// (<see cref="LeakageOnlyDatasets"/>; <c>controls.leakageOnly</c> says whether images the standard model
/// already classifies as their target stay clean), with D_rand's targets and with D_det's, so that each
/// differs from its attacked set only in the perturbation,</item>
/// <item>D_rand and D_det restricted to their successful attacks (a view of the sets, no new attack),</item>
/// <item>D_other (<see cref="AdversarialKind.Other"/>, attacked by the same step as D_rand),</item>
/// </list>
/// it records how often the standard model classifies the images as their targets, the clean test
/// accuracy of a transfer model of the run's recipe trained on the set (<see cref="TransferStep.Job"/>,
/// cached in <c>controls/transfer_*</c>), and Goh's probe against its matched null with the leakage
/// step's statistics (<see cref="LeakageStatistics.Compare"/>: fresh target draws for the random rules, a
/// training bootstrap for D_det's; cached in <c>controls/probes/</c>). One typed table,
/// <see cref="ControlsResult"/>, goes to results.json under <c>controls</c>.
/// </summary>
public sealed class ControlsStep(ExperimentRun run)
{
    /// <summary>Key of the controls in results.json.</summary>
    public static string ResultsKey { get; } = RunResultsRecord.PathOf(nameof(RunResultsRecord.Controls));

    /// <summary>
    /// The fewest images a control needs for its transfer model and probe (two per class); a smaller set
    /// (a successful-only view of an attack that rarely succeeds) is recorded without them.
    /// </summary>
    public const int MinImages = 20;

    /// <summary>Folder of the controls' artifacts in the run folder.</summary>
    public const string Folder = "controls";

    /// <summary>Kind of the artifact in <c>controls/probes/metadata.json</c>.</summary>
    public const string ProbesArtifactKind = "control-probes";

    const string ProbesFolder = Folder + "/probes", ProbesFile = "probes.json";

    /// <summary>What each control is: its rule, whether attacked, its folders, and which set it is made from.</summary>
    sealed record Spec(ControlKind Kind, string Name, AdversarialKind Rule, bool Attacked, string Transfer, string? LeakageOnly = null);

    static readonly Spec[] Specs =
    [
        Whole(ControlKind.DRand, AdversarialSet.DRand),
        LeakageOnly(ControlKind.DRandLeakageOnly, AdversarialSet.DRand),
        Successful(ControlKind.DRandSuccessful, AdversarialSet.DRand),
        Whole(ControlKind.DOther, AdversarialSet.DOther),
        Whole(ControlKind.DDet, AdversarialSet.DDet),
        LeakageOnly(ControlKind.DDetLeakageOnly, AdversarialSet.DDet),
        Successful(ControlKind.DDetSuccessful, AdversarialSet.DDet),
    ];

    // A control's folders are named after its set's results key (transfer_drand, leakage_only_ddet, ...): cache identities, kept stable.
    static Spec Whole(ControlKind kind, AdversarialSet set) => new(kind, set.Name, set.Kind, true, $"transfer_{set.ResultsKey}");
    static Spec Successful(ControlKind kind, AdversarialSet set) =>
        new(kind, $"{set.Name}, successful attacks only", set.Kind, true, $"transfer_{set.ResultsKey}_successful");
    static Spec LeakageOnly(ControlKind kind, AdversarialSet set) =>
        new(kind, LeakageOnlyDataset.Name(set.Kind), set.Kind, false, $"transfer_{set.ResultsKey}_leakage_only", $"leakage_only_{set.ResultsKey}");

    /// <summary>
    /// A control measured but not yet probed: its size, success and transfer model's accuracies, and for the
    /// probe its rows among the controls' images, targets, features and fingerprint (owned); or the main
    /// steps' comparison.
    /// </summary>
    sealed record Measured(Spec Spec, long Images, double Success, double? TransferAccuracy, double? TransferTrainAccuracy, double Seconds,
        Tensor? Rows = null, Tensor? Targets = null, Tensor? Features = null, string? Fingerprint = null, ComparisonResult? FromMain = null,
        string? NotMeasured = null, long? KeptClean = null) : IDisposable
    {
        public void Dispose()
        {
            Rows?.Dispose();
            Targets?.Dispose();
            Features?.Dispose();
        }
    }

    ControlsOutcome? _outcome;

    /// <summary>Builds (or loads) the controls' sets, trains (or loads) their transfer models, probes them and records the table.</summary>
    /// <exception cref="InvalidOperationException">The controls are off (<c>controls.enabled</c>).</exception>
    /// <exception cref="InvalidDataException">D_other's images are not attacked copies of the controls' images.</exception>
    public ControlsOutcome Run(CancellationToken ct = default)
    {
        if (_outcome != null) return _outcome;
        if (!run.Settings.Controls.Enabled)
            throw new InvalidOperationException("The leakage controls are off: set controls.enabled=true (e.g. --set controls.enabled=true). " +
                "Each control trains one more transfer model; controls.trainCount limits the images they use.");
        var clock = Stopwatch.StartNew();
        var standard = run.StandardModel(ct).Model;
        // The attacked sets by target rule: the main steps' D_rand and D_det, and D_other on the controls' images.
        var attacked = AdversarialSet.All.ToDictionary(s => s.Kind, s => run.AdversarialSet(s.Kind, ct));
        foreach (var set in AdversarialSet.Paper) run.EnsureOriginals(attacked[set.Kind]);
        var images = run.ControlImages;
        EnsureOriginals(attacked[AdversarialKind.Other], images);
        var robust = run.RobustModel(ct);

        using var w = robust.Weights.detach().to(CPU);
        // The probe sees only the ten features per image: computed once per set; a set's images are released after its transfer model.
        using var fTest = LeakageProbe.Features(w, run.Test.Images);
        using var fClean = LeakageProbe.Features(w, images.Split.Images);
        var clean = Fingerprint.Of(images.Split.Images, images.Split.Labels);
        var patterns = new LeakageOnlyOptions { Construction = run.Settings.Controls.LeakageOnlyConstruction, Eps = run.Settings.Attack.Eps, Seed = run.Settings.Seed };
        int trainings = Specs.Count(s => !Reused(s, images)), part = 0;
        var measured = new List<Measured>();
        try
        {
            foreach (var spec in Specs)
            {
                ct.ThrowIfCancellationRequested();
                if (Reused(spec, images))
                {
                    measured.Add(FromMainSteps(spec, attacked[spec.Rule], ct));
                    continue;
                }
                using var set = Source(spec, attacked, standard, images, patterns);
                measured.Add(Measure(spec, new ProgressPart(part++, trainings + 1, spec.Name), set, w, clean, ct));
            }
            run.Observer.Progress(new StepProgress(StepCatalog.Controls.Key, (trainings + 0.5) / (trainings + 1), "probes against their matched nulls"));
            var cache = Probes(measured, w, fTest, fClean, images, clean, ct);
            var rows = measured.Select(m =>
            {
                var comparison = m.FromMain ?? cache.Probes.SingleOrDefault(p => p.Kind == m.Spec.Kind)?.Comparison;
                var row = new ControlRow(m.Spec.Kind, m.Spec.Name, ControlRow.RuleName(m.Spec.Rule), m.Spec.Attacked, m.Images, m.Success,
                    m.TransferAccuracy, m.TransferTrainAccuracy, comparison) { FromMainSteps = m.FromMain is not null, NotMeasured = m.NotMeasured, KeptClean = m.KeptClean };
                run.Observer.Log(comparison is null
                    ? $"Control {row.Set}: {row.NotMeasured}"
                    : $"Control {row.Set}: {row.Images:N0} images, {row.AttackSuccess:P1} classified as their target, transfer {row.TransferAccuracy:P2} " +
                      $"({row.TransferTrainAccuracy:P1} of its labels); probe {comparison.Accuracy:P2} against its null {comparison.NullAccuracy:P2}, excess {row.ExcessText} points, {row.Verdict}.");
                return row;
            }).ToList();
            var result = new ControlsResult(images.Count, run.Train.Count, run.Test.Count, patterns.Eps, LeakageOnlyDatasets.PatternName(patterns.Construction), rows);
            // Compute time: the transfer models' and the probes' as recorded when they were computed (cached ones keep their cost).
            double seconds = measured.Sum(m => m.Seconds) + cache.Seconds;
            run.Results.Set(ResultsKey, ResultsJson.Node(result));
            run.Results.SetSeconds(StepCatalog.Controls, seconds);
            run.Observer.Progress(new StepProgress(StepCatalog.Controls.Key, 1, $"{rows.Count} controls in {clock.Elapsed.TotalSeconds:N0} s"));
            return _outcome = new ControlsOutcome(result, seconds);
        }
        finally
        {
            foreach (var m in measured) m.Dispose();
        }
    }

    /// <summary>D_rand and D_det on every training image are the main steps' sets: their transfer and probe are read from those steps.</summary>
    static bool Reused(Spec spec, ControlImages images) => images.All && spec.Kind is ControlKind.DRand or ControlKind.DDet;

    Measured FromMainSteps(Spec spec, AdversarialDataset set, CancellationToken ct)
    {
        var transfer = run.TransferModel(spec.Rule, ct);
        var comparisons = run.Leakage(ct).Comparisons ?? throw new InvalidOperationException("The leakage step returned no comparisons with its nulls.");
        var probe = spec.Rule == AdversarialKind.Random ? comparisons.DRand : comparisons.DDet;
        return new Measured(spec, set.Count, set.SuccessRate, transfer.CleanTestAccuracy, transfer.TrainAccuracy, 0, FromMain: ComparisonResult.Of(probe));
    }

    /// <summary>A control's images, targets and success flags, and its rows among the controls' images; disposes what it made.</summary>
    sealed class Set(Tensor images, Tensor targets, Tensor rows, Tensor success, params IDisposable[] owned) : IDisposable
    {
        /// <summary>A leakage-only set's images left without a pattern; null for the other controls.</summary>
        public long? KeptClean { get; init; }
        public Tensor Images => images;
        public Tensor Targets => targets;
        public Tensor Rows => rows;
        public Tensor Success => success;
        public void Dispose() { foreach (var o in owned) o.Dispose(); }
    }

    Set Source(Spec spec, IReadOnlyDictionary<AdversarialKind, AdversarialDataset> attacked, nn.Module<Tensor, Tensor> standard,
        ControlImages images, LeakageOnlyOptions patterns)
    {
        switch (spec.Kind)
        {
            case ControlKind.DOther:
            {
                var dother = attacked[AdversarialKind.Other];
                var all = Scalars.Arange(images.Count);
                return new Set(dother.Images, dother.Targets, all, dother.Success, all);
            }
            case ControlKind.DRandLeakageOnly or ControlKind.DDetLeakageOnly:
            {
                // The attacked set's own targets on these images: the two sets differ only in the perturbation.
                using var targets = attacked[spec.Rule].Targets.index_select(0, images.Rows);
                var set = LeakageOnlyDatasets.Build(spec.Rule, standard, images.Split.Images, images.Split.Labels, targets,
                    patterns, run.Folder(Path.Combine(Folder, spec.LeakageOnly!)), run.Device, run.Observer.Log);
                var all = Scalars.Arange(images.Count);
                return new Set(set.Images, set.Targets, all, set.Success, all, set) { KeptClean = set.KeptClean };
            }
            default:
            {
                var source = attacked[spec.Rule];
                // Rows of the training split; their places among the controls' images follow from the sorted rows.
                using var trainRows = spec.Kind is ControlKind.DRandSuccessful or ControlKind.DDetSuccessful
                    ? source.SuccessfulRows(images.Rows) : images.Rows.clone();
                var rows = searchsorted(images.Rows, trainRows);
                var x = source.Images.index_select(0, trainRows);
                var t = source.Targets.index_select(0, trainRows);
                var ok = source.Success.index_select(0, trainRows);
                return new Set(x, t, rows, ok, x, t, ok, rows);
            }
        }
    }

    Measured Measure(Spec spec, ProgressPart part, Set set, Tensor w, string clean, CancellationToken ct)
    {
        long n = set.Images.shape[0];
        double success;
        using (var ok = set.Success.to_type(ScalarType.Float64)) success = n == 0 ? 1 : ok.mean().item<double>();
        if (n < MinImages)
            return new Measured(spec, n, success, null, null, 0, KeptClean: set.KeptClean, NotMeasured: $"{n:N0} image(s), fewer than the {MinImages} a transfer model and the probe need; " +
                "raise controls.trainCount (or the attack's strength, for the successful-only views).");
        var fingerprint = Fingerprint.Of(set.Images, set.Targets);
        var job = TransferStep.Job(run.Settings, spec.Rule, $"{Folder}/{spec.Transfer}", $"Transfer model on {spec.Name}", clean, fingerprint, StepCatalog.Controls.Key) with { Part = part };
        var trained = ModelCache.TrainOrLoad(run, job, set.Images, set.Targets, ct);
        double test, train;
        using (trained.Model)
        {
            test = Evaluation.Accuracy(trained.Model, run.Test.Images, run.Test.Labels, run.Device);
            train = Evaluation.Accuracy(trained.Model, set.Images, set.Targets, run.Device);
        }
        return new Measured(spec, n, success, test, train, trained.Seconds, set.Rows.clone(), set.Targets.clone(), LeakageProbe.Features(w, set.Images), fingerprint,
            KeptClean: set.KeptClean);
    }

    /// <summary>
    /// Each measured control's probe against its matched null, fitted as one cached unit
    /// (<c>controls/probes/</c>: valid for the probe settings, seed, attack, data, C's features and every
    /// control's images and targets).
    /// </summary>
    ControlProbesCache Probes(IReadOnlyList<Measured> measured, Tensor w, Tensor fTest, Tensor fClean, ControlImages images, string clean, CancellationToken ct)
    {
        var todo = measured.Where(m => m.FromMain is null && m.NotMeasured is null).ToList();
        if (todo.Count == 0) return new ControlProbesCache([], 0);
        var dir = run.Folder(ProbesFolder);
        var sets = new JsonObject();
        foreach (var m in todo) sets[m.Spec.Kind.ToString()] = m.Fingerprint;
        var identity = new JsonObject
        {
            ["probe"] = Artifacts.ToNode(run.Settings.Probe),
            ["seed"] = run.Settings.Seed,
            ["attack"] = Artifacts.ToNode(run.AttackOptions()),
            ["data"] = run.DataIdentity,
            ["controlImages"] = clean,
            ["robustFeatures"] = Fingerprint.Of(w),
            ["sets"] = sets,
            ["statistics"] = LeakageStep.StatisticsVersion,
        };
        return Leakage.Experiment.Scaling.TrainingUnits.Run(run, ProbesFolder, LoadOrFit, c => c.Seconds, ct);

        ControlProbesCache LoadOrFit()
        {
            var path = Path.Combine(dir, ProbesFile);
            if (Artifacts.TryValidate(dir, ProbesArtifactKind, identity, out var reason))
            {
                run.Observer.Log($"Control probes: reusing {dir}.");
                return JsonSerializer.Deserialize(File.ReadAllText(path), ResultsJsonContext.Default.ControlProbesCache)
                    ?? throw new InvalidDataException($"{path}: empty.");
            }
            run.Observer.Log($"Control probes: fitting ({reason}).");
            var clock = Stopwatch.StartNew();
            var probes = new List<ControlProbe>();
            foreach (var m in todo)
            {
                ct.ThrowIfCancellationRequested();
                var c = Compare(m, fTest, fClean, images);
                run.Observer.Log($"Control against the null: {c}");
                run.WarnUnconverged(c.Probe);
                run.WarnUnconverged(c.Null);
                probes.Add(new ControlProbe(m.Spec.Kind, ComparisonResult.Of(c)));
            }
            var fitted = new ControlProbesCache(probes, clock.Elapsed.TotalSeconds);
            Directory.CreateDirectory(dir);
            AtomicFile.WriteAllText(path, JsonSerializer.Serialize(fitted, ResultsJsonContext.Default.ControlProbesCache));
            Artifacts.Commit(dir, ProbesArtifactKind, identity, [ProbesFile]);
            return fitted;
        }
    }

    /// <summary>
    /// Goh's probe on a control against its matched null, with the leakage step's statistics: for a
    /// random target rule, the null refitted on <c>probe.nullDraws</c> fresh draws of the rule and the
    /// probe on the same draws emulated (each image moved by the recorded shift of an image of its class
    /// with that target, <see cref="LeakageStatistics.Donors"/>); for all, the training bootstrap within
    /// classes; the wider of the two gives the excess's uncertainty.
    /// </summary>
    LeakageComparison Compare(Measured m, Tensor fTest, Tensor fClean, ControlImages images)
    {
        using var scope = NewDisposeScope();
        var p = run.Settings.Probe;
        var probe = run.Probe();
        var testY = run.Test.Labels;
        var rows = m.Rows!;
        var labels = images.Split.Labels.index_select(0, rows);
        var clean = fClean.index_select(0, rows);
        var classOf = labels.data<long>().Select(c => (int)c).ToArray();
        NullDraws? draws = null;
        Func<int, (Tensor, Tensor)>? fresh = null;
        if (m.Spec.Rule != AdversarialKind.Deterministic)
        {
            var options = run.AttackOptions();
            long seed = run.Settings.Seed, kind = (long)m.Spec.Kind;
            var drawn = Enumerable.Range(0, p.NullDraws).Select(d =>
                AdversarialSet.Of(m.Spec.Rule).DrawTargets(labels, options with { Seed = unchecked((long)Seeds.Derive(seed, 17, kind, d)) }, 0)).ToList();
            draws = LeakageStatistics.OverDraws(probe, drawn.Count, d => (clean, drawn[d]), fTest, testY);
            var recorded = m.Targets!.data<long>().ToArray();
            var donors = drawn.Select((t, d) => LeakageStatistics.Donors(classOf, recorded, t.data<long>().ToArray(), probe.Options.Classes,
                new Random(unchecked((int)Seeds.Derive(seed, 18, kind, d))))).ToList();
            var attacked = m.Features!;
            fresh = d => (LeakageStatistics.Emulate(attacked, clean, donors[d]), drawn[d]);
        }
        var comparison = LeakageStatistics.Compare(probe, $"{m.Spec.Name}, robust features", $"clean images with the labels of {m.Spec.Name}",
            m.Features!, clean, m.Targets!, fTest, testY, classOf, p.TrainingResamples, draws, fresh);
        return comparison with { Shift = LeakageStatistics.Shift(m.Features!, clean, labels, m.Targets!, fClean, probe.Options.Level) };
    }

    /// <summary>Checks that D_other holds attacked copies of the controls' images, in order.</summary>
    static void EnsureOriginals(AdversarialDataset set, ControlImages images)
    {
        if (set.Count != images.Count)
            throw new InvalidDataException($"{set.Directory}: {set.Count} images but the controls use {images.Count} (controls.trainCount), so its images are not attacked copies of them.");
        using var same = set.Labels.eq(images.Split.Labels).all();
        if (!same.item<bool>())
            throw new InvalidDataException($"{set.Directory}: its original labels differ from the controls' images, so its images are not attacked copies of them.");
    }
}
