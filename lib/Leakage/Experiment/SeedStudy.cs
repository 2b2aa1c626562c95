using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Leakage.IO;
using Leakage.Probes;

namespace Leakage.Experiment;

/// <summary>One headline number over the seeds of a study: its values, mean, spread and range.</summary>
/// <param name="Headline">Which number.</param>
/// <param name="Seeds">The seeds whose runs report it, in study order.</param>
/// <param name="Values">Its value in each of those runs (same order as <paramref name="Seeds"/>); fractions in [0, 1].</param>
public sealed record SeedStatistic(Headline Headline, IReadOnlyList<long> Seeds, IReadOnlyList<double> Values)
{
    /// <summary>Number of runs that report the value.</summary>
    public int Count => Values.Count;

    /// <summary>Arithmetic mean (NaN when no run reports it).</summary>
    public double Mean => SampleStatistics.Mean(Values);

    /// <summary>
    /// Sample standard deviation (divisor n - 1), the seed-to-seed spread of the number; NaN with
    /// fewer than two runs, where it is undefined.
    /// </summary>
    public double StandardDeviation => SampleStatistics.Sd(Values);

    /// <summary>Smallest value (NaN when no run reports it).</summary>
    public double Min => Values.Count == 0 ? double.NaN : Values.Min();

    /// <summary>Largest value (NaN when no run reports it).</summary>
    public double Max => Values.Count == 0 ? double.NaN : Values.Max();
}

/// <summary>One seed's run of a study.</summary>
/// <param name="Seed">The run's seed (<see cref="ExperimentSettings.Seed"/>).</param>
/// <param name="Folder">Its run folder (holding results.json and the artifacts).</param>
/// <param name="Values">Headline values it reports, by <see cref="Headline.Key"/>.</param>
public sealed record SeedRun(long Seed, string Folder, IReadOnlyDictionary<string, double> Values);

/// <summary>The outcome of a seed study: every run and the statistics of each headline number.</summary>
public sealed class SeedStudyResult(ExperimentSettings settings, IReadOnlyList<SeedRun> runs, IReadOnlyList<SeedStatistic> statistics)
{
    /// <summary>The settings shared by all runs (their <see cref="ExperimentSettings.Seed"/> is the first run's).</summary>
    public ExperimentSettings Settings { get; } = settings;

    /// <summary>The runs, in the order the seeds were given.</summary>
    public IReadOnlyList<SeedRun> Runs { get; } = runs;

    /// <summary>One entry per <see cref="SeedStudy.Headlines"/> number reported by at least one run.</summary>
    public IReadOnlyList<SeedStatistic> Statistics { get; } = statistics;

    /// <summary>The seeds, in study order.</summary>
    public IReadOnlyList<long> Seeds => Runs.Select(r => r.Seed).ToList();

    /// <summary>The statistic of <paramref name="key"/> (a <see cref="Headline.Key"/>), or null.</summary>
    public SeedStatistic? this[string key] => Statistics.FirstOrDefault(s => s.Headline.Key == key);

    static JsonNode? Number(double v) => double.IsFinite(v) ? JsonValue.Create(v) : null;

    /// <summary>The content of <c>seeds.json</c>: settings (without the seed), runs and statistics.</summary>
    public JsonObject ToJson()
    {
        var settings = Artifacts.ToNode(Settings).DeepClone().AsObject();
        settings.Remove("seed");
        var statistics = new JsonObject();
        foreach (var s in Statistics)
            statistics[s.Headline.Key] = new JsonObject
            {
                ["title"] = s.Headline.Title,
                ["count"] = s.Count,
                ["mean"] = Number(s.Mean),
                ["standardDeviation"] = Number(s.StandardDeviation),
                ["min"] = Number(s.Min),
                ["max"] = Number(s.Max),
                ["seeds"] = new JsonArray(s.Seeds.Select(x => (JsonNode)x).ToArray()),
                ["values"] = new JsonArray(s.Values.Select(x => (JsonNode)x).ToArray()),
            };
        return new JsonObject
        {
            ["profile"] = Settings.Profile,
            ["seeds"] = new JsonArray(Seeds.Select(x => (JsonNode)x).ToArray()),
            ["settings"] = settings,
            ["runs"] = new JsonArray(Runs.Select(r => (JsonNode)new JsonObject
            {
                ["seed"] = r.Seed,
                ["folder"] = r.Folder,
                ["values"] = new JsonObject(r.Values.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
            }).ToArray()),
            ["statistics"] = statistics,
        };
    }

    /// <summary>A Markdown table: one row per headline number with mean, standard deviation, min, max (percent) and n.</summary>
    public string ToMarkdown()
    {
        static string P(double v) => double.IsFinite(v) ? (100 * v).ToString("0.00", CultureInfo.InvariantCulture) : "–";
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"Seeds {string.Join(", ", Seeds)} (profile {Settings.Profile}); values in percent, standard deviation in percentage points (n - 1).");
        sb.AppendLine();
        sb.AppendLine("| measure | mean | std. dev. | min | max | n | published |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (var s in Statistics)
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"| {s.Headline.Title} | {P(s.Mean)} | {P(s.StandardDeviation)} | {P(s.Min)} | {P(s.Max)} | {s.Count} | {s.Headline.Published ?? ""} |");
        return sb.ToString();
    }
}

