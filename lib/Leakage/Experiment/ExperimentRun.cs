using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Leakage.Adversarial;
using Leakage.Compute;
using Leakage.Data;
using Leakage.IO;
using Leakage.Models;
using Leakage.Probes;
using Leakage.Robust;
using Leakage.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Experiment;

/// <summary>The standard classifier of step 1 and how well it does.</summary>
public sealed record StandardModelOutcome(nn.Module<Tensor, Tensor> Model, double TestAccuracy, double TrainAccuracy, IReadOnlyList<EpochSummary> History, double Seconds, bool Cached);

/// <summary>A model trained on D_rand or D_det and its clean test accuracy (Ilyas Table 1).</summary>
public sealed record TransferOutcome(AdversarialKind Kind, nn.Module<Tensor, Tensor> Model, double CleanTestAccuracy, double TrainAccuracy, IReadOnlyList<EpochSummary> History, double Seconds, bool Cached);

/// <summary>The robust linear classifier C and its exact certificates in both radius units.</summary>
public sealed record RobustOutcome(RobustLinearResult Training, CertificateReport Certificates, RadiusUnits Units, double Seconds)
{
    /// <summary>C's weights, 10 x 3072: the robust feature directions w_i.</summary>
    public Tensor Weights => Training.Model.weight;
    /// <summary>Certificates in the configured units.</summary>
    public UnitCertificate Primary => Certificates[Units];
    /// <summary>Certificates in the other units.</summary>
    public UnitCertificate Other => Certificates[Units == RadiusUnits.Pixel ? RadiusUnits.Normalised : RadiusUnits.Pixel];
}

/// <summary>The leakage probe results (Goh) and their controls (the matched nulls last).</summary>
public sealed record LeakageOutcome(ProbeEntry DRand, ProbeEntry DDet, IReadOnlyList<ProbeEntry> Controls, double Seconds)
{
    /// <summary>Each probe against its matched null: excess, intervals, McNemar test, null over target draws.</summary>
    public LeakageComparisons? Comparisons { get; init; }
}

/// <summary>The three leakage probes, each against its matched null.</summary>
public sealed record LeakageComparisons(LeakageComparison DRand, LeakageComparison DDet, LeakageComparison DRandTargetNotLabel)
{
    /// <summary>The three in order.</summary>
    public IReadOnlyList<LeakageComparison> All => [DRand, DDet, DRandTargetNotLabel];
}

/// <summary>
/// One run of the experiment in an output folder. Each step computes its artifact or loads it from
/// the folder when it was made with the same settings and inputs (checked through its
/// <c>metadata.json</c>; a mismatch is logged and the step recomputed), records its numbers in
/// <c>results.json</c> as soon as it finishes, and returns objects the notebooks can display.
/// Long steps resume after an interruption (epoch checkpoints, attack chunks).
/// <para>Layout: <c>standard/</c>, <c>d_rand/</c>, <c>d_det/</c>, <c>transfer_rand/</c>,
/// <c>transfer_det/</c>, <c>robust_linear/</c>, <c>checkpoints/</c>, <c>results.json</c>.</para>
/// </summary>
public sealed partial class ExperimentRun : IDisposable
{
    public ExperimentSettings Settings { get; }
    public string OutDirectory { get; }
    public string DataDirectory { get; }
    public Device Device { get; }
    public ResultsFile Results { get; }
    public IRunObserver Observer { get; }

    CifarData? _data;
    CifarSplit? _train, _test;
    string? _dataIdentity;
    StandardModelOutcome? _standard;
    readonly Dictionary<AdversarialKind, AdversarialDataset> _adversarial = [];
    readonly Dictionary<AdversarialKind, TransferOutcome> _transfer = [];
    RobustOutcome? _robust;

    ExperimentRun(ExperimentSettings settings, string dataDir, string outDir, IRunObserver observer)
    {
        Settings = settings;
        DataDirectory = dataDir;
        OutDirectory = Path.GetFullPath(outDir);
        Observer = observer;
        Devices.SetThreads(settings.Threads);
        Device = Devices.Select(settings.Device);
        Directory.CreateDirectory(OutDirectory);
        Results = new ResultsFile(OutDirectory);
    }

