using Leakage.Cli.Tests.Support;

namespace Leakage.Cli.Tests;

/// <summary>
/// Several processes on one run folder (issue 12): two plain runs started seconds apart, and shard
/// workers followed by a plain run that finishes, all write the results a single process writes.
/// </summary>
public class ScaleOutTests
{
    [Fact]
    public async Task Two_runs_started_seconds_apart_on_one_folder_both_finish_with_the_single_process_results()
    {
        using var dir = new TempDir();
        var shared = dir["shared"];
        using var first = CliProcess.Start(TestRuns.Experiment(shared), TestRuns.Cache);
        await Task.Delay(TimeSpan.FromSeconds(2));
        using var second = CliProcess.Start(TestRuns.Experiment(shared), TestRuns.Cache);

        var a = await first.WaitAsync(TimeSpan.FromMinutes(8));
        var b = await second.WaitAsync(TimeSpan.FromMinutes(8));

        Assert.True(a.ExitCode == 0, a.ToString());
        Assert.True(b.ExitCode == 0, b.ToString());
        Results.AssertSame(await TestRuns.Reference, shared);
    }

    [Fact]
    public async Task Two_shard_workers_and_a_plain_run_write_the_single_process_results_and_status_shows_every_unit_done()
    {
        using var dir = new TempDir();
        var shared = dir["shared"];
        var shards = await Task.WhenAll(Enumerable.Range(0, 2).Select(k =>
            CliProcess.RunAsync(TestRuns.Experiment(shared).Concat(["--shard", $"{k}/2"]), TestRuns.Cache, TimeSpan.FromMinutes(8))));
        foreach (var s in shards) Assert.True(s.ExitCode == 0, s.ToString());
        Assert.Contains(shards, s => s.Stdout.Contains("Standard model: training"));    // one trains it,
        Assert.Single(shards, s => s.Stdout.Contains("Standard model: training"));       // the other waits and reuses it
        Assert.All(shards, s => Assert.Contains("A plain 'experiment' on", s.Stdout));
        Assert.False(File.Exists(Path.Combine(shared, "d_rand", "metadata.json")));      // shards do not assemble

        var during = await CliProcess.RunAsync(["status", "--out", shared], TestRuns.Cache);
        Assert.True(during.ExitCode == 0, during.ToString());
        Assert.Contains("d_rand/chunk-00000", during.Stdout);
        Assert.Contains("0 claimed", during.Stdout);
        Assert.Contains("0 missing", during.Stdout);

        var finish = await CliProcess.RunAsync(TestRuns.Experiment(shared), TestRuns.Cache, TimeSpan.FromMinutes(8));
        Assert.True(finish.ExitCode == 0, finish.ToString());
        Assert.DoesNotContain("Standard model: training", finish.Stdout);
        Results.AssertSame(await TestRuns.Reference, shared);
    }

    /// <summary>
    /// With the leakage controls on, D_other's chunks are work units like D_rand's: two shards attack
    /// every one of them exactly once (on the controls' 300 images: 5 chunks of 60), and status lists them done.
    /// </summary>
    [Fact]
    public async Task With_the_controls_on_shard_workers_attack_D_other_chunk_by_chunk_too()
    {
        using var dir = new TempDir();
        var shared = dir["shared"];
        var shards = await Task.WhenAll(Enumerable.Range(0, 2).Select(k =>
            CliProcess.RunAsync(TestRuns.Experiment(shared, "controls.enabled=true", "controls.trainCount=300").Concat(["--shard", $"{k}/2"]),
                TestRuns.Cache, TimeSpan.FromMinutes(8))));
        foreach (var s in shards) Assert.True(s.ExitCode == 0, s.ToString());
        Assert.All(shards, s => Assert.Contains("D_other", s.Stdout.Split('\n').Single(l => l.Contains("done: chunks of"))));
        var chunks = Directory.GetDirectories(Path.Combine(shared, "d_other"), "chunk-*", SearchOption.AllDirectories)
            .Where(d => File.Exists(Path.Combine(d, "metadata.json"))).Select(Path.GetFileName).Order().ToList();
        Assert.Equal(["chunk-00000", "chunk-00001", "chunk-00002", "chunk-00003", "chunk-00004"], chunks);

        var status = await CliProcess.RunAsync(["status", "--out", shared], TestRuns.Cache);
        Assert.True(status.ExitCode == 0, status.ToString());
        Assert.Contains("d_other/chunk-00004", status.Stdout);
        Assert.Contains("0 missing", status.Stdout);
    }

    static readonly string[] Sweep = ["--sweep", "0.1,0.5"];
    const string Trains = "Training robust linear classifier";
    static int Count(string text, string what) => text.Split('\n').Count(l => l.Contains(what));

    /// <summary>A single-process run with <see cref="Sweep"/> (shared by the tests of this class; read it, never modify it).</summary>
    static readonly Lazy<Task<(string Folder, CliOutcome Outcome)>> SweepReference = new(async () =>
    {
        var folder = Path.Combine(Path.GetDirectoryName(TestRuns.Cache)!, "reference-sweep"); // removed with the shared reference runs
        var outcome = await CliProcess.RunAsync(TestRuns.Experiment(folder).Concat(Sweep), TestRuns.Cache, TimeSpan.FromMinutes(8));
        Assert.True(outcome.ExitCode == 0, outcome.ToString());
        return (folder, outcome);
    });