/// <summary>
/// Runs the experiment once per seed and reports how much each headline number moves with the seed.
/// A seed changes everything random in a run: the class-stratified data subsets (when
/// <c>data.trainCount</c>/<c>data.testCount</c> are set), the initial weights, the batch order and
/// augmentation, the D_rand targets, the robust classifier's initialisation and the bootstrap. Each
/// seed runs in its own folder <c>&lt;out&gt;/seed-&lt;n&gt;/</c>, so a repeated or extended study
/// reuses every artifact already computed; <c>seeds.json</c> and <c>seeds.md</c> are rewritten
/// (atomically) after each seed.
/// </summary>
public static class SeedStudy
{
    /// <summary>File name of the study's JSON summary in the output folder.</summary>
    public const string FileName = "seeds.json";

    /// <summary>File name of the study's Markdown table in the output folder.</summary>
    public const string TableFileName = "seeds.md";

    /// <summary>
    /// The numbers a study reports (all fractions in [0, 1]): the headline numbers of the <see cref="StepCatalog"/>, then
    /// the leakage controls' rows (<see cref="StepCatalog.ControlHeadlines"/>) where the runs have them, under the keys
    /// <c>compare</c> looks up, so a study of a profile with controls gives their rows a seed spread too.
    /// </summary>
    public static IReadOnlyList<Headline> Headlines { get; } = [.. StepCatalog.Headlines, .. StepCatalog.ControlHeadlines];

    /// <summary>The run folder of <paramref name="seed"/> inside the study folder.</summary>
    public static string SeedFolder(string outDirectory, long seed) =>
        Path.Combine(outDirectory, $"seed-{seed.ToString(CultureInfo.InvariantCulture)}");

    /// <summary>
    /// Parses a seed list: comma-separated non-negative integers and inclusive ranges, e.g.
    /// <c>0,1,2</c> or <c>0-4,10</c>. Duplicates are refused, order is kept.
    /// </summary>
    /// <exception cref="ArgumentException">Empty, malformed, negative or repeated seeds; the message says which.</exception>
    public static IReadOnlyList<long> ParseSeeds(string text)
    {
        var seeds = new List<long>();
        foreach (var part in (text ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var dash = part.IndexOf('-', 1);
            if (dash > 0)
            {
                if (!TryParse(part[..dash], out var lo) || !TryParse(part[(dash + 1)..], out var hi) || hi < lo)
                    throw new ArgumentException($"Seeds '{text}': '{part}' is not a range like 0-4.");
                if (hi - lo >= 1000) throw new ArgumentException($"Seeds '{text}': the range '{part}' has more than 1000 seeds.");
                for (long s = lo; s <= hi; s++) seeds.Add(s);
            }
            else if (TryParse(part, out var s)) seeds.Add(s);
            else throw new ArgumentException($"Seeds '{text}': '{part}' is not a non-negative whole number. Example: --seeds 0,1,2 or --seeds 0-4.");
        }
        if (seeds.Count == 0) throw new ArgumentException("No seeds given. Example: --seeds 0,1,2 or --seeds 0-4.");
        var repeated = seeds.GroupBy(s => s).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        if (repeated.Count > 0) throw new ArgumentException($"Seeds '{text}': {string.Join(", ", repeated)} given more than once.");
        return seeds;

        static bool TryParse(string s, out long v) => long.TryParse(s.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out v);
    }

    /// <summary>Statistics of every headline number over the given runs' results.json contents.</summary>
    /// <param name="settings">The shared settings (any seed).</param>
    /// <param name="runs">Seed, run folder and results of each run, in study order.</param>
    public static SeedStudyResult Aggregate(ExperimentSettings settings, IEnumerable<(long Seed, string Folder, RunResultsRecord Results)> runs)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var seedRuns = runs.Select(r => new SeedRun(r.Seed, r.Folder,
            Headlines.Select(h => (h.Key, Value: h.Read(r.Results)))
                .Where(t => t.Value is double d && double.IsFinite(d))
                .ToDictionary(t => t.Key, t => t.Value!.Value))).ToList();
        var statistics = new List<SeedStatistic>();
        foreach (var h in Headlines)
        {
            var have = seedRuns.Where(r => r.Values.ContainsKey(h.Key)).ToList();
            if (have.Count > 0) statistics.Add(new SeedStatistic(h, have.Select(r => r.Seed).ToList(), have.Select(r => r.Values[h.Key]).ToList()));
        }
        return new SeedStudyResult(settings, seedRuns, statistics);
    }