    /// <summary>
    /// Opens (or creates) the run folder. Settings are validated first; when <c>results.json</c>
    /// holds other settings, or is damaged, it is started over (artifacts are still reused step by
    /// step where their own settings match). The extension settings (<c>beyond.*</c>) are the
    /// exception: they only add results, so a change of them keeps the results of the main steps
    /// (see <see cref="BeyondResults"/>). Temporary files left by an interrupted run are removed.
    /// </summary>
    public static ExperimentRun Open(ExperimentSettings settings, string dataDirectory, string outDirectory, IRunObserver? observer = null)
    {
        SettingsOverrides.Validate(settings);
        var run = new ExperimentRun(settings, dataDirectory, outDirectory, observer ?? RunObserver.Silent);
        JsonObject existing;
        try { existing = run.Results.Read(); }
        catch (InvalidDataException e)
        {
            // results.json only collects numbers of cached steps: a damaged one is rebuilt, not trusted.
            run.Observer.Log($"{run.Results.Path} is damaged ({e.InnerException?.Message ?? e.Message}); it starts over (cached steps are reused).");
            existing = [];
        }
        var wanted = Artifacts.ToNode(settings);
        // The extensions (beyond.*) are not part of the identity: see BeyondResults.
        var diff = existing.Count == 0 ? null : Artifacts.Diff(BeyondResults.Identity(existing["settings"]), BeyondResults.Identity(wanted), "");
        if (existing.Count == 0 || diff != null)
        {
            if (diff != null) run.Observer.Log($"Settings differ from the previous run in {run.OutDirectory} ({diff}); results.json starts over.");
            AtomicFile.WriteAllText(run.Results.Path, new JsonObject
            {
                ["profile"] = settings.Profile,
                ["settings"] = wanted.DeepClone(),
            }.ToJsonString(Artifacts.Json));
        }
        else
        {
            IReadOnlyList<string> removed = [];
            run.Results.Update(root =>
            {
                var before = root.ToJsonString();
                removed = BeyondResults.Reconcile(root, settings);
                return root.ToJsonString() != before;
            });
            foreach (var line in removed) run.Observer.Log(line);
        }
        foreach (var orphan in AtomicFile.RemoveOrphans(run.OutDirectory))
            run.Observer.Log($"Removed {orphan}: a partial write of an interrupted run.");
        run.Observer.Log($"Run folder {run.OutDirectory}; {Devices.Describe(run.Device)}.");
        return run;
    }

    // ---------------------------------------------------------------- data

    /// <summary>The whole data set as loaded from <see cref="DataDirectory"/> (format, source, both full splits).</summary>
    public CifarData Data { get { LoadData(); return _data!; } }
    /// <summary>The training split used (a class-stratified subset when data.trainCount is set).</summary>
    public CifarSplit Train { get { LoadData(); return _train!; } }
    /// <summary>The test split used.</summary>
    public CifarSplit Test { get { LoadData(); return _test!; } }

    /// <summary>Checksums of the data in use: part of every artifact's settings.</summary>
    public string DataIdentity
    {
        get
        {
            LoadData();
            return _dataIdentity ??= Fingerprint.Of(_train!.Images, _train.Labels, _test!.Images, _test.Labels);
        }
    }

    void LoadData()
    {
        if (_data != null) return;
        var clock = Stopwatch.StartNew();
        _data = CifarLoader.Load(DataDirectory, new CifarLoadOptions { Log = Observer.Log });
        var s = Settings.Data;
        _train = s.TrainCount > 0 && s.TrainCount < _data.Train.Count ? _data.Train.Subset(s.TrainCount, Settings.Seed) : _data.Train;
        _test = s.TestCount > 0 && s.TestCount < _data.Test.Count ? _data.Test.Subset(s.TestCount, Settings.Seed + 1) : _data.Test;
        Observer.Log($"Data: {_train.Count:N0} training and {_test.Count:N0} test images ({_data.Format}, {_data.Source}).");
        Results.Set("data", new JsonObject
        {
            // As the user named it (relative stays relative), so results.json holds no machine-specific path.
            ["source"] = Path.IsPathRooted(DataDirectory) ? _data.Source : Path.GetRelativePath(Environment.CurrentDirectory, _data.Source),
            ["format"] = _data.Format.ToString(),
            ["train"] = _train.Count,
            ["test"] = _test.Count,
        });
        Results.Set("seconds.data", clock.Elapsed.TotalSeconds);
    }

    string Dir(string name) => Path.Combine(OutDirectory, name);
    string CheckpointDir(string name) => Path.Combine(OutDirectory, "checkpoints", name);

    // ---------------------------------------------------------------- step 1: standard model

    TrainingOptions StandardTraining() => StandardTraining(Settings);

    /// <summary>The training recipe of the standard model that <paramref name="settings"/> describe (also used by <c>bench</c>).</summary>
    public static TrainingOptions StandardTraining(ExperimentSettings settings) => new()
    {
        Epochs = settings.Standard.Epochs,
        BatchSize = settings.Standard.BatchSize,
        LearningRate = settings.Standard.Lr,
        Momentum = settings.Standard.Momentum,
        WeightDecay = settings.Standard.WeightDecay,
        Schedule = settings.Standard.Schedule == "cosine" ? LrSchedule.Cosine : LrSchedule.OneCycle,
        Augmentation = settings.Standard.Augment ? Augmentation.CropFlip : Augmentation.None,
        Seed = settings.Seed,
    };

