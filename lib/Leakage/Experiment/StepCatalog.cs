using Leakage.Adversarial;

namespace Leakage.Experiment;

/// <summary>
/// A headline number of a run: its key, its label, how it is read from the typed results, and the
/// published value it is compared with. The CLI summary, the notebooks' summary, the report, the seed
/// study and <c>compare</c> all show these rows (<see cref="HeadlineRow"/>).
/// </summary>
/// <param name="Key">Its results.json path (<see cref="RunResultsRecord.PathOf"/>), e.g. <c>leakage.drand</c>: the key of seeds.json and comparison.json.</param>
/// <param name="Title">Its label in tables.</param>
/// <param name="Read">Its value in a run's results, null until the step has run.</param>
/// <param name="Value">The published value (from <see cref="Experiment.Published"/>), or null.</param>
/// <param name="Relation">How a run's value should relate to it, shown before it: "" (compare) or "&gt;= " (a minimum).</param>
public sealed record Headline(string Key, string Title, Func<RunResultsRecord, double?> Read, PublishedValue? Value = null, string Relation = "")
{
    /// <summary>The published value as tables show it (e.g. "63.3%", "&gt;= 80%"), or null.</summary>
    public string? Published => Value is null ? null : Relation + Experiment.Published.Percent(Value);

    /// <summary>How many points the fraction is measured on (the test set unless said otherwise).</summary>
    public Func<RunResultsRecord, long?> Count { get; init; } = r => r.Data?.Test;

    /// <summary>The results.json path of <see cref="Count"/>.</summary>
    public string CountKey { get; init; } = RunResultsRecord.PathOf(nameof(RunResultsRecord.Data), nameof(DataResult.Test));

    /// <summary>The interval shown beside the value ([lo, hi]), when the run records one.</summary>
    public Func<RunResultsRecord, IReadOnlyList<double>?>? Interval { get; init; }

    /// <summary>The row of this number in <paramref name="results"/>, null when the run has not recorded it.</summary>
    public HeadlineRow? Row(RunResultsRecord results)
    {
        ArgumentNullException.ThrowIfNull(results);
        if (Read(results) is not double v || !double.IsFinite(v)) return null;
        var text = HeadlineRow.Percent(v);
        if (Interval?.Invoke(results) is { Count: 2 } ci) text += $" [{HeadlineRow.Percent(ci[0])}, {HeadlineRow.Percent(ci[1])}]";
        return new HeadlineRow(this, v, text);
    }
}

/// <summary>One headline number of a run as every summary table shows it.</summary>
/// <param name="Headline">Which number.</param>
/// <param name="Value">Its value (a fraction in [0, 1]).</param>
/// <param name="Text">Its value as the tables show it: percent with one decimal, and its interval when recorded, e.g. "18.1% [17.3%, 18.8%]".</param>
public sealed record HeadlineRow(Headline Headline, double Value, string Text)
{
    /// <summary>The label.</summary>
    public string Label => Headline.Title;

    /// <summary>The published value as tables show it, "" when there is none.</summary>
    public string Published => Headline.Published ?? "";

    /// <summary>Where the published value comes from, "" when there is none.</summary>
    public string Source => Headline.Value?.Source ?? "";

