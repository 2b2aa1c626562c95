using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Leakage.Adversarial;
using Leakage.IO;

namespace Leakage.Experiment;

/// <summary>A row of the leakage controls' table: which set, in the table's order.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ControlKind>))]
public enum ControlKind
{
    /// <summary>D_rand itself on the controls' images: the reference the D_rand-rule controls are read against.</summary>
    [JsonStringEnumMemberName("drand")] DRand,
    /// <summary>No attack: each clean image plus the fixed pattern of its D_rand target (or left clean, <see cref="ControlRow.KeptClean"/>).</summary>
    [JsonStringEnumMemberName("drandLeakageOnly")] DRandLeakageOnly,
    /// <summary>D_rand restricted to the images whose attack reached its target.</summary>
    [JsonStringEnumMemberName("drandSuccessful")] DRandSuccessful,
    /// <summary>D_other: attacked towards a target drawn from the 9 classes other than the label.</summary>
    [JsonStringEnumMemberName("dother")] DOther,
    /// <summary>D_det itself on the controls' images.</summary>
    [JsonStringEnumMemberName("ddet")] DDet,
    /// <summary>No attack: each clean image plus the fixed pattern of class y + 1.</summary>
    [JsonStringEnumMemberName("ddetLeakageOnly")] DDetLeakageOnly,
    /// <summary>D_det restricted to the images whose attack reached its target.</summary>
    [JsonStringEnumMemberName("ddetSuccessful")] DDetSuccessful,
}

/// <summary>
/// One control (<c>controls.rows[]</c>): the set, how its targets were drawn, whether an attack made
/// it, how often the standard model classifies its images as their targets (the attack's success; for
/// a leakage-only set the same measure without an attack), the clean test accuracy of a transfer
/// model trained on it, and Goh's probe on it against its matched null. A set with too few images to
/// train on (a successful-only view of an attack that rarely succeeds) has no transfer accuracy and
/// no probe, and says why in <see cref="NotMeasured"/>.
/// </summary>
/// <param name="Kind">Which control.</param>
/// <param name="Set">Its name in tables.</param>
/// <param name="Rule">Target rule: <c>random</c> (D_rand's), <c>deterministic</c> (y + 1) or <c>other</c> (never y).</param>
/// <param name="Attacked">Whether the images were made by the attack (false for the leakage-only sets).</param>
/// <param name="Images">Training images in the set.</param>
/// <param name="AttackSuccess">Fraction of them the standard model classifies as their target (1 for a successful-only view, by construction).</param>
/// <param name="TransferAccuracy">Clean test accuracy of the transfer model trained on the set; null when not measured.</param>
/// <param name="TransferTrainAccuracy">Share of the set's own (target) labels that model fits; null when not measured.</param>
/// <param name="Probe">Goh's probe on the set against the same probe on the clean originals with the same labels; null when not measured.</param>
public sealed record ControlRow(ControlKind Kind, string Set, string Rule, bool Attacked, long Images, [property: Fraction] double AttackSuccess,
    [property: Fraction] double? TransferAccuracy, [property: Fraction] double? TransferTrainAccuracy, ComparisonResult? Probe)
{
    /// <summary>
    /// True when the row is D_rand or D_det on all training images, taken from the main steps
    /// (<c>transfer</c>, <c>leakage.comparisons</c>) rather than measured again.
    /// </summary>
    public bool FromMainSteps { get; init; }

    /// <summary>
    /// A leakage-only set's images left without a pattern because the standard model already classifies
    /// them as their target (Keller Jordan's construction, <c>controls.leakageOnly=keller</c>); null for
    /// the other rows and for Gaussian sets.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public long? KeptClean { get; init; }

    /// <summary>Why the set has no transfer accuracy and no probe (too few images); null when it has them.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? NotMeasured { get; init; }

    /// <summary>The verdict of a row that was not measured.</summary>
    public const string NotMeasuredVerdict = "not measured";

    /// <summary>The excess over the null with its interval in percentage points, e.g. "+5.2 [+3.7, +6.8]"; "-" when not measured.</summary>
    [JsonIgnore]
    public string ExcessText => Probe is not { } p ? "-"
        : AnswerRow.FormatExcess(p.ExcessOverNull, p.ExcessInterval is { Count: 2 } i ? i[0] : null, p.ExcessInterval is { Count: 2 } j ? j[1] : null);

    /// <summary>The verdict as results.json words it (<see cref="RunAnswer.Verdict"/>), or <see cref="NotMeasuredVerdict"/>.</summary>
    [JsonIgnore]
    public string Verdict => Probe is { } p ? RunAnswer.Verdict(p) : NotMeasuredVerdict;

    /// <summary>How results.json names a target rule.</summary>
    public static string RuleName(AdversarialKind rule) => rule.ToString().ToLowerInvariant();

    /// <summary>A label of at most 16 characters for narrow tables (a terminal's 80 columns); <see cref="Set"/> is the full name.</summary>
    [JsonIgnore]
    public string Label => LabelOf(Kind);

    /// <summary>The narrow-table label of a row of <paramref name="kind"/> (<see cref="Label"/>).</summary>
    public static string LabelOf(ControlKind kind) => kind switch
    {
        ControlKind.DRand => "D_rand",
        ControlKind.DRandLeakageOnly => "D_rand leak-only",
        ControlKind.DRandSuccessful => "D_rand successes",
        ControlKind.DOther => "D_other",
        ControlKind.DDet => "D_det",
        ControlKind.DDetLeakageOnly => "D_det leak-only",
        ControlKind.DDetSuccessful => "D_det successes",
        _ => kind.ToString(),
    };
}