    /// <summary>Step 1: trains (or loads) the standard classifier and measures it.</summary>
    public StandardModelOutcome StandardModel(CancellationToken ct = default)
    {
        if (_standard != null) return _standard;
        var s = Settings.Standard;
        var options = StandardTraining();
        var identity = new JsonObject { ["training"] = Artifacts.ToNode(options), ["data"] = DataIdentity };
        var (model, history, seconds, cached) = TrainOrLoad("standard", "Standard model", "training", options, Settings.Seed, identity,
            Train.Images, Train.Labels, "standardModel", "standard.lr", ct);
        double test = Evaluation.Accuracy(model, Test.Images, Test.Labels, Device);
        double train = Evaluation.Accuracy(model, Train.Images, Train.Labels, Device);
        Observer.Log($"Standard model: {test:P2} clean test accuracy ({train:P2} on its training data).");
        Results.Set("standardModel", new JsonObject
        {
            ["arch"] = s.Arch,
            ["width"] = s.Width,
            ["testAccuracy"] = test,
            ["trainAccuracy"] = train,
            ["epochs"] = history.Count,
        });
        Results.Set("seconds.standardModel", seconds);
        return _standard = new StandardModelOutcome(model, test, train, history, seconds, cached);
    }

    // ---------------------------------------------------------------- step 2: D_rand and D_det

    /// <summary>The PGD settings used to build D_rand / D_det.</summary>
    public AdversarialOptions AttackOptions() => AttackOptions(Settings);

    /// <summary>The D_rand / D_det generation settings that <paramref name="settings"/> describe (also used by <c>bench</c>).</summary>
    public static AdversarialOptions AttackOptions(ExperimentSettings settings) => new()
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

    static string Key(AdversarialKind kind) => kind == AdversarialKind.Random ? "drand" : "ddet";
    static string Folder(AdversarialKind kind) => kind == AdversarialKind.Random ? "rand" : "det";

    /// <summary>Step 2: builds (or resumes, or loads) D_rand or D_det from the standard model.</summary>
    public AdversarialDataset AdversarialSet(AdversarialKind kind, CancellationToken ct = default)
    {
        if (_adversarial.TryGetValue(kind, out var ready)) return ready;
        var standard = StandardModel(ct).Model;
        // compute.precision: a bf16 copy to attack where it applies (its own fingerprint, so its own cache).
        using var bf16 = Precisions.AttackModel(standard, Settings.Compute.Precision, Device);
        var model = bf16 ?? standard;
        var dir = Dir($"d_{Folder(kind)}");
        var clock = Stopwatch.StartNew();
        var step = kind == AdversarialKind.Random ? "dRand" : "dDet";
        bool existed = Artifacts.TryValidate(dir, AdversarialDataset.ArtifactKind,
            AdversarialDatasets.Settings(kind, model, Train.Images, Train.Labels, AttackOptions()), out _, verifyChecksums: false);
        var progress = new SyncProgress<AdversarialProgress>(p => Observer.Progress(new StepProgress(step, p.Images == 0 ? 1 : (double)p.ImagesDone / p.Images,
            $"chunk {p.Chunk}/{p.Chunks}, {p.ImagesDone:N0}/{p.Images:N0} images, success {(double.IsNaN(p.SuccessRate) ? "-" : p.SuccessRate.ToString("P1"))}, {p.ImagesPerSecond:N0} images/s")));
        var data = AdversarialDatasets.Build(kind, model, Train.Images, Train.Labels, AttackOptions(), dir, Device, progress, ct, Observer.Log);
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
        Observer.Log($"{AdversarialDatasets.Name(kind)}: {data.Count:N0} images, attack success {data.SuccessRate:P2}, target = original label for {data.TargetEqualsLabelRate:P2}.");
        Results.Set($"adversarial.{Key(kind)}", new JsonObject
        {
            ["images"] = data.Count,
            ["attackSuccess"] = data.SuccessRate,
            ["targetEqualsLabel"] = data.TargetEqualsLabelRate,
            ["eps"] = Settings.Attack.Eps,
            ["step"] = Settings.Attack.Step,
            ["steps"] = Settings.Attack.Steps,
        });
        Results.Set($"seconds.{step}", seconds);
        UpdateFidelity();
        _adversarial[kind] = data;
        return data;
    }

    // ---------------------------------------------------------------- transfer (Ilyas Table 1)

