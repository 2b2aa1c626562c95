using System.Globalization;
using Leakage.Probes;

namespace Leakage.Experiment;

/// <summary>
/// One of Goh's probes as the first screen shows it: the probe, its matched null (the same probe on
/// the clean originals with the same labels), the excess with its interval, the verdict in the words
/// of results.json, and Goh's published figure.
/// </summary>
/// <remarks>A results.json written before probes were compared with their nulls has no interval of the excess:
/// <see cref="ExcessLo"/>, <see cref="ExcessHi"/> and <see cref="IntervalCovers"/> are null and the verdict is <see cref="RunAnswer.NotTested"/>.</remarks>
public sealed record AnswerRow(string Set, double Probe, double Null, double Excess, double? ExcessLo, double? ExcessHi,
    string? IntervalCovers, string Verdict, PublishedValue Goh)
{
    /// <summary>The excess with its interval in percentage points, e.g. "+5.2 [+3.7, +6.8]".</summary>
    public string ExcessText => FormatExcess(Excess, ExcessLo, ExcessHi);

    /// <summary>An excess with its interval in percentage points, e.g. "+5.2 [+3.7, +6.8]" ("(no interval)" without one).</summary>
    public static string FormatExcess(double excess, double? lo, double? hi) =>
        lo is double l && hi is double h ? $"{Points(excess)} [{Points(l)}, {Points(h)}]" : $"{Points(excess)} (no interval)";

    static string Points(double v) => (100 * v).ToString("+0.0;-0.0;0.0", CultureInfo.InvariantCulture);
}

/// <summary>
/// What a finished run answers to "did it reproduce?", read from its results.json through the typed
/// records that wrote it: Goh's two probes against their nulls (<see cref="Leakage"/>) and one line
/// that says which profile made the run and how its settings stand to the paper's (<see cref="Setting"/>).
/// The CLI summary and the report's first screen both lead with it.
/// </summary>
public sealed record RunAnswer(string Setting, IReadOnlyList<AnswerRow> Leakage)
{
    /// <summary>The answer of <paramref name="results"/>; rows the run has not produced yet are left out.</summary>
    public static RunAnswer Of(RunResultsRecord results)
    {
        ArgumentNullException.ThrowIfNull(results);
        var rows = new List<AnswerRow>();
        var leakage = results.Leakage;
        if (leakage?.Comparisons is { } c)
        {
            foreach (var (set, comparison, goh) in new[] { ("D_rand", c.Drand, Published.LeakageDRand), ("D_det", c.Ddet, Published.LeakageDDet) })
                if (comparison is { ExcessInterval.Count: 2 })
                    rows.Add(new AnswerRow(set, comparison.Accuracy, comparison.NullAccuracy, comparison.ExcessOverNull,
                        comparison.ExcessInterval[0], comparison.ExcessInterval[1], comparison.IntervalCovers, Verdict(comparison), goh));
        }
        else if (leakage is not null && results.LeakageControls is { } nulls)
        {
            // An older results.json: the probes and their nulls, without a comparison of the two.
            foreach (var (set, probe, @null, goh) in new[] { ("D_rand", leakage.Drand, nulls.DrandClean, Published.LeakageDRand), ("D_det", leakage.Ddet, nulls.DdetClean, Published.LeakageDDet) })
                if (@null is not null)
                    rows.Add(new AnswerRow(set, probe, @null.Accuracy, probe - @null.Accuracy, null, null, null, NotTested, goh));
        }
        return new RunAnswer(SettingLine(results), rows);
    }

    /// <summary>The verdict of a probe that its results.json does not compare with its null.</summary>
    public const string NotTested = "not compared";

    /// <summary>
    /// The verdict results.json records; for a first-pass file (no <c>verdict</c>), the same rule on its
    /// recorded interval (<see cref="ExcessUncertainty.FromFirstPass"/>): undecided whenever the interval
    /// touches zero within its Monte-Carlo error.
    /// </summary>
    public static string Verdict(ComparisonResult c) =>
        c.Verdict ?? ExcessUncertainty.FromFirstPass(c.ExcessOverNull, new ConfidenceInterval(c.ExcessInterval[0], c.ExcessInterval[1], 0.95),
            c.TrainingResamples ?? 0, c.IntervalCovers).Verdict;

    /// <summary>What a verdict says in a sentence, for the row of <paramref name="row"/>.</summary>
    public static string Meaning(AnswerRow row) => row.Verdict switch
    {
        "above" => $"{row.Set}: the probe beats its null, so robust features leaked into the attack's labels.",
        "below" => $"{row.Set}: the probe falls below its null.",
        NotTested => $"{row.Set}: this results.json predates the comparison of each probe with its null.",
        _ => $"{row.Set}: the probe cannot be told from its null at this size.",
    };

    /// <summary>
    /// The run's profile, data, attacked model and attack beside the paper's, and what the profile is for.
    /// </summary>
    static string SettingLine(RunResultsRecord results)
    {
        var profile = results.Profile ?? "custom";
        var parts = new List<string>();
        if (results.Data is { } data)
            parts.Add($"{data.Train.ToString("N0", CultureInfo.InvariantCulture)} training images");
        if (results.StandardModel is { } model)
            parts.Add($"{model.Arch} at {Percent(model.TestAccuracy)}");
        if (results.Adversarial?.Drand is { } attack)
            parts.Add($"{attack.Steps} PGD steps of {Number(attack.Step)} at eps {Number(attack.Eps)} ({Percent(attack.AttackSuccess)} reach the target)");
        var ours = parts.Count == 0 ? "" : $": {string.Join(", ", parts)}";
        return $"Profile {profile}{ours}. The paper: 50,000 training images, ResNet-50 at {Published.Percent(Published.StandardAccuracy)}, " +
               $"100 PGD steps of 0.1 at eps 0.5. {Profiles.Purpose(profile)}";
    }

    static string Percent(double v) => (100 * v).ToString("0.0", CultureInfo.InvariantCulture) + "%";

    static string Number(double v) => v.ToString("0.###", CultureInfo.InvariantCulture);
}
