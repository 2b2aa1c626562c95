using Leakage.Adversarial;

namespace Leakage.Experiment;

/// <summary>A headline number of a run: where it lives in <c>results.json</c>, what it is called, and the published value it is compared with.</summary>
/// <param name="Key">Dotted path into results.json, e.g. <c>leakage.drand</c>.</param>
/// <param name="Title">Short description for tables.</param>
/// <param name="Value">The published value (from <see cref="Experiment.Published"/>), or null.</param>
/// <param name="Relation">How a run's value should relate to it, shown before it: "" (compare) or "&gt;= " (a minimum).</param>
public sealed record Headline(string Key, string Title, PublishedValue? Value = null, string Relation = "")
{
    /// <summary>The published value as tables show it (e.g. "63.3%", "&gt;= 80%"), or null.</summary>
    public string? Published => Value is null ? null : Relation + Experiment.Published.Percent(Value);

    /// <summary>Dotted path in results.json of how many points the fraction is measured on (the test set unless said otherwise).</summary>
    public string CountKey { get; init; } = "data.test";
}

/// <summary>One step of a run, as every reader of a run knows it.</summary>
/// <param name="Key">Key of its progress reports (<see cref="StepProgress.Step"/>) and of its compute time, <c>seconds.Key</c> in results.json.</param>
/// <param name="Title">Readable name (progress bars, tables).</param>
/// <param name="ResultsKey">Dotted path of its section in results.json.</param>
public sealed record StepInfo(string Key, string Title, string ResultsKey)
{
    /// <summary>Its headline numbers, in table order.</summary>
    public IReadOnlyList<Headline> Headlines { get; init; } = [];

    /// <summary>For an extension: the <c>beyond.*</c> settings its results depend on (camelCase); see <see cref="BeyondResults"/>.</summary>
    public IReadOnlyList<string> BeyondSettings { get; init; } = [];

    /// <summary>For an extension: whether the settings switch it on; null for the main steps, which always run.</summary>
    public Func<BeyondSettings, bool>? IsOn { get; init; }

    /// <summary>For an opt-in step that is not an extension (the leakage controls): whether a run with the settings takes it; null: always.</summary>
    public Func<ExperimentSettings, bool>? OptIn { get; init; }

    /// <summary>Runs it in a run (through the run's forwarder, so that each step runs once per run).</summary>
    public Action<ExperimentRun, CancellationToken>? Execute { get; init; }

    /// <summary>Dotted path of its compute time in results.json.</summary>
    public string SecondsKey => $"seconds.{Key}";

    /// <summary>Whether a run with <paramref name="settings"/> runs it.</summary>
    public bool Runs(ExperimentSettings settings) => (IsOn is null || IsOn(settings.Beyond)) && (OptIn is null || OptIn(settings));
}