    /// <summary>A fraction as the summary tables show it, e.g. "18.1%".</summary>
    public static string Percent(double v) => (100 * v).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture) + "%";

    /// <summary>The rows of every headline number <paramref name="results"/> records, in catalog order.</summary>
    public static IReadOnlyList<HeadlineRow> Of(RunResultsRecord results) =>
        StepCatalog.Headlines.Select(h => h.Row(results)).OfType<HeadlineRow>().ToList();
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
    public string SecondsKey => ResultsFile.SecondsPath(Key);

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
    static string At(params string[] members) => RunResultsRecord.PathOf(members);

    public static StepInfo Standard { get; } = new("standardModel", "standard model", At(nameof(RunResultsRecord.StandardModel)))
    {
        Execute = (r, ct) => r.StandardModel(ct),
        Headlines = [new(At(nameof(RunResultsRecord.StandardModel), nameof(StandardModelResult.TestAccuracy)), "standard model, clean test accuracy",
            r => r.StandardModel?.TestAccuracy, Published.StandardAccuracy)],
    };
    public static StepInfo DRand { get; } = new("dRand", "D_rand (targeted PGD)", At(nameof(RunResultsRecord.Adversarial), AdversarialSet.DRand.ResultsKey))
    {
        Execute = (r, ct) => r.AdversarialSet(AdversarialKind.Random, ct),
        Headlines = [AttackSuccess(AdversarialSet.DRand, "targeted PGD success, D_rand", a => a.Drand)],
    };
    public static StepInfo DDet { get; } = new("dDet", "D_det (targeted PGD)", At(nameof(RunResultsRecord.Adversarial), AdversarialSet.DDet.ResultsKey))
    {
        Execute = (r, ct) => r.AdversarialSet(AdversarialKind.Deterministic, ct),
        Headlines = [AttackSuccess(AdversarialSet.DDet, "targeted PGD success, D_det", a => a.Ddet)],
    };
    public static StepInfo TransferRand { get; } = new("transferRand", "training on D_rand", At(nameof(RunResultsRecord.Transfer), AdversarialSet.DRand.ResultsKey))
    {
        Execute = (r, ct) => r.TransferModel(AdversarialKind.Random, ct),
        Headlines = [new(At(nameof(RunResultsRecord.Transfer), AdversarialSet.DRand.ResultsKey), "trained on D_rand, clean test accuracy", r => r.Transfer?.Drand, Published.TransferDRand)],
    };
    public static StepInfo TransferDet { get; } = new("transferDet", "training on D_det", At(nameof(RunResultsRecord.Transfer), AdversarialSet.DDet.ResultsKey))
    {
        Execute = (r, ct) => r.TransferModel(AdversarialKind.Deterministic, ct),
        Headlines = [new(At(nameof(RunResultsRecord.Transfer), AdversarialSet.DDet.ResultsKey), "trained on D_det, clean test accuracy", r => r.Transfer?.Ddet, Published.TransferDDet)],
    };
    public static StepInfo Robust { get; } = new("robustModel", "robust linear classifier C", At(nameof(RunResultsRecord.RobustModel)))
    {
        Execute = (r, ct) => r.RobustModel(ct),
        Headlines =
        [
            new(At(nameof(RunResultsRecord.RobustModel), nameof(CertificateResult.Spec2)), "robust C: Spec 2 (configured units)",
                r => r.RobustModel?.Spec2, Published.Spec2Minimum, ">= "),
            new(At(nameof(RunResultsRecord.RobustModel), nameof(CertificateResult.OtherUnits), nameof(CertificateResult.Spec2)), "robust C: Spec 2 (other units)",
                r => r.RobustModel?.OtherUnits?.Spec2),
        ],
    };
    public static StepInfo Leakage { get; } = new("leakage", "leakage probes", At(nameof(RunResultsRecord.Leakage)))
    {
        Execute = (r, ct) => r.Leakage(ct),
        Headlines =
        [
            new(At(nameof(RunResultsRecord.Leakage), nameof(LeakageResult.Drand)), "leakage probe on D_rand", r => r.Leakage?.Drand, Published.LeakageDRand)
                { Interval = r => r.Leakage?.Intervals?.Drand },
            new(At(nameof(RunResultsRecord.Leakage), nameof(LeakageResult.Ddet)), "leakage probe on D_det", r => r.Leakage?.Ddet, Published.LeakageDDet)
                { Interval = r => r.Leakage?.Intervals?.Ddet },
            LeakageControl(nameof(LeakageControlsSet.CleanD), "control: probe on clean D", c => c.CleanD),
            LeakageControl(nameof(LeakageControlsSet.DrandRandomFeatures), "control: D_rand, random features", c => c.DrandRandomFeatures),
            LeakageControl(nameof(LeakageControlsSet.DdetRandomFeatures), "control: D_det, random features", c => c.DdetRandomFeatures),
            LeakageControl(nameof(LeakageControlsSet.DrandTargetNotLabel), "control: D_rand with target ≠ label", c => c.DrandTargetNotLabel),
            LeakageControl(nameof(LeakageControlsSet.MajorityClass), "control: majority class", c => c.MajorityClass),
        ],
    };
    public static StepInfo DOther { get; } = new("dOther", "D_other (targeted PGD, control)", At(nameof(RunResultsRecord.Adversarial), AdversarialSet.DOther.ResultsKey))
    {
        Execute = (r, ct) => r.AdversarialSet(AdversarialKind.Other, ct),
        OptIn = s => s.Controls.Enabled,
        Headlines = [AttackSuccess(AdversarialSet.DOther, "targeted PGD success, D_other (control)", a => a.Dother)],
    };
    public static StepInfo Controls { get; } = new("controls", "leakage controls", ControlsStep.ResultsKey)
    {
        Execute = (r, ct) => r.Controls(ct),
        OptIn = s => s.Controls.Enabled,
    };
    public static StepInfo Nonlinear { get; } = new("nonlinear", "robust CNN (adversarial training)", At(nameof(RunResultsRecord.Beyond), nameof(BeyondSection.Nonlinear)))
    {
        Execute = (r, ct) => r.NonlinearFeatures(ct),
        BeyondSettings = ["nonlinear", "nonlinearRadius", "nonlinearEpochs", "nonlinearPgdSteps", "nonlinearCheckpoint"],
        IsOn = b => b.Nonlinear,
    };
    public static StepInfo RadiusSweep { get; } = new("radiusSweep", "radius sweep of C", At(nameof(RunResultsRecord.Beyond), nameof(BeyondSection.RadiusSweep)))
    {
        Execute = (r, ct) => r.RadiusSweep(ct),
        BeyondSettings = ["sweepRadii"],
        IsOn = b => b.SweepRadii.Length > 0,
    };
    public static StepInfo Released { get; } = new("released", "released data sets", At(nameof(RunResultsRecord.Beyond), nameof(BeyondSection.Released)))
    {
        Execute = (r, ct) => r.ReleasedLeakage(ct),
        BeyondSettings = ["releasedData"],
        IsOn = b => b.ReleasedData != null,
    };
    public static StepInfo ProbeSeeds { get; } = new("probeSeeds", "probe over seeds of C", At(nameof(RunResultsRecord.Beyond), nameof(BeyondSection.ProbeSeeds)))
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

    /// <summary>
    /// The leakage controls' numbers (<c>controls.enabled</c>), per row of <c>controls.rows</c>: the clean test accuracy of
    /// the transfer model trained on the set and Goh's probe on it. Their keys (<c>controls.&lt;kind&gt;.transferAccuracy</c>,
    /// <c>controls.&lt;kind&gt;.probe</c>, the kind as results.json names it) name the row rather than a path, since the rows
    /// are an array. <c>compare</c> shows them beside the headlines; the summaries show the controls' own table instead.
    /// </summary>
    public static IReadOnlyList<Headline> ControlHeadlines { get; } = Enum.GetValues<ControlKind>().SelectMany(ControlRowHeadlines).ToArray();

    static IEnumerable<Headline> ControlRowHeadlines(ControlKind kind)
    {
        // The kind as results.json writes it (its JsonStringEnumMemberName), through the serializer that writes the rows.
        var name = System.Text.Json.JsonSerializer.SerializeToNode(kind, ResultsJsonContext.Default.ControlKind)!.GetValue<string>();
        var label = ControlRow.LabelOf(kind);
        Func<RunResultsRecord, long?> count = r => r.Controls?.Row(kind) is not null ? r.Controls.TestImages : null;
        var countKey = At(nameof(RunResultsRecord.Controls), nameof(ControlsResult.TestImages));
        yield return new($"{ControlsStep.ResultsKey}.{name}.{At(nameof(ControlRow.TransferAccuracy))}",
            $"control {label}: trained on it, clean test accuracy", r => r.Controls?.Row(kind)?.TransferAccuracy) { Count = count, CountKey = countKey };
        yield return new($"{ControlsStep.ResultsKey}.{name}.probe",
            $"control {label}: leakage probe", r => r.Controls?.Row(kind)?.Probe?.Accuracy) { Count = count, CountKey = countKey };
    }

    /// <summary>The step with progress key <paramref name="key"/>, or null.</summary>
    public static StepInfo? Find(string key) => All.FirstOrDefault(s => s.Key == key);

    /// <summary>The readable title of progress key <paramref name="key"/> (the key itself when unknown).</summary>
    public static string Title(string key) => Find(key)?.Title ?? key;

    static Headline AttackSuccess(AdversarialSet set, string title, Func<AdversarialSection, AdversarialResult?> read) =>
        new(At(nameof(RunResultsRecord.Adversarial), set.ResultsKey, nameof(AdversarialResult.AttackSuccess)), title,
            r => r.Adversarial is { } a ? read(a)?.AttackSuccess : null)
        {
            Count = r => r.Adversarial is { } a ? read(a)?.Images : null,
            CountKey = At(nameof(RunResultsRecord.Adversarial), set.ResultsKey, nameof(AdversarialResult.Images)),
        };

    static Headline LeakageControl(string member, string title, Func<LeakageControlsSet, EntryResult?> entry) =>
        new(At(nameof(RunResultsRecord.Leakage), nameof(LeakageResult.Controls), member, nameof(EntryResult.Accuracy)), title,
            r => r.Leakage?.Controls is { } c ? entry(c)?.Accuracy : null);
}