/// <summary>
/// <c>controls</c>: the leakage controls beside D_rand and D_det (<see cref="ControlsStep"/>), one row
/// per <see cref="ControlKind"/> in the table's order, all measured on the same training images.
/// </summary>
/// <param name="TrainImages">Training images the controls use (<c>controls.trainCount</c>).</param>
/// <param name="TrainSplit">Training images of the run, of which they are a class-stratified subset (or all).</param>
/// <param name="TestImages">Clean test images of the transfer accuracies and the probes.</param>
/// <param name="PatternNorm">L2 norm of the leakage-only sets' patterns in pixel space (the attack's eps).</param>
/// <param name="Pattern">What the patterns are: <c>tiled</c> (Keller Jordan's construction: tiled patterns, and the images the
/// standard model already classifies as their target left clean) or <c>gaussian</c> (Gaussian noise on every image).</param>
/// <param name="Rows">The controls.</param>
public sealed record ControlsResult(int TrainImages, int TrainSplit, int TestImages, double PatternNorm, string Pattern, IReadOnlyList<ControlRow> Rows)
{
    /// <summary>The row of <paramref name="kind"/>, or null when the run has none.</summary>
    public ControlRow? Row(ControlKind kind) => Rows.FirstOrDefault(r => r.Kind == kind);

    /// <summary>What a leakage-only set is, in one clause for the CLI summary, the report and the notebook.</summary>
    [JsonIgnore]
    public string LeakageOnlyDescription => Pattern == "tiled"
        ? $"no attack: each clean image plus a fixed tiled pattern of L2 norm {PatternNorm.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)} " +
          "for its target class, except the images the standard model already classifies as their target, which stay clean (Keller Jordan's construction)"
        : $"no attack: each clean image plus a fixed {Pattern} pattern of L2 norm {PatternNorm.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)} for its target class";
}

/// <summary>What the controls step keeps in <c>controls/probes/probes.json</c>: each control's probe against its null, and the seconds they took.</summary>
public sealed record ControlProbesCache(IReadOnlyList<ControlProbe> Probes, double Seconds);

/// <summary>One control's probe against its matched null, as results.json records it.</summary>
public sealed record ControlProbe(ControlKind Kind, ComparisonResult Comparison);

/// <summary>
/// How results.json keeps the controls' results (<c>controls.*</c> settings), as <see cref="BeyondResults"/>
/// keeps the extensions': the controls only add results (<c>controls</c>, <c>adversarial.dother</c>), so
/// their settings are not part of the identity <see cref="ResultsFile.Start"/> compares. Switched on with
/// the recorded settings, their results stay; with other settings, they are removed and the new settings
/// recorded; switched off, their results and recorded settings stay. A notebook run with the controls
/// switched on shares results.json with those run without them.
/// </summary>
public static class ControlsResults
{
    /// <summary>Name of the settings section of the controls.</summary>
    public static string SettingsSection { get; } = RunResultsRecord.PathOf(nameof(ExperimentSettings.Controls));

    /// <summary>The settings that identify a run's main results: all but the controls' section.</summary>
    public static JsonNode? Identity(JsonNode? settings)
    {
        if (settings is not JsonObject obj) return settings?.DeepClone();
        var copy = obj.DeepClone().AsObject();
        copy.Remove(SettingsSection);
        return copy;
    }

    /// <summary>
    /// Brings <paramref name="results"/> (a results.json whose other settings match) in line with the
    /// controls' settings of <paramref name="settings"/>: when they are on with settings other than
    /// those recorded, the controls' results and compute times are removed and the new settings
    /// recorded; when they are off, their results and settings stay as they are. Returns a line saying
    /// what was removed, if anything.
    /// </summary>
    public static IReadOnlyList<string> Reconcile(JsonObject results, ExperimentSettings settings)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(settings);
        if (!settings.Controls.Enabled) return [];
        if (results[RunResultsRecord.PathOf(nameof(RunResultsRecord.Settings))] is not JsonObject recorded)
            throw new ArgumentException("results.json has no settings object to reconcile.", nameof(results));
        var wanted = Artifacts.ToNode(settings.Controls);
        if (JsonNode.DeepEquals(recorded[SettingsSection], wanted)) return [];
        var before = recorded[SettingsSection]?.ToJsonString() ?? "unset";
        recorded[SettingsSection] = wanted.DeepClone();
        bool had = false;
        foreach (var step in StepCatalog.ControlSteps)
        {
            had |= ResultsFile.Remove(results, step.ResultsKey);
            ResultsFile.Remove(results, step.SecondsKey);
        }
        return had ? [$"{ControlsStep.ResultsKey}: made with other settings ({SettingsSection}: {before} -> {wanted.ToJsonString()}), removed from results.json with D_other's results"] : [];
    }
}