    /// <summary>Trains a fresh standard model on D_rand or D_det (target labels) and tests it on clean data.</summary>
    public TransferOutcome TransferModel(AdversarialKind kind, CancellationToken ct = default)
    {
        if (_transfer.TryGetValue(kind, out var ready)) return ready;
        var data = AdversarialSet(kind, ct);
        var s = Settings.Standard;
        var t = Settings.Transfer;
        var training = StandardTraining() with
        {
            Epochs = t.Epochs,
            BatchSize = t.BatchSize,
            LearningRate = kind == AdversarialKind.Random ? t.LrRand : t.LrDet,
            Augmentation = t.Augment ? Augmentation.CropFlip : Augmentation.None,
            Seed = Settings.Seed + 1,
        };
        var identity = new JsonObject { ["training"] = Artifacts.ToNode(training), ["data"] = (string?)data.Settings["data"], ["adversarial"] = Fingerprint.Of(data.Images, data.Targets) };
        var name = $"transfer_{Folder(kind)}";
        var step = kind == AdversarialKind.Random ? "transferRand" : "transferDet";
        var (model, history, seconds, cached) = TrainOrLoad(name, $"Transfer model on {AdversarialDatasets.Name(kind)}", "training", training, training.Seed, identity,
            data.Images, data.Targets, step, kind == AdversarialKind.Random ? "transfer.lrRand" : "transfer.lrDet", ct);
        double test = Evaluation.Accuracy(model, Test.Images, Test.Labels, Device);
        double train = Evaluation.Accuracy(model, data.Images, data.Targets, Device);
        Observer.Log($"Transfer model on {AdversarialDatasets.Name(kind)}: {test:P2} clean test accuracy ({train:P2} of its relabelled training set).");
        Results.Set($"transfer.{Key(kind)}", test);
        Results.Set($"transferDetails.{Key(kind)}", new JsonObject { ["trainAccuracyOnTargets"] = train, ["lr"] = training.LearningRate, ["epochs"] = training.Epochs, ["augment"] = t.Augment });
        Results.Set($"seconds.{step}", seconds);
        UpdateFidelity();
        var outcome = new TransferOutcome(kind, model, test, train, history, seconds, cached);
        _transfer[kind] = outcome;
        return outcome;
    }

    // ---------------------------------------------------------------- step 3: robust linear classifier

    /// <summary>The robust linear training settings in library form.</summary>
    public RobustLinearOptions RobustOptions(int? seed = null, double? trainRadius = null) => RobustOptions(Settings, seed, trainRadius);

    /// <summary>The robust linear training settings that <paramref name="settings"/> describe (also used by <c>bench</c>).</summary>
    public static RobustLinearOptions RobustOptions(ExperimentSettings settings, int? seed = null, double? trainRadius = null) => new()
    {
        TrainRadius = trainRadius ?? settings.Robust.TrainRadius,
        CertifyRadius = trainRadius ?? settings.Robust.CertRadius,
        Units = ParseUnits(settings.Robust.Units),
        Epochs = settings.Robust.Epochs,
        BatchSize = settings.Robust.BatchSize,
        LearningRate = settings.Robust.Lr,
        WeightDecay = settings.Robust.WeightDecay,
        Seed = seed ?? (int)settings.Seed,
    };

    public static RadiusUnits ParseUnits(string units) => units.ToLowerInvariant() switch
    {
        "pixel" => RadiusUnits.Pixel,
        "normalised" or "normalized" => RadiusUnits.Normalised,
        _ => throw new ArgumentException($"Unknown radius units '{units}'. Valid choices: pixel, normalised."),
    };

    static string UnitsName(RadiusUnits u) => u == RadiusUnits.Pixel ? "pixel" : "normalised";

    /// <summary>Step 3: trains (or loads) C and certifies it on the test set, in both units.</summary>
    public RobustOutcome RobustModel(CancellationToken ct = default)
    {
        if (_robust != null) return _robust;
        var options = RobustOptions();
        var progress = new SyncProgress<RobustLinearEpoch>(e => Observer.Progress(new StepProgress("robustModel", (double)e.Epoch / e.Epochs,
            $"epoch {e.Epoch}/{e.Epochs}, eps {e.Radius:0.###}, loss {e.Loss:0.000}, certified (train) {e.CertifiedAccuracy:P1}")));
        var training = RobustLinearTrainer.TrainOrLoad(Dir("robust_linear"), DataIdentity, Train.Images, Train.Labels, options, Device, progress, Observer.Log, ct);
        var report = training.Certify(Test.Images, Test.Labels);
        var outcome = new RobustOutcome(training, report, options.Units, training.Elapsed.TotalSeconds);
        Observer.Log($"Robust linear classifier: {outcome.Primary}");
        var json = RobustJson(outcome, options);
        // Where the attack works: gamma of C's features at the attack's radius, which is in pixel units.
        var atAttack = Certificates.Certify(training.Model, Test.Images, Test.Labels, Settings.Attack.Eps, RadiusGeometry.Pixel());
        Observer.Log($"C at the attack's radius: {atAttack}");
        json["atAttackRadius"] = UnitJson(atAttack);
        json["atAttackRadius"]!["radiusUnits"] = "pixel";
        if (options.Units != RadiusUnits.Pixel)
        {
            // The units comparison needs a C trained (not only certified) in pixel units at the same radius:
            // a C trained in normalised units is not the best pixel-robust classifier.
            var pixelOptions = options with { Units = RadiusUnits.Pixel };
            using var pixel = RobustLinearTrainer.TrainOrLoad(Dir("robust_linear_pixel"), DataIdentity, Train.Images, Train.Labels, pixelOptions, Device, null, Observer.Log, ct);
            var atRadius = pixel.Certify(Test.Images, Test.Labels, RadiusGeometry.Pixel());
            var pixelAtAttack = Certificates.Certify(pixel.Model, Test.Images, Test.Labels, Settings.Attack.Eps, RadiusGeometry.Pixel());
            Observer.Log($"C trained in pixel units: {atRadius}; at the attack's radius: {pixelAtAttack}");
            var pj = UnitJson(atRadius);
            pj["trainRadius"] = pixelOptions.TrainRadius;
            pj["radiusUnits"] = "pixel";
            pj["atAttackRadius"] = UnitJson(pixelAtAttack);
            json["pixelTrained"] = pj;
        }
        Results.Set("robustModel", json);
        Results.Set("seconds.robustModel", outcome.Seconds);
        UpdateFidelity();
        return _robust = outcome;
    }