    /// <summary>
    /// Runs every seed with <see cref="ExperimentRun"/> (reusing each seed folder's artifacts) and writes
    /// <c>seeds.json</c> and <c>seeds.md</c> into <paramref name="outDirectory"/> after each seed.
    /// </summary>
    /// <param name="settings">Settings of every run; only <see cref="ExperimentSettings.Seed"/> changes.</param>
    /// <param name="seeds">Seeds to run, e.g. from <see cref="ParseSeeds"/>.</param>
    /// <param name="dataDirectory">CIFAR-10 folder.</param>
    /// <param name="outDirectory">Study folder; seed n runs in <see cref="SeedFolder"/>.</param>
    /// <param name="observer">Receives the runs' log lines and progress.</param>
    /// <param name="cancellationToken">Stops the current run; finished seeds and artifacts stay on disk.</param>
    public static SeedStudyResult Run(ExperimentSettings settings, IReadOnlyList<long> seeds, string dataDirectory, string outDirectory,
        IRunObserver? observer = null, CancellationToken cancellationToken = default) =>
        Run(settings, seeds, outDirectory, (s, folder) =>
        {
            using var run = ExperimentRun.Open(s, dataDirectory, folder, observer);
            return run.RunAll(cancellationToken);
        }, observer is null ? null : observer.Log, cancellationToken);

    /// <summary>
    /// Like <see cref="Run(ExperimentSettings, IReadOnlyList{long}, string, string, IRunObserver?, CancellationToken)"/>
    /// with the single run supplied by the caller (the CLI uses it to draw progress bars).
    /// </summary>
    /// <param name="settings">Settings of every run; only <see cref="ExperimentSettings.Seed"/> changes.</param>
    /// <param name="seeds">Seeds to run.</param>
    /// <param name="outDirectory">Study folder; seed n runs in <see cref="SeedFolder"/>.</param>
    /// <param name="runOne">Runs the experiment with the given settings in the given folder and returns its results.</param>
    /// <param name="log">Receives one line per seed.</param>
    /// <param name="cancellationToken">Checked between seeds (pass the same token to <paramref name="runOne"/>).</param>
    public static SeedStudyResult Run(ExperimentSettings settings, IReadOnlyList<long> seeds, string outDirectory,
        Func<ExperimentSettings, string, RunResultsRecord> runOne, Action<string>? log = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(seeds);
        ArgumentNullException.ThrowIfNull(runOne);
        if (seeds.Count == 0) throw new ArgumentException("A seed study needs at least one seed.", nameof(seeds));
        if (seeds.Distinct().Count() != seeds.Count) throw new ArgumentException($"Seeds {string.Join(", ", seeds)}: each seed may appear once.", nameof(seeds));
        SettingsOverrides.Validate(settings);
        var full = Path.GetFullPath(outDirectory);
        Directory.CreateDirectory(full);
        var done = new List<(long, string, RunResultsRecord)>();
        SeedStudyResult? result = null;
        for (int i = 0; i < seeds.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var folder = SeedFolder(full, seeds[i]);
            log?.Invoke($"Seed {seeds[i]} ({i + 1} of {seeds.Count}): run folder {folder}.");
            var results = runOne(settings with { Seed = seeds[i] }, folder);
            done.Add((seeds[i], Path.GetRelativePath(full, folder), results));
            result = Aggregate(settings with { Seed = seeds[0] }, done);
            Write(full, result);
        }
        log?.Invoke($"Seed study written to {Path.Combine(full, FileName)} and {Path.Combine(full, TableFileName)}.");
        return result!;
    }

    /// <summary>Writes <c>seeds.json</c> and <c>seeds.md</c> into <paramref name="outDirectory"/>, each atomically.</summary>
    public static void Write(string outDirectory, SeedStudyResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        AtomicFile.WriteAllText(Path.Combine(outDirectory, FileName), result.ToJson().ToJsonString(Artifacts.Json));
        AtomicFile.WriteAllText(Path.Combine(outDirectory, TableFileName), result.ToMarkdown());
    }
}