/// <summary>
/// The steps of a run in order, with their keys, titles, results.json sections and headline numbers
/// (with the published values of <see cref="Published"/>): the one list that the orchestrator
/// (<see cref="ExperimentRun.RunAll"/>), the CLI's progress and summary, the notebooks' progress
/// panel, <see cref="SeedStudy"/>, <see cref="BeyondResults"/> and the report read.
/// </summary>
public static class StepCatalog
{
    public static StepInfo Standard { get; } = new("standardModel", "standard model", "standardModel")
    {
        Execute = (r, ct) => r.StandardModel(ct),
        Headlines = [new("standardModel.testAccuracy", "standard model, clean test accuracy", Published.StandardAccuracy)],
    };
    public static StepInfo DRand { get; } = new("dRand", "D_rand (targeted PGD)", "adversarial.drand")
    {
        Execute = (r, ct) => r.AdversarialSet(AdversarialKind.Random, ct),
        Headlines = [new("adversarial.drand.attackSuccess", "targeted PGD success, D_rand") { CountKey = "adversarial.drand.images" }],
    };
    public static StepInfo DDet { get; } = new("dDet", "D_det (targeted PGD)", "adversarial.ddet")
    {
        Execute = (r, ct) => r.AdversarialSet(AdversarialKind.Deterministic, ct),
        Headlines = [new("adversarial.ddet.attackSuccess", "targeted PGD success, D_det") { CountKey = "adversarial.ddet.images" }],
    };
    public static StepInfo TransferRand { get; } = new("transferRand", "training on D_rand", "transfer.drand")
    {
        Execute = (r, ct) => r.TransferModel(AdversarialKind.Random, ct),
        Headlines = [new("transfer.drand", "trained on D_rand, clean test accuracy", Published.TransferDRand)],
    };
    public static StepInfo TransferDet { get; } = new("transferDet", "training on D_det", "transfer.ddet")
    {
        Execute = (r, ct) => r.TransferModel(AdversarialKind.Deterministic, ct),
        Headlines = [new("transfer.ddet", "trained on D_det, clean test accuracy", Published.TransferDDet)],
    };
    public static StepInfo Robust { get; } = new("robustModel", "robust linear classifier C", "robustModel")
    {
        Execute = (r, ct) => r.RobustModel(ct),
        Headlines =
        [
            new("robustModel.spec2", "robust C: Spec 2 (configured units)", Published.Spec2Minimum, ">= "),
            new("robustModel.otherUnits.spec2", "robust C: Spec 2 (other units)"),
        ],
    };
    public static StepInfo Leakage { get; } = new("leakage", "leakage probes", "leakage")
    {
        Execute = (r, ct) => r.Leakage(ct),
        Headlines =
        [
            new("leakage.drand", "leakage probe on D_rand", Published.LeakageDRand),
            new("leakage.ddet", "leakage probe on D_det", Published.LeakageDDet),
            new("leakage.controls.cleanD.accuracy", "control: probe on clean D"),
            new("leakage.controls.drandRandomFeatures.accuracy", "control: D_rand, random features"),
            new("leakage.controls.ddetRandomFeatures.accuracy", "control: D_det, random features"),
            new("leakage.controls.drandTargetNotLabel.accuracy", "control: D_rand with target ≠ label"),
            new("leakage.controls.majorityClass.accuracy", "control: majority class"),
        ],
    };
    public static StepInfo DOther { get; } = new("dOther", "D_other (targeted PGD, control)", "adversarial.dother")
    {
        Execute = (r, ct) => r.AdversarialSet(AdversarialKind.Other, ct),
        OptIn = s => s.Controls.Enabled,
        Headlines = [new("adversarial.dother.attackSuccess", "targeted PGD success, D_other (control)") { CountKey = "adversarial.dother.images" }],
    };
    public static StepInfo Controls { get; } = new("controls", "leakage controls", ControlsStep.ResultsKey)
    {
        Execute = (r, ct) => r.Controls(ct),
        OptIn = s => s.Controls.Enabled,
    };
    public static StepInfo Nonlinear { get; } = new("nonlinear", "robust CNN (adversarial training)", "beyond.nonlinear")
    {
        Execute = (r, ct) => r.NonlinearFeatures(ct),
        BeyondSettings = ["nonlinear", "nonlinearRadius", "nonlinearEpochs", "nonlinearPgdSteps"],
        IsOn = b => b.Nonlinear,
    };
    public static StepInfo RadiusSweep { get; } = new("radiusSweep", "radius sweep of C", "beyond.radiusSweep")
    {
        Execute = (r, ct) => r.RadiusSweep(ct),
        BeyondSettings = ["sweepRadii"],
        IsOn = b => b.SweepRadii.Length > 0,
    };
    public static StepInfo Released { get; } = new("released", "released data sets", "beyond.released")
    {
        Execute = (r, ct) => r.ReleasedLeakage(ct),
        BeyondSettings = ["releasedData"],
        IsOn = b => b.ReleasedData != null,
    };
    public static StepInfo ProbeSeeds { get; } = new("probeSeeds", "probe over seeds of C", "beyond.probeSeeds")
    {
        Execute = (r, ct) => r.ProbeSeeds(ct),
        BeyondSettings = ["seeds"],
        IsOn = b => b.Seeds > 1,
    };

    /// <summary>Every step in the order a run takes them: the main steps, then the extensions.</summary>
    public static IReadOnlyList<StepInfo> All { get; } = [Standard, DRand, DDet, TransferRand, TransferDet, Robust, Leakage, DOther, Controls, Nonlinear, RadiusSweep, Released, ProbeSeeds];

    /// <summary>The steps of the leakage controls (<c>controls.enabled</c>): D_other's attack, then the controls' sets, transfer models and probes.</summary>
    public static IReadOnlyList<StepInfo> ControlSteps { get; } = [DOther, Controls];

    /// <summary>The extensions (<c>beyond.*</c>).</summary>
    public static IReadOnlyList<StepInfo> Extensions { get; } = All.Where(s => s.IsOn != null).ToArray();

    /// <summary>The steps a run with <paramref name="settings"/> takes.</summary>
    public static IReadOnlyList<StepInfo> For(ExperimentSettings settings) => All.Where(s => s.Runs(settings)).ToArray();

    /// <summary>Every headline number, in table order (main steps first).</summary>
    public static IReadOnlyList<Headline> Headlines { get; } = All.SelectMany(s => s.Headlines).ToArray();

    /// <summary>The step with progress key <paramref name="key"/>, or null.</summary>
    public static StepInfo? Find(string key) => All.FirstOrDefault(s => s.Key == key);

    /// <summary>The readable title of progress key <paramref name="key"/> (the key itself when unknown).</summary>
    public static string Title(string key) => Find(key)?.Title ?? key;

    /// <summary>How results.json names a set: <c>drand</c>, <c>ddet</c> or <c>dother</c>.</summary>
    public static string SetKey(AdversarialKind kind) => AdversarialSet.Of(kind).ResultsKey;
}