    static JsonObject UnitJson(UnitCertificate c) => new()
    {
        ["radius"] = c.Radius,
        ["cleanAccuracy"] = c.CleanAccuracy,
        ["certifiedAccuracy"] = c.CertifiedAccuracy,
        ["spec2"] = c.Spec2Fraction,
        ["spec1"] = c.Spec1,
        ["gamma"] = new JsonArray(c.Features.Select(f => (JsonNode)f.Gamma).ToArray()),
        ["featuresRobustForSomeClass"] = c.Features.Count(f => f.RobustlyUsefulForSomeClass),
        ["rho"] = new JsonArray(c.Features.Select(f => (JsonNode)f.Rho).ToArray()),
        ["medianCertifiedRadius"] = c.MedianCertifiedRadius,
    };

    static JsonObject RobustJson(RobustOutcome o, RobustLinearOptions options)
    {
        var primary = UnitJson(o.Primary);
        primary["trainRadius"] = options.TrainRadius;
        primary["certRadius"] = options.CertifyRadius;
        primary["radiusUnits"] = UnitsName(o.Units);
        var other = UnitJson(o.Other);
        other["radiusUnits"] = UnitsName(o.Other.Units);
        primary["otherUnits"] = other;
        return primary;
    }

    // ---------------------------------------------------------------- step 4: leakage probe

    /// <summary>The leakage probe with this run's probe settings (L2, iterations, bootstrap resamples, seed + <paramref name="seedOffset"/>).</summary>
    public LeakageProbe Probe(int seedOffset = 0) => new(new LeakageProbeOptions
    {
        Probe = new LogisticProbeOptions { L2 = Settings.Probe.L2, MaxIterations = Settings.Probe.MaxIterations },
        BootstrapResamples = Settings.Probe.Bootstrap,
        Seed = (int)Settings.Seed + seedOffset,
    });

