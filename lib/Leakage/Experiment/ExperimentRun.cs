using Leakage.Attacks;
using System.Diagnostics;
using Leakage.Adversarial;
using Leakage.Checkpoints;
using Leakage.Compute;
using Leakage.Data;
using Leakage.IO;
using Leakage.Models;
using Leakage.Probes;
using Leakage.Robust;
using Leakage.Training;
using static TorchSharp.torch;

namespace Leakage.Experiment;

/// <summary>
/// One run of the experiment in an output folder: the data, the run folder and the steps, run in
/// the order of <see cref="StepCatalog.All"/>. Each step is a class of its own (<c>Steps/</c>,
/// <c>Beyond/</c>) that maps the settings to its options, computes its artifact or loads it from the
/// folder when it was made with the same settings and inputs (checked through its
/// <c>metadata.json</c>; a mismatch is logged and the step recomputed), records its typed results in
/// <c>results.json</c> as soon as it finishes, and returns objects the notebooks can display. Long
/// steps resume after an interruption (epoch checkpoints, attack chunks).
/// <para>Layout: <c>standard/</c>, <c>d_rand/</c>, <c>d_det/</c>, <c>transfer_rand/</c>,
/// <c>transfer_det/</c>, <c>robust_linear/</c>, <c>robust_linear_pixel/</c>, <c>leakage/</c>,
/// <c>checkpoints/</c>, <c>results.json</c>; the leakage controls add <c>d_other/</c> and <c>controls/</c>,
/// the extensions <c>robust_cnn/</c>, <c>sweep/</c>, <c>seeds/</c>.</para>
/// </summary>
public sealed class ExperimentRun : IDisposable
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
    ControlImages? _controlImages;

    readonly StandardStep _standard;
    readonly Dictionary<AdversarialKind, AdversarialStep> _adversarial;
    readonly Dictionary<AdversarialKind, TransferStep> _transfer;
    readonly RobustStep _robust;
    readonly LeakageStep _leakage;
    readonly ControlsStep _controls;
    readonly NonlinearStep _nonlinear;

    ExperimentRun(ExperimentSettings settings, string dataDir, string outDir, IRunObserver observer, ImportedModel? imported, ImportedModel? importedRobust,
        string resultsFileName)
    {
        Settings = settings;
        DataDirectory = dataDir;
        OutDirectory = Path.GetFullPath(outDir);
        Observer = observer;
        Devices.SetThreads(settings.Threads);
        Device = Devices.Select(settings.DeviceKind);
        Directory.CreateDirectory(OutDirectory);
        Results = new ResultsFile(OutDirectory, resultsFileName);
        // The fidelity block derives from attack success, transfer and C: rewritten whenever a step records one of them.
        Results.Written += key => { if (Fidelity.DependsOn(key)) UpdateFidelity(); };
        _standard = new StandardStep(this, imported);
        AdversarialKind[] kinds = [AdversarialKind.Random, AdversarialKind.Deterministic];
        _adversarial = kinds.Append(AdversarialKind.Other).ToDictionary(k => k, k => new AdversarialStep(this, k));
        _transfer = kinds.ToDictionary(k => k, k => new TransferStep(this, k));
        _robust = new RobustStep(this);
        _leakage = new LeakageStep(this);
        _controls = new ControlsStep(this);
        _nonlinear = new NonlinearStep(this, importedRobust);
    }

    /// <summary>
    /// Opens (or creates) the run folder. Settings are validated first; when <c>results.json</c>
    /// holds other settings, or is damaged, it is started over (artifacts are still reused step by
    /// step where their own settings match). The extension settings (<c>beyond.*</c>) are the
    /// exception: they only add results, so a change of them keeps the results of the main steps
    /// (see <see cref="BeyondResults"/>). Temporary files left by an interrupted run are removed.
    /// <paramref name="resultsFileName"/> names the results file in the folder: a tool that reuses a
    /// run's models and data sets under its own settings passes its own, so that the run's
    /// <c>results.json</c> is never started over.
    /// </summary>
    public static ExperimentRun Open(ExperimentSettings settings, string dataDirectory, string outDirectory, IRunObserver? observer = null,
        string resultsFileName = ResultsFile.FileName)
    {
        SettingsOverrides.Validate(settings);
        // A checkpoint is read, and refused when bad, before the run folder is touched.
        ImportedModel? imported = null, importedRobust = null;
        ExperimentRun run;
        try
        {
            if (settings.Standard.Checkpoint is { } checkpoint) imported = CheckpointImport.Load(checkpoint, ImportOptions(settings));
            if (settings.Beyond.NonlinearCheckpoint is { } robust) importedRobust = CheckpointImport.Load(robust, ImportOptions(settings) with { Arch = CheckpointImport.AutoArch });
            run = new ExperimentRun(settings, dataDirectory, outDirectory, observer ?? RunObserver.Silent, imported, importedRobust, resultsFileName);
        }
        catch
        {
            imported?.Dispose();
            importedRobust?.Dispose();
            throw;
        }
        // A changed checkpoint is named first; then results.json records the settings, paths as RecordedPaths names them.
        run.ForgetOtherCheckpoints(imported, importedRobust);
        run.Results.Start(RecordedPaths.Settings(settings, run.OutDirectory, imported?.Info, importedRobust?.Info), run.Observer.Log);
        foreach (var orphan in AtomicFile.RemoveOrphans(run.OutDirectory))
            run.Observer.Log($"Removed {orphan}: a partial write of an interrupted run.");
        run.Observer.Log($"Run folder {run.OutDirectory}; {Devices.Describe(run.Device)}.");
        return run;
    }

    /// <summary>
    /// Other file: when results.json holds the results of a checkpoint with another SHA-256, they are
    /// dropped (every result for the standard model, or the nonlinear extension's section) and the log
    /// says which file changed, so results.json never mixes two checkpoints. The recorded settings name
    /// a checkpoint outside the run folder by its content as well (<see cref="RecordedPaths"/>), so
    /// <see cref="ResultsFile.Start"/> then records the new one; one inside it is known by its path
    /// alone, and this is what tells the two files apart. A damaged results.json is left to
    /// <see cref="ResultsFile.Start"/>, which starts it over.
    /// </summary>
    void ForgetOtherCheckpoints(ImportedModel? standard, ImportedModel? robust)
    {
        if (standard is null && robust is null) return;
        var messages = new List<string>();
        try { Forget(); }
        catch (InvalidDataException) { return; }
        foreach (var m in messages) Observer.Log(m);

        void Forget() => Results.Update(root =>
        {
            bool changed = false;
            var recorded = ResultsUpgrade.Read(root, Results.Path);
            if (standard is not null && recorded.StandardModel?.Checkpoint?.Sha256 is { } s && s != standard.Info.Sha256)
            {
                var keep = new[] { RunResultsRecord.PathOf(nameof(RunResultsRecord.Profile)), RunResultsRecord.PathOf(nameof(RunResultsRecord.Settings)) };
                foreach (var key in root.Select(kv => kv.Key).Where(k => !keep.Contains(k)).ToList()) root.Remove(key);
                messages.Add($"{Results.Path} holds the results of another file at {standard.Info.Path} (sha256 {s[..12]}, now {standard.Info.Sha256[..12]}); it starts over.");
                changed = true;
            }
            if (robust is not null && recorded.Beyond?.Nonlinear?.Checkpoint?.Sha256 is { } r && r != robust.Info.Sha256)
            {
                changed |= ResultsFile.Remove(root, StepCatalog.Nonlinear.ResultsKey);
                messages.Add($"{Results.Path}: the nonlinear extension's results were for another file at {robust.Info.Path}; they are dropped.");
            }
            return changed;
        });
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
            return _dataIdentity ??= DataIdentityOf(_train!, _test!);
        }
    }

    /// <summary>
    /// The training and test images that a run with <paramref name="settings"/> uses of
    /// <paramref name="data"/>: class-stratified subsets where <c>data.trainCount</c> / <c>data.testCount</c>
    /// ask for fewer images than there are (new splits the caller disposes), else the splits themselves.
    /// </summary>
    public static (CifarSplit Train, CifarSplit Test) Splits(CifarData data, ExperimentSettings settings)
    {
        var s = settings.Data;
        var train = s.TrainCount > 0 && s.TrainCount < data.Train.Count ? data.Train.Subset(s.TrainCount, settings.Seed) : data.Train;
        var test = s.TestCount > 0 && s.TestCount < data.Test.Count ? data.Test.Subset(s.TestCount, settings.Seed + 1) : data.Test;
        return (train, test);
    }

    /// <summary>The identity of a run's data (<see cref="DataIdentity"/>) for its splits.</summary>
    public static string DataIdentityOf(CifarSplit train, CifarSplit test) => Fingerprint.Of(train.Images, train.Labels, test.Images, test.Labels);

    void LoadData()
    {
        if (_data != null) return;
        var clock = Stopwatch.StartNew();
        _data = CifarLoader.Load(DataDirectory, new CifarLoadOptions { Log = Observer.Log });
        (_train, _test) = Splits(_data, Settings);
        Observer.Log($"Data: {_train.Count:N0} training and {_test.Count:N0} test images ({_data.Format}, {_data.Source}).");
        var source = CifarLoader.AsNamed(DataDirectory, _data.Source);
        Results.Set(RunResultsRecord.PathOf(nameof(RunResultsRecord.Data)), ResultsJson.Node(new DataResult(source, _data.Format.ToString(), _train.Count, _test.Count)));
        Results.SetSeconds(DataSecondsKey, clock.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// The training images the leakage controls use (<c>controls.trainCount</c>): a class-stratified
    /// subset of <see cref="Train"/> (seed + 2), or all of it, shared by every control.
    /// </summary>
    public ControlImages ControlImages => _controlImages ??= ControlImages.Of(Train, Settings.Controls.TrainCount, Settings.Seed + 2);

    /// <summary>The artifact folder <paramref name="name"/> inside the run folder.</summary>
    internal string Folder(string name) => Path.Combine(OutDirectory, name);

    /// <summary>The checkpoint folder of the artifact <paramref name="name"/>.</summary>
    internal string CheckpointFolder(string name) => Path.Combine(OutDirectory, "checkpoints", name);

    // ---------------------------------------------------------------- the steps

    /// <summary>Step 1: trains (or loads) the standard classifier and measures it (<see cref="StandardStep"/>).</summary>
    public StandardModelOutcome StandardModel(CancellationToken ct = default) => _standard.Run(ct);

    /// <summary>Step 2: builds (or resumes, or loads) D_rand or D_det from the standard model, or the control D_other from the controls' images (<see cref="AdversarialStep"/>).</summary>
    public AdversarialDataset AdversarialSet(AdversarialKind kind, CancellationToken ct = default) => _adversarial[kind].Run(ct);

    /// <summary>Trains a fresh standard model on D_rand or D_det (target labels) and tests it on clean data (<see cref="TransferStep"/>).</summary>
    public TransferOutcome TransferModel(AdversarialKind kind, CancellationToken ct = default) => _transfer[kind].Run(ct);

    /// <summary>Step 3: trains (or loads) C and certifies it on the test set, in both units (<see cref="RobustStep"/>).</summary>
    public RobustOutcome RobustModel(CancellationToken ct = default) => _robust.Run(ct);

    /// <summary>Step 4: the leakage probes with their controls and matched nulls (<see cref="LeakageStep"/>).</summary>
    public LeakageOutcome Leakage(CancellationToken ct = default) => _leakage.Run(ct);

    /// <summary>The leakage controls (<c>controls.enabled</c>): their sets, transfer models and probes against the matched nulls (<see cref="ControlsStep"/>).</summary>
    public ControlsOutcome Controls(CancellationToken ct = default) => _controls.Run(ct);

    /// <summary>Extension: the adversarially trained CNN and the probe on its features (<see cref="NonlinearStep"/>).</summary>
    public NonlinearOutcome NonlinearFeatures(CancellationToken ct = default) => _nonlinear.Run(ct);

    /// <summary>Extension: C trained and certified at each radius of <c>beyond.sweepRadii</c>, with the probe (<see cref="RadiusSweepStep"/>).</summary>
    public IReadOnlyList<SweepPoint> RadiusSweep(CancellationToken ct = default) => new RadiusSweepStep(this).Run(ct);

    /// <summary>Extension: the probe on Ilyas et al.'s released data sets (<see cref="ReleasedStep"/>).</summary>
    public IReadOnlyList<ReleasedProbe> ReleasedLeakage(CancellationToken ct = default) => new ReleasedStep(this).Run(ct);

    /// <summary>Extension: the probe over <c>beyond.seeds</c> seeds of C (<see cref="ProbeSeedsStep"/>).</summary>
    public ProbeSeedStudy ProbeSeeds(CancellationToken ct = default) => new ProbeSeedsStep(this).Run(ct);

    /// <summary>Runs the step <paramref name="step"/> of the <see cref="StepCatalog"/>.</summary>
    /// <exception cref="ArgumentException">It has no <see cref="StepInfo.Execute"/>.</exception>
    public void Run(StepInfo step, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(step);
        (step.Execute ?? throw new ArgumentException($"'{step.Key}' has nothing to run.", nameof(step)))(this, ct);
    }

    /// <summary>Runs the extensions switched on in <c>beyond.*</c>.</summary>
    public void RunBeyond(CancellationToken ct = default)
    {
        foreach (var step in StepCatalog.Extensions.Where(s => s.Runs(Settings))) Run(step, ct);
    }

    /// <summary>Key of <see cref="Compute.Provenance"/> in results.json.</summary>
    public static string ProvenanceKey { get; } = RunResultsRecord.PathOf(nameof(RunResultsRecord.Provenance));

    /// <summary>Keys under <c>seconds</c> beside the steps': loading the data, this invocation, and the sum of the steps.</summary>
    public const string DataSecondsKey = "data", InvocationSecondsKey = "thisInvocation", TotalSecondsKey = "total";

    /// <summary>Runs every step (and the enabled extensions) in catalog order and returns the final results.</summary>
    public RunResultsRecord RunAll(CancellationToken ct = default)
    {
        var clock = Stopwatch.StartNew();
        // Which machine computed this invocation (bit-identical reruns need the same CPU class and threads).
        Results.Set(ProvenanceKey, ResultsJson.Node(Compute.Provenance.Current(Device, Settings.Compute.Precision)));
        foreach (var step in StepCatalog.For(Settings)) Run(step, ct);
        Results.SetSeconds(InvocationSecondsKey, clock.Elapsed.TotalSeconds);
        var seconds = Results.Record().Seconds ?? new Dictionary<string, double>();
        Results.SetSeconds(TotalSecondsKey, seconds.Where(kv => kv.Key is not (TotalSecondsKey or InvocationSecondsKey)).Sum(kv => kv.Value));
        return Results.Record();
    }

    // ---------------------------------------------------------------- shared by the steps

    /// <summary>The training recipe of the standard model that <paramref name="settings"/> describe (<see cref="StandardStep.Options"/>).</summary>
    public static TrainingOptions StandardTraining(ExperimentSettings settings) => StandardStep.Options(settings);

    /// <summary>How <c>standard.checkpoint</c> is read: <c>standard.checkpointArch</c>, and the normalisation for files that carry none.</summary>
    public static CheckpointOptions ImportOptions(ExperimentSettings settings)
    {
        static float[]? Values(double[] v) => v.Length == 0 ? null : v.Select(x => (float)x).ToArray();
        var s = settings.Standard;
        return new CheckpointOptions(s.CheckpointArch, Values(s.CheckpointMean), Values(s.CheckpointStd));
    }

    /// <summary>The D_rand / D_det generation settings that <paramref name="settings"/> describe (<see cref="AdversarialStep.Options"/>).</summary>
    public static AdversarialOptions AttackOptions(ExperimentSettings settings) => AdversarialStep.Options(settings);

    /// <summary>The PGD settings used to build D_rand / D_det.</summary>
    public AdversarialOptions AttackOptions() => AdversarialStep.Options(Settings);

    /// <summary>The robust linear training settings that <paramref name="settings"/> describe (<see cref="RobustStep.Options"/>).</summary>
    public static RobustLinearOptions RobustOptions(ExperimentSettings settings, int? seed = null, double? trainRadius = null) => RobustStep.Options(settings, seed, trainRadius);

    /// <summary>The robust linear training settings of this run.</summary>
    public RobustLinearOptions RobustOptions(int? seed = null, double? trainRadius = null) => RobustStep.Options(Settings, seed, trainRadius);

    /// <summary>The adversarial-training recipe of the robust CNN (<see cref="NonlinearStep.Options"/>).</summary>
    public TrainingOptions NonlinearTraining() => NonlinearStep.Options(Settings);

    /// <summary>Radius units by their settings name (<c>pixel</c>, <c>normalised</c>); see <see cref="Choices"/>.</summary>
    public static RadiusUnits ParseUnits(string units) => Choices.Parse<RadiusUnits>("robust.units", units);

    /// <summary>The leakage probe with this run's probe settings (L2, iterations, bootstrap resamples, seed + <paramref name="seedOffset"/>).</summary>
    public LeakageProbe Probe(int seedOffset = 0) => new(new LeakageProbeOptions
    {
        Probe = new LogisticProbeOptions { L2 = Settings.Probe.L2, MaxIterations = Settings.Probe.MaxIterations },
        BootstrapResamples = Settings.Probe.Bootstrap,
        Seed = checked(Settings.IntSeed + seedOffset),
    });

    /// <summary>
    /// Checks that <paramref name="set"/> holds attacked copies of the run's training images, in
    /// order (same count, same original labels), so that the training images are its clean originals.
    /// </summary>
    /// <exception cref="InvalidDataException">They are not; the message names the set's folder.</exception>
    public void EnsureOriginals(AdversarialDataset set)
    {
        ArgumentNullException.ThrowIfNull(set);
        if (set.Count != Train.Count)
            throw new InvalidDataException($"{set.Directory}: {set.Count} images but the training split in use has {Train.Count}, so its images are not attacked copies of these training images.");
        using var same = set.Labels.eq(Train.Labels).all();
        if (!same.item<bool>())
            throw new InvalidDataException($"{set.Directory}: its original labels differ from the training split in use, so its images are not attacked copies of these training images.");
    }

    /// <summary>Logs a warning when a probe's fit stopped before meeting its gradient tolerance.</summary>
    internal void WarnUnconverged(ProbeEntry e)
    {
        if (e.Converged == false)
            Observer.Log($"Warning: the probe '{e.Name}' did not converge ({e.Iterations} L-BFGS iterations, probe.maxIterations {Settings.Probe.MaxIterations}); its accuracy is that of an unfinished fit.");
    }

    /// <summary>
    /// Rewrites the <see cref="Fidelity"/> block from results.json, whenever a step records one of its
    /// inputs (<see cref="Fidelity.DependsOn"/>), so a run driven by the notebooks has it as well.
    /// </summary>
    void UpdateFidelity() => Results.Set(Fidelity.ResultsKey, ResultsJson.Node(Fidelity.Compute(Results.Record())));

    public void Dispose()
    {
        _standard.Dispose();
        foreach (var t in _transfer.Values) t.Dispose();
        foreach (var a in _adversarial.Values) a.Dispose();
        _robust.Dispose();
        _nonlinear.Dispose();
        _controlImages?.Dispose();
        if (!ReferenceEquals(_train, _data?.Train)) _train?.Dispose();
        if (!ReferenceEquals(_test, _data?.Test)) _test?.Dispose();
        _data?.Dispose();
    }
}