    /// <summary>
    /// Two plain runs with <c>--sweep</c> on one folder: each robust linear training (C, its pixel twin,
    /// C at each radius) and the leakage probes are computed once, by whichever run claims them first;
    /// the other waits and loads them, and both write the single-process results.
    /// </summary>
    [Fact]
    public async Task Two_runs_with_sweep_radii_on_one_folder_train_each_C_and_fit_the_leakage_probes_once()
    {
        using var dir = new TempDir();
        var (reference, single) = await SweepReference.Value;
        var shared = dir["shared"];
        using var first = CliProcess.Start(TestRuns.Experiment(shared).Concat(Sweep), TestRuns.Cache);
        await Task.Delay(TimeSpan.FromSeconds(2));
        using var second = CliProcess.Start(TestRuns.Experiment(shared).Concat(Sweep), TestRuns.Cache);
        var runs = new[] { await first.WaitAsync(TimeSpan.FromMinutes(8)), await second.WaitAsync(TimeSpan.FromMinutes(8)) };

        foreach (var r in runs) Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(Count(single.Stdout, Trains), runs.Sum(r => Count(r.Stdout, Trains)));
        Assert.Equal(1, runs.Sum(r => Count(r.Stdout, "Leakage probes: fitting")));
        Assert.Equal(1, runs.Sum(r => Count(r.Stdout, "Leakage probes: reusing")));
        Results.AssertSame(reference, shared);
    }

    /// <summary>
    /// Every radius of <c>--sweep</c> is a unit: the shard it falls to (position mod n) trains C there,
    /// so do the shards for C itself; each training runs once over all workers, status lists every
    /// unit, and the finishing run loads them all and writes the single-process results.
    /// </summary>
    [Fact]
    public async Task Two_shard_workers_with_sweep_radii_and_a_plain_run_train_each_radius_once_and_write_the_single_process_results()
    {
        using var dir = new TempDir();
        var (reference, single) = await SweepReference.Value;
        int robustTrainings = Count(single.Stdout, Trains);
        Assert.True(robustTrainings >= 3, single.Stdout); // C (and its pixel-unit twin) and C at both radii

        var shared = dir["shared"];
        var shards = await Task.WhenAll(Enumerable.Range(0, 2).Select(k =>
            CliProcess.RunAsync(TestRuns.Experiment(shared).Concat(Sweep).Concat(["--shard", $"{k}/2"]), TestRuns.Cache, TimeSpan.FromMinutes(8))));
        foreach (var s in shards) Assert.True(s.ExitCode == 0, s.ToString());
        // Radius i falls to shard i mod 2, and every robust linear training ran in exactly one shard.
        Assert.Contains("sweep/radius-0.1", shards[0].Stdout.Split('\n').Single(l => l.Contains("training units")));
        Assert.Contains("sweep/radius-0.5", shards[1].Stdout.Split('\n').Single(l => l.Contains("training units")));
        Assert.DoesNotContain("sweep/radius-0.5", shards[0].Stdout.Split('\n').Single(l => l.Contains("training units")));
        Assert.Equal(robustTrainings, shards.Sum(s => Count(s.Stdout, Trains)));

        var during = await CliProcess.RunAsync(["status", "--out", shared], TestRuns.Cache);
        Assert.True(during.ExitCode == 0, during.ToString());
        foreach (var unit in new[] { "sweep/radius-0.1", "sweep/radius-0.5", "robust_linear", "standard", "d_det/chunk-00000" })
            Assert.Contains(during.Stdout.Split('\n'), l => l.Contains(unit) && l.Contains("done"));
        Assert.Contains("0 claimed", during.Stdout);
        Assert.Contains("0 missing", during.Stdout);

        var finish = await CliProcess.RunAsync(TestRuns.Experiment(shared).Concat(Sweep), TestRuns.Cache, TimeSpan.FromMinutes(8));
        Assert.True(finish.ExitCode == 0, finish.ToString());
        Assert.Equal(0, Count(finish.Stdout, Trains));                                    // every C was loaded
        Results.AssertSame(reference, shared);
        var after = await CliProcess.RunAsync(["status", "--out", shared], TestRuns.Cache);
        Assert.Contains(after.Stdout.Split('\n'), l => l.Contains("leakage") && l.Contains("done"));
        Assert.Contains("0 missing", after.Stdout);
    }

    [Fact]
    public async Task Status_of_a_folder_that_does_not_exist_is_one_line_naming_it()
    {
        using var dir = new TempDir();
        var outcome = await CliProcess.RunAsync(["status", "--out", dir["nothing-here"]], TestRuns.Cache);
        Assert.Equal(1, outcome.ExitCode);
        var line = Assert.Single(outcome.ErrorLines);
        Assert.Contains(dir["nothing-here"], line);
    }

    [Fact]
    public async Task A_bad_shard_is_refused_with_one_line_before_the_run_folder_is_touched()
    {
        using var dir = new TempDir();
        var outcome = await CliProcess.RunAsync(TestRuns.Experiment(dir["run"]).Concat(["--shard", "3/3"]), TestRuns.Cache);
        Assert.Equal(1, outcome.ExitCode);
        Assert.Contains("k must be 0..2", Assert.Single(outcome.ErrorLines));
        Assert.False(Directory.Exists(dir["run"]));
    }
}