    /// <summary>
    /// Step 4: the probe on C's ten features trained on D_rand and D_det (new labels) and scored on
    /// the clean test set with its true labels, with controls: clean D, random non-robust directions,
    /// D_rand without the images whose random target equals their label, chance and the majority class.
    /// Each of D_rand, D_det and D_rand with target ≠ label is compared with its matched null (the same
    /// probe on the clean originals with the same labels, <see cref="LeakageControls"/>): the excess
    /// over it with a bootstrap interval over training images resampled within classes (each image's
    /// target is an independent draw, so the refits carry the draw) and McNemar's exact test on the test points. The D_rand nulls are also
    /// fitted on <c>probe.nullDraws</c> fresh target draws made by the attack's own rule, which shows
    /// how far one draw moves them.
    /// </summary>
    public LeakageOutcome Leakage(CancellationToken ct = default)
    {
        if (_leakage != null) return _leakage;
        var robust = RobustModel(ct);
        var drand = AdversarialSet(AdversarialKind.Random, ct);
        var ddet = AdversarialSet(AdversarialKind.Deterministic, ct);
        LeakageControls.EnsureOriginals(this, drand);
        LeakageControls.EnsureOriginals(this, ddet);
        var clock = Stopwatch.StartNew();
        var probe = Probe();
        var p = Settings.Probe;
        using var scope = NewDisposeScope();
        var w = robust.Weights.detach().to(CPU);
        var testX = Test.Images;
        var testY = Test.Labels;
        // The probe sees only the ten features per image: computed once, reused by every fit below.
        var fTest = LeakageProbe.Features(w, testX);
        var fClean = LeakageProbe.Features(w, Train.Images);
        var fRand = LeakageProbe.Features(w, drand.Images);
        var fDet = LeakageProbe.Features(w, ddet.Images);
        // Strata of the training bootstrap: each image's true class (the class composition is fixed by design).
        var classOf = Train.Labels.to(ScalarType.Int64).cpu().data<long>().Select(c => (int)c).ToArray();
        var keep = drand.Targets.ne(drand.Labels).nonzero().squeeze(1);
        var kept = keep.data<long>().ToArray();

        // The null over fresh target draws, drawn chunk by chunk exactly like D_rand's targets.
        var draws = Enumerable.Range(0, p.NullDraws).Select(d => DrawRandomTargets(unchecked((long)Training.Seeds.Derive(Settings.Seed, 15, d)))).ToList();
        Observer.Progress(new StepProgress("leakage", 0.05, $"null over {p.NullDraws} target draws"));
        var nullRand = LeakageStatistics.OverDraws(probe, draws.Count, d => (fClean, draws[d]), fTest, testY);
        var nullNotLabel = LeakageStatistics.OverDraws(probe, draws.Count, d =>
        {
            var k = draws[d].ne(Train.Labels).nonzero().squeeze(1);
            return (fClean.index_select(0, k), draws[d].index_select(0, k));
        }, fTest, testY);
        Observer.Log($"Leakage null over target draws: D_rand {nullRand}; D_rand with target ≠ label {nullNotLabel}.");

        Observer.Progress(new StepProgress("leakage", 0.15, $"D_rand against its null, {p.TrainingResamples} training resamples"));
        var rand = LeakageStatistics.Compare(probe, "D_rand, robust features", "clean images, D_rand labels", fRand, fClean, drand.Targets, fTest, testY,
            classOf, p.TrainingResamples, nullRand);
        Observer.Progress(new StepProgress("leakage", 0.45, "D_det against its null"));
        var det = LeakageStatistics.Compare(probe, "D_det, robust features", "clean images, D_det labels", fDet, fClean, ddet.Targets, fTest, testY,
            classOf, p.TrainingResamples);
        Observer.Progress(new StepProgress("leakage", 0.7, "D_rand with target ≠ label against its null"));
        var notLabel = LeakageStatistics.Compare(probe, "D_rand with target ≠ label, robust features", "clean images, D_rand labels, target ≠ label",
            fRand.index_select(0, keep), fClean.index_select(0, keep), drand.Targets.index_select(0, keep), fTest, testY,
            kept.Select(i => classOf[i]).ToArray(), p.TrainingResamples, nullNotLabel);
        var comparisons = new LeakageComparisons(rand, det, notLabel);

        var controls = new List<ProbeEntry>
        {
            probe.RunOnFeatures("clean D, robust features", fClean, Train.Labels, fTest, testY),
            probe.RunRandomDirections("D_rand, random features", w, drand.Images, drand.Targets, testX, testY),
            probe.RunRandomDirections("D_det, random features", w, ddet.Images, ddet.Targets, testX, testY),
            notLabel.Probe,
        };
        controls.AddRange(probe.Chance(testY));
        foreach (var e in controls.Prepend(det.Probe).Prepend(rand.Probe)) { Observer.Log($"Leakage probe: {e}"); WarnUnconverged(e); }
        foreach (var c in comparisons.All) { Observer.Log($"Leakage against the null: {c}"); WarnUnconverged(c.Null); }

        var controlsJson = new JsonObject();
        string[] keys = ["cleanD", "drandRandomFeatures", "ddetRandomFeatures", "drandTargetNotLabel", "chance", "majorityClass"];
        for (int i = 0; i < controls.Count && i < keys.Length; i++) controlsJson[keys[i]] = EntryJson(controls[i]);
        Results.Set("leakage", new JsonObject
        {
            ["drand"] = rand.Probe.Accuracy,
            ["ddet"] = det.Probe.Accuracy,
            ["intervals"] = new JsonObject
            {
                ["drand"] = new JsonArray(rand.Probe.Lo, rand.Probe.Hi),
                ["ddet"] = new JsonArray(det.Probe.Lo, det.Probe.Hi),
                ["level"] = probe.Options.Level,
                ["resamples"] = probe.Options.BootstrapResamples,
            },
            ["comparisons"] = new JsonObject
            {
                ["drand"] = ComparisonJson(rand),
                ["ddet"] = ComparisonJson(det),
                ["drandTargetNotLabel"] = ComparisonJson(notLabel),
            },
            ["controls"] = controlsJson,
            ["features"] = rand.Probe.Features,
            ["trainImages"] = new JsonObject { ["drand"] = rand.Probe.NTrain, ["ddet"] = det.Probe.NTrain },
            ["testImages"] = rand.Probe.NTest,
        });
        Results.Set(LeakageControls.ResultsKey, new JsonObject
        {
            ["drandClean"] = EntryJson(rand.Null),
            ["drandTargetNotLabelClean"] = EntryJson(notLabel.Null),
            ["ddetClean"] = EntryJson(det.Null),
        });
        double seconds = clock.Elapsed.TotalSeconds;
        Results.Set("seconds.leakage", seconds);
        return _leakage = new LeakageOutcome(rand.Probe, det.Probe, [.. controls, rand.Null, notLabel.Null, det.Null], seconds) { Comparisons = comparisons };
    }

    LeakageOutcome? _leakage;

    /// <summary>
    /// Rewrites the <see cref="Fidelity"/> block from results.json; called by every step that adds one of
    /// its inputs (attack success, transfer, C), so a run driven by the notebooks has it as well.
    /// </summary>
    void UpdateFidelity() => Results.Set(Fidelity.ResultsKey, Fidelity.Compute(Results.Read()));

