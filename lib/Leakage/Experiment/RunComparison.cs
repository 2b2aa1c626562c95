using System.Text.Json;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Leakage.IO;

namespace Leakage.Experiment;

/// <summary>One headline number of two runs, their difference, and the noise it is judged against.</summary>
/// <param name="Headline">Which number (a fraction of test points).</param>
/// <param name="Reference">Its value in the reference run.</param>
/// <param name="Other">Its value in the run compared with it.</param>
/// <param name="Points">How many points (test images, or attacked images) each value is measured on.</param>
/// <param name="SeedSd">
/// The number's spread over seeds (sample standard deviation, from a <c>seeds.json</c> of the same
/// profile), or null when no study measured it.
/// </param>
public sealed record HeadlineDifference(Headline Headline, double Reference, double Other, int Points, double? SeedSd)
{
    /// <summary>Other minus reference.</summary>
    public double Difference => Other - Reference;

    /// <summary>
    /// Half-width of a 95% interval of the difference of two fractions each measured on
    /// <see cref="Points"/> independent points (1.96 sqrt(p(1-p)/n + q(1-q)/n)): what the choice of
    /// points alone moves a difference by.
    /// </summary>
    public double PointsHalfWidth => 1.96 * Math.Sqrt((Reference * (1 - Reference) + Other * (1 - Other)) / Points);

    /// <summary>
    /// Half-width of a 95% interval of the difference of two independent runs, from the spread over
    /// seeds (1.96 sqrt(2) sd), which carries every draw a run makes; null without a seed study.
    /// </summary>
    public double? SeedHalfWidth => SeedSd is double sd ? 1.96 * Math.Sqrt(2) * sd : null;

    /// <summary>The yardstick the difference is judged by: the seed spread where measured, else the test points.</summary>
    public double Noise => SeedHalfWidth ?? PointsHalfWidth;

    /// <summary>Whether the two runs agree within <see cref="Noise"/>.</summary>
    public bool WithinNoise => Math.Abs(Difference) <= Noise;
}

/// <summary>
/// Two runs' <c>results.json</c> side by side: every headline number of the <see cref="StepCatalog"/>
/// (and the leakage controls' transfer and probe, <see cref="StepCatalog.ControlHeadlines"/>, where both runs have them)
/// with its difference and whether that is within noise, the settings that differ, and each step's
/// compute time. Answers "did a rerun of the same command, on another machine, land where the
/// recorded one did?"
/// </summary>
public sealed class RunComparison
{
    RunComparison(IReadOnlyList<HeadlineDifference> rows, IReadOnlyList<Headline> missing, IReadOnlyList<Headline> notRun,
        IReadOnlyList<string> settingsDifferences, IReadOnlyList<(StepInfo Step, double Reference, double Other)> seconds)
    {
        Rows = rows;
        Missing = missing;
        NotRun = notRun;
        SettingsDifferences = settingsDifferences;
        Seconds = seconds;
    }

    /// <summary>
    /// Headline numbers the reference reports and the compared run does not although its settings ask for
    /// them: its steps have not finished (or it failed). A comparison with any is incomplete.
    /// </summary>
    public IReadOnlyList<Headline> Missing { get; }

    /// <summary>Numbers the reference reports from steps the compared run's settings leave off (the leakage controls, an extension): named, not a failure.</summary>
    public IReadOnlyList<Headline> NotRun { get; }

    /// <summary>Whether the compared run reports every headline number of the reference that its settings ask for.</summary>
    public bool Complete => Missing.Count == 0;

    /// <summary>What <c>compare</c>'s exit code says: complete, and every number within noise.</summary>
    public bool Agrees => Complete && AllWithinNoise;

    /// <summary>One row per headline number that both runs report, in catalog order.</summary>
    public IReadOnlyList<HeadlineDifference> Rows { get; }

    /// <summary>Settings whose values differ (dotted path: reference value -> other value); empty when the runs are the same command.</summary>
    public IReadOnlyList<string> SettingsDifferences { get; }

    /// <summary>Compute time of each step both runs timed, in seconds.</summary>
    public IReadOnlyList<(StepInfo Step, double Reference, double Other)> Seconds { get; }

    /// <summary>The machine each run was computed on (its results.json <c>provenance</c>), null where the file has none.</summary>
    public (Compute.Provenance? Reference, Compute.Provenance? Other) Machines { get; private init; }

    /// <summary>Whether every headline number both runs report agrees within its noise.</summary>
    public bool AllWithinNoise => Rows.All(r => r.WithinNoise);

