using Leakage.Scale;
using Leakage.Experiment;
using Leakage.IO;

namespace Leakage.Experiment.Scaling;

/// <summary>
/// The seeds of a seed study (<see cref="SeedStudy"/>) as work units <c>seed-&lt;n&gt;</c> on a board in
/// the study folder: <c>seeds --shard k/n</c> runs the seeds at positions i with i mod n = k, each
/// claimed; a plain <c>seeds</c> afterwards waits for seeds a live worker holds, reuses every
/// finished run folder and writes the statistics.
/// </summary>
public static class SeedUnits
{
    static string Unit(long seed) => Path.GetFileName(SeedStudy.SeedFolder("", seed));

    static string FingerprintOf(ExperimentSettings settings) => UnitBoard.FingerprintOf(Artifacts.ToNode(settings).ToJsonString());

    static UnitBoard Board(ExperimentSettings settings, IReadOnlyList<long> seeds, string outDirectory, Action<string>? log)
    {
        var board = new UnitBoard(outDirectory, log);
        board.Plan("seeds", [.. seeds.Select(Unit)], FingerprintOf(settings with { Seed = seeds[0] }));
        return board;
    }

    /// <summary>Runs the seeds of <paramref name="shard"/> (by position in <paramref name="seeds"/>) and returns the seeds it ran.</summary>
    public static IReadOnlyList<long> RunShard(ExperimentSettings settings, IReadOnlyList<long> seeds, string outDirectory, Shard shard,
        Func<ExperimentSettings, string, RunResultsRecord> runOne, Action<string>? log = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(runOne);
        if (seeds.Count == 0) throw new ArgumentException("A seed study needs at least one seed.", nameof(seeds));
        var full = Path.GetFullPath(outDirectory);
        var board = Board(settings, seeds, full, log);
        var ran = new List<long>();
        for (int i = 0; i < seeds.Count; i++)
        {
            if (!shard.Owns(i)) continue;
            ct.ThrowIfCancellationRequested();
            var s = settings with { Seed = seeds[i] };
            using var claim = board.TryClaim(Unit(seeds[i]), out var holder);
            if (claim is null) { log?.Invoke($"Seed {seeds[i]}: held by {holder}; left to it."); continue; }
            var clock = System.Diagnostics.Stopwatch.StartNew();
            log?.Invoke($"Seed {seeds[i]} (shard {shard}): run folder {SeedStudy.SeedFolder(full, seeds[i])}.");
            runOne(s, SeedStudy.SeedFolder(full, seeds[i]));
            board.MarkDone(Unit(seeds[i]), FingerprintOf(s), clock.Elapsed.TotalSeconds);
            ran.Add(seeds[i]);
        }
        return ran;
    }

    /// <summary>
    /// Wraps the single run of a plain study: a seed a live worker holds is waited for, then run
    /// (which reuses the finished folder); any other seed is claimed while it runs.
    /// </summary>
    public static Func<ExperimentSettings, string, RunResultsRecord> Cooperative(ExperimentSettings settings, IReadOnlyList<long> seeds, string outDirectory,
        Func<ExperimentSettings, string, RunResultsRecord> runOne, Action<string>? log = null, CancellationToken ct = default)
    {
        var board = Board(settings, seeds, Path.GetFullPath(outDirectory), log);
        return (s, folder) =>
        {
            var unit = Unit(s.Seed);
            var fingerprint = FingerprintOf(s);
            while (true)
            {
                using var claim = board.TryClaim(unit, out var holder);
                if (claim is null)
                {
                    log?.Invoke($"Seed {s.Seed}: waiting for {holder}.");
                    board.WaitWhileHeld(unit, () => board.Done(unit)?.Fingerprint == fingerprint, TimeSpan.FromSeconds(5), ct);
                    continue;
                }
                var clock = System.Diagnostics.Stopwatch.StartNew();
                var results = runOne(s, folder);
                if (board.Done(unit)?.Fingerprint != fingerprint) board.MarkDone(unit, fingerprint, clock.Elapsed.TotalSeconds);
                return results;
            }
        };
    }
}