    /// <summary>
    /// D_rand targets for the run's training labels drawn by the attack's rule (uniform, or uniform over
    /// the other classes with <c>attack.randomTargetExcludesSource</c>), chunk by chunk, from <paramref name="seed"/>
    /// instead of the run's seed: a fresh draw of the labels D_rand was made with.
    /// </summary>
    public Tensor DrawRandomTargets(long seed)
    {
        var options = AttackOptions() with { Seed = seed };
        var y = Train.Labels.cpu();
        long n = y.shape[0];
        var parts = new List<Tensor>();
        for (long start = 0, c = 0; start < n; start += options.ChunkSize, c++)
            parts.Add(AdversarialDatasets.DrawTargets(AdversarialKind.Random, y.narrow(0, start, Math.Min(options.ChunkSize, n - start)), options, (int)c));
        var t = cat(parts);
        foreach (var part in parts) part.Dispose();
        return t;
    }

    /// <summary>Logs a warning when a probe's fit stopped before meeting its gradient tolerance.</summary>
    internal void WarnUnconverged(ProbeEntry e)
    {
        if (e.Converged == false)
            Observer.Log($"Warning: the probe '{e.Name}' did not converge ({e.Iterations} L-BFGS iterations, probe.maxIterations {Settings.Probe.MaxIterations}); its accuracy is that of an unfinished fit.");
    }

    internal static JsonObject ComparisonJson(LeakageComparison c)
    {
        var json = new JsonObject
        {
            ["name"] = c.Probe.Name,
            ["accuracy"] = c.Probe.Accuracy,
            ["nullName"] = c.Null.Name,
            ["nullAccuracy"] = c.Null.Accuracy,
            ["excessOverNull"] = c.Excess,
            ["excessInterval"] = new JsonArray(c.ExcessInterval.Lo, c.ExcessInterval.Hi),
            ["intervalCovers"] = c.IntervalCovers,
            ["pValue"] = c.PValue,
            ["test"] = "McNemar exact, two-sided, on per-point correctness",
            ["discordant"] = new JsonObject { ["probeOnly"] = c.Paired.FirstOnly, ["nullOnly"] = c.Paired.SecondOnly },
            ["pairedInterval"] = new JsonArray(c.Paired.Interval.Lo, c.Paired.Interval.Hi),
            ["above"] = c.Above(),
            ["converged"] = c.Probe.Converged,
            ["iterations"] = c.Probe.Iterations,
            ["nullConverged"] = c.Null.Converged,
            ["nullIterations"] = c.Null.Iterations,
        };
        if (c.TrainingInterval != null)
        {
            json["strata"] = c.Strata;
            json["trainingResamples"] = c.Resamples;
            json["refitsNotConverged"] = c.RefitsNotConverged;
        }
        if (c.Draws != null)
        {
            json["nullDraws"] = new JsonObject
            {
                ["k"] = c.Draws.K,
                ["mean"] = c.Draws.Mean,
                ["sd"] = c.Draws.K < 2 ? null : c.Draws.Sd,
                ["min"] = c.Draws.Min,
                ["max"] = c.Draws.Max,
                ["values"] = new JsonArray(c.Draws.Accuracies.Select(a => (JsonNode)a).ToArray()),
            };
            json["excessOverDrawMean"] = c.Probe.Accuracy - c.Draws.Mean;
            json["pValueDraws"] = c.Draws.PValue(c.Probe.Accuracy);
        }
        return json;
    }

    /// <summary>A paired comparison of an extension probe with its matched null (test points only: the fits are held fixed).</summary>
    internal static JsonObject PairedJson(ProbeEntry probe, ProbeEntry baseline, PairedComparison c) => new()
    {
        ["name"] = probe.Name,
        ["accuracy"] = probe.Accuracy,
        ["nullName"] = baseline.Name,
        ["nullAccuracy"] = baseline.Accuracy,
        ["excessOverNull"] = c.Difference,
        ["excessInterval"] = new JsonArray(c.Interval.Lo, c.Interval.Hi),
        ["intervalCovers"] = "test points",
        ["pValue"] = c.PValue,
        ["discordant"] = new JsonObject { ["probeOnly"] = c.FirstOnly, ["nullOnly"] = c.SecondOnly },
        ["above"] = c.FirstAbove() && c.Interval.Lo > 0,
        ["converged"] = probe.Converged,
        ["nullConverged"] = baseline.Converged,
    };

    internal static JsonObject EntryJson(ProbeEntry e) => new()
    {
        ["name"] = e.Name,
        ["accuracy"] = e.Accuracy,
        ["lo"] = e.Lo,
        ["hi"] = e.Hi,
        ["nTrain"] = e.NTrain,
        ["nTest"] = e.NTest,
        ["features"] = e.Features,
        ["converged"] = e.Converged,
        ["iterations"] = e.Iterations,
    };

    // ---------------------------------------------------------------- everything

    /// <summary>Runs every step (and the enabled extensions) and returns the final results.json content.</summary>
    public JsonObject RunAll(CancellationToken ct = default)
    {
        var clock = Stopwatch.StartNew();
        StandardModel(ct);
        AdversarialSet(AdversarialKind.Random, ct);
        AdversarialSet(AdversarialKind.Deterministic, ct);
        TransferModel(AdversarialKind.Random, ct);
        TransferModel(AdversarialKind.Deterministic, ct);
        RobustModel(ct);
        Leakage(ct);
        RunBeyond(ct);
        Results.Set("seconds.thisInvocation", clock.Elapsed.TotalSeconds);
        var seconds = Results.Read()["seconds"] as JsonObject;
        double total = seconds?.Where(kv => kv.Key is not ("total" or "thisInvocation")).Sum(kv => (double?)kv.Value ?? 0) ?? 0;
        Results.Set("seconds.total", total);
        return Results.Read();
    }