    /// <summary>Compares two runs' results.</summary>
    /// <param name="reference">The recorded run.</param>
    /// <param name="other">The run compared with it.</param>
    /// <param name="seedStudy">A <c>seeds.json</c> content of the same profile, whose standard deviations become the yardstick; optional.</param>
    /// <exception cref="ArgumentException">A run without the number of points a headline is measured on, or with a different one.</exception>
    public static RunComparison Compare(RunResultsRecord reference, RunResultsRecord other, JsonObject? seedStudy = null)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(other);
        var rows = new List<HeadlineDifference>();
        var missing = new List<Headline>();
        var notRun = new List<Headline>();
        var headlines = StepCatalog.All.SelectMany(step => step.Headlines.Select(h => (Step: step, Headline: h)))
            .Concat(StepCatalog.ControlHeadlines.Select(h => (Step: StepCatalog.Controls, Headline: h)));
        foreach (var (step, h) in headlines)
        {
            if (h.Read(reference) is not double a) continue;
            if (h.Read(other) is not double b)
            {
                (AsksFor(other.Settings, step) ? missing : notRun).Add(h);
                continue;
            }
            int n = Count(reference, h, "reference"), m = Count(other, h, "compared");
            if (m != n)
                throw new ArgumentException($"{h.Title}: the runs measured it on different numbers of points ({n} against {m}); compare runs of one data set.");
            double? sd = seedStudy?["statistics"]?[h.Key]?["standardDeviation"] is JsonValue v && v.TryGetValue<double>(out var s) && double.IsFinite(s) ? s : null;
            rows.Add(new HeadlineDifference(h, a, b, n, sd));
        }
        var differences = new List<string>();
        var settingsKey = RunResultsRecord.PathOf(nameof(RunResultsRecord.Settings));
        Diff(SettingsNode(reference), SettingsNode(other), settingsKey, differences);
        var seconds = StepCatalog.All
            .Select(s => (Step: s, A: reference.SecondsOf(s.Key), B: other.SecondsOf(s.Key)))
            .Where(t => t.A is double && t.B is double)
            .Select(t => (t.Step, t.A!.Value, t.B!.Value)).ToList();
        return new RunComparison(rows, missing, notRun, differences, seconds) { Machines = (reference.Provenance, other.Provenance) };
    }

    /// <summary>Whether <paramref name="settings"/> run <paramref name="step"/>; every step when a results.json records no settings.</summary>
    static bool AsksFor(ExperimentSettings? settings, StepInfo step) =>
        settings is null || step.Runs(settings with { Controls = settings.Controls ?? new(), Beyond = settings.Beyond ?? new() }); // null in results written before they existed

    static JsonNode? SettingsNode(RunResultsRecord r) => r.Settings is { } s ? JsonSerializer.SerializeToNode(s, ResultsJsonContext.Default.ExperimentSettings) : null;

    /// <summary>One line naming a machine: CPU, core generation, threads.</summary>
    public static string Describe(Compute.Provenance? p) =>
        p is null ? "not recorded" : $"{p.CpuModel}{(p.CpuCore is { } c ? $", {c}" : "")}, {p.Threads} threads, libtorch {p.Libtorch}";

    /// <summary>File name of a seed study that <see cref="Compare(string, string, string?)"/> takes by default from the reference's folder.</summary>
    public const string SeedStudyFileName = "seeds.json";

    /// <summary>
    /// Reads two results.json files; a missing or malformed file is named in the message. The noise comes from
    /// <paramref name="seedStudyFile"/>, else from a <see cref="SeedStudyFileName"/> beside the reference (a recorded
    /// run's seed study), else from the test points alone.
    /// </summary>
    /// <exception cref="ArgumentException">The seed study is of another profile than the reference run.</exception>
    public static RunComparison Compare(string referenceFile, string otherFile, string? seedStudyFile = null)
    {
        var reference = ResultsFile.Load(referenceFile);
        var beside = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(referenceFile))!, SeedStudyFileName);
        seedStudyFile ??= File.Exists(beside) ? beside : null;
        var study = seedStudyFile is null ? null : JsonFile.ReadObject(seedStudyFile);
        if (study?["profile"]?.GetValue<string>() is string studied && reference.Settings?.Profile is string profile && studied != profile)
            throw new ArgumentException($"{seedStudyFile}: a seed study of profile '{studied}', but the reference run is of '{profile}'; pass --seeds with a study of '{profile}'.");
        var comparison = Compare(reference, ResultsFile.Load(otherFile), study);
        // Named by its folder and file, never a machine path (comparison.md is recorded in docs/results).
        comparison.SeedStudy = seedStudyFile is null ? null : $"{Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(seedStudyFile)))}/{Path.GetFileName(seedStudyFile)}";
        return comparison;
    }

    /// <summary>The seed study whose spread is the noise (its folder and file name), or null when the noise is the test points alone.</summary>
    public string? SeedStudy { get; private set; }

    static int Count(RunResultsRecord results, Headline h, string which) =>
        h.Count(results) is long d && d >= 1 ? (int)d
            : throw new ArgumentException($"The {which} results.json has {h.Key} but no {h.CountKey} (how many points it is measured on); it is not a results.json of this project.");

    static void Diff(JsonNode? a, JsonNode? b, string path, List<string> into)
    {
        if (a is JsonObject oa && b is JsonObject ob)
        {
            foreach (var key in oa.Select(p => p.Key).Union(ob.Select(p => p.Key)))
                Diff(oa[key], ob[key], $"{path}.{key}", into);
        }
        else if (!JsonNode.DeepEquals(a, b))
            into.Add($"{path}: {a?.ToJsonString() ?? "absent"} -> {b?.ToJsonString() ?? "absent"}");
    }

    /// <summary>A Markdown report: the settings check, one row per headline number, and the step times.</summary>
    public string ToMarkdown()
    {
        static string P(double v) => (100 * v).ToString("0.00", CultureInfo.InvariantCulture);
        var sb = new StringBuilder();
        sb.AppendLine(SettingsDifferences.Count == 0
            ? "Same settings: the two runs are the same command."
            : $"Settings differ ({SettingsDifferences.Count}): " + string.Join("; ", SettingsDifferences));
        sb.AppendLine();
        sb.AppendLine($"Machines: reference {Describe(Machines.Reference)}; compared {Describe(Machines.Other)}.");
        sb.AppendLine();
        sb.AppendLine(SeedStudy is { } study
            ? $"Noise: the spread of whole runs over seeds ({study}) where it measured the number, else the test points."
            : "Noise: the test points alone (no seed study given or beside the reference). That leaves out the training's own " +
              "randomness, which another CPU class changes as another seed would: a rerun there can differ by more and still be sound.");
        sb.AppendLine();
        sb.AppendLine("| measure | reference | compared | difference (points) | noise, 95% (points) | within noise |");
        sb.AppendLine("|---|---:|---:|---:|---:|---|");
        foreach (var r in Rows)
        {
            string noise = r.SeedHalfWidth is double s ? $"{P(s)} (seeds)" : string.Create(CultureInfo.InvariantCulture, $"{P(r.PointsHalfWidth)} ({r.Points:N0} points)");
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {r.Headline.Title} | {P(r.Reference)}% | {P(r.Other)}% | {(r.Difference >= 0 ? "+" : "")}{P(r.Difference)} | {noise} | {(r.WithinNoise ? "yes" : "**no**")} |");
        }
        if (Missing.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine(CultureInfo.InvariantCulture, $"**Not in the compared run ({Missing.Count}; its steps have not finished, or failed):** {string.Join("; ", Missing.Select(h => h.Title))}.");
        }
        if (NotRun.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine(CultureInfo.InvariantCulture, $"Not compared ({NotRun.Count}; steps the compared run's settings leave off): {string.Join("; ", NotRun.Select(h => h.Title))}.");
        }
        if (Seconds.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine("| step | reference (s) | compared (s) | ratio |");
            sb.AppendLine("|---|---:|---:|---:|");
            foreach (var (step, a, b) in Seconds)
                sb.AppendLine(CultureInfo.InvariantCulture, $"| {step.Title} | {a:0} | {b:0} | {(a > 0 ? (b / a).ToString("0.00", CultureInfo.InvariantCulture) : "–")} |");
        }
        return sb.ToString();
    }

    /// <summary>The comparison as JSON (<c>comparison.json</c>): settings differences, rows and step times.</summary>
    public JsonObject ToJson() => new()
    {
        ["sameSettings"] = SettingsDifferences.Count == 0,
        ["seedStudy"] = SeedStudy,
        ["settingsDifferences"] = new JsonArray(SettingsDifferences.Select(d => (JsonNode)d).ToArray()),
        ["allWithinNoise"] = AllWithinNoise,
        ["complete"] = Complete,
        ["missing"] = new JsonArray(Missing.Select(h => (JsonNode)h.Key).ToArray()),
        ["notRun"] = new JsonArray(NotRun.Select(h => (JsonNode)h.Key).ToArray()),
        ["machines"] = new JsonObject { ["reference"] = Describe(Machines.Reference), ["compared"] = Describe(Machines.Other) },
        ["headlines"] = new JsonObject(Rows.Select(r => KeyValuePair.Create(r.Headline.Key, (JsonNode?)new JsonObject
        {
            ["title"] = r.Headline.Title,
            ["points"] = r.Points,
            ["reference"] = r.Reference,
            ["compared"] = r.Other,
            ["difference"] = r.Difference,
            ["pointsHalfWidth"] = r.PointsHalfWidth,
            ["seedSd"] = r.SeedSd,
            ["noise"] = r.Noise,
            ["withinNoise"] = r.WithinNoise,
        }))),
        ["seconds"] = new JsonObject(Seconds.Select(s => KeyValuePair.Create(s.Step.Key, (JsonNode?)new JsonObject { ["reference"] = s.Reference, ["compared"] = s.Other }))),
    };
}