    // ---------------------------------------------------------------- helpers

    IProgress<TrainingProgress> TrainingProgress(string step) => new SyncProgress<TrainingProgress>(p =>
    {
        double fraction = p.Epochs == 0 ? 1 : Math.Clamp(((p.Epoch - 1) + (p.Steps == 0 ? 1 : (double)p.Step / p.Steps)) / p.Epochs, 0, 1);
        Observer.Progress(new StepProgress(step, fraction,
            $"epoch {p.Epoch}/{p.Epochs}, loss {p.Loss:0.000}, accuracy {p.Accuracy:P1}, lr {p.LearningRate:0.####}, {p.ImagesPerSecond:N0} images/s"));
    });

    /// <summary>
    /// Loads the model artifact <c>name/</c> when it was made with <paramref name="identity"/> (and is
    /// intact); otherwise trains a fresh model of the run's architecture with per-epoch checkpoints
    /// (resumable), saves it with its history and compute time, and removes the checkpoints.
    /// </summary>
    (nn.Module<Tensor, Tensor> Model, IReadOnlyList<EpochSummary> History, double Seconds, bool Cached) TrainOrLoad(
        string name, string title, string verb, TrainingOptions training, long modelSeed, JsonObject identity,
        Tensor images, Tensor labels, string step, string lrSetting, CancellationToken ct)
    {
        var s = Settings.Standard;
        var dir = Dir(name);
        if (ModelStore.TryLoad(dir, s.Arch, identity, Device, out var loaded, out var reason, s.Width))
        {
            Observer.Log($"{title}: reusing {dir}.");
            var extra = Artifacts.ReadExtra(dir);
            return (loaded, extra?["history"]?.Deserialize<List<EpochSummary>>(Artifacts.Json) ?? [], (double?)extra?["seconds"] ?? 0, true);
        }
        Observer.Log($"{title}: {verb} ({reason}).");
        var clock = Stopwatch.StartNew();
        var model = ModelFactory.Create(s.Arch, modelSeed, s.Width, Device);
        try
        {
            var result = Diverging(title, lrSetting, training.LearningRate,
                () => Trainer.Train(model, images, labels, training, Device, CheckpointDir(name), TrainingProgress(step), Observer.Log, ct));
            var seconds = clock.Elapsed.TotalSeconds;
            ModelStore.Save(model, dir, identity, new JsonObject
            {
                ["history"] = JsonSerializer.SerializeToNode(result.History, Artifacts.Json),
                ["seconds"] = seconds,
            });
            DeleteCheckpoints(name);
            return (model, result.History, seconds, false);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Restates a divergence in the run's terms: the step of the experiment, the epoch and training
    /// step, what went wrong, and the run setting to change (the library message names the option).
    /// </summary>
    static T Diverging<T>(string step, string setting, double value, Func<T> train)
    {
        try { return train(); }
        catch (TrainingDivergedException e)
        {
            throw new InvalidOperationException(
                $"{step}: training diverged at epoch {e.Epoch}, step {e.Step}/{e.Steps}: {e.Detail} (learning rate {e.LearningRate:G4}). " +
                $"Lower the setting '{setting}' (now {value:G4}), e.g. --set {setting}={value / 10:G4}. " +
                (e.LastCheckpoint is null ? "No checkpoint of this training was written." : $"The last good checkpoint is kept in {e.LastCheckpoint}."), e);
        }
    }

    /// <summary>The "seconds" recorded in a timing file, or null when it is missing or damaged (it is informational only).</summary>
    static double? ReadSeconds(string path)
    {
        if (!File.Exists(path)) return null;
        try { return (double?)JsonNode.Parse(File.ReadAllText(path))?["seconds"]; }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException) { return null; }
    }

    void DeleteCheckpoints(string name)
    {
        var d = CheckpointDir(name);
        try { if (Directory.Exists(d)) Directory.Delete(d, recursive: true); }
        catch (IOException e) { Observer.Log($"Could not remove {d}: {e.Message}"); }
    }

    public void Dispose()
    {
        _standard?.Model.Dispose();
        foreach (var t in _transfer.Values) t.Model.Dispose();
        foreach (var a in _adversarial.Values) a.Dispose();
        _robust?.Training.Dispose();
        _nonlinear?.Model.Dispose();
        if (!ReferenceEquals(_train, _data?.Train)) _train?.Dispose();
        if (!ReferenceEquals(_test, _data?.Test)) _test?.Dispose();
        _data?.Dispose();
    }
}

/// <summary>An <see cref="IProgress{T}"/> that reports on the calling thread (no SynchronizationContext hop).</summary>
public sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
