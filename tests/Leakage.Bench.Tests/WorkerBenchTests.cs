using System.Text.Json.Nodes;
using Leakage.Benchmarks;
using Leakage.Experiment;
using Leakage.Scale;
using Leakage.Tests.Support;

namespace Leakage.Tests;

/// <summary>
/// <c>bench --workers</c>: how a pass is read from its units' done records, and its settings.
/// (The CLI test runs the comparison itself; nothing here judges a time.)
/// </summary>
public sealed class WorkerBenchTests
{
    static void WriteDone(UnitBoard board, string unit, int pid, DateTime finished, double seconds)
    {
        Directory.CreateDirectory(board.Folder);
        File.WriteAllText(Path.Combine(board.Folder, unit + UnitBoard.DoneSuffix), new JsonObject
        {
            ["unit"] = unit, ["fingerprint"] = "fp", ["host"] = "node", ["pid"] = pid,
            ["finished"] = finished.ToString("o"), ["seconds"] = seconds,
        }.ToJsonString());
    }

    [Fact]
    public void A_pass_runs_from_its_first_units_start_to_its_last_units_end_and_counts_its_workers()
    {
        using var dir = new TempDir();
        var board = new UnitBoard(dir.Path);
        board.Plan("D_rand", ["chunk-00000", "chunk-00001", "chunk-00002", "chunk-00003"], "fp");
        board.AddToPlan("D_rand", "assemble"); // not a unit of the attack
        var t0 = new DateTime(2026, 12, 1, 4, 0, 0, DateTimeKind.Utc);
        // Two workers, two units each: 0 and 2 on pid 10 (0 s to 10 s, 10 s to 25 s), 1 and 3 on pid 11 (2 s to 14 s, 14 s to 26 s).
        WriteDone(board, "chunk-00000", 10, t0.AddSeconds(10), 10);
        WriteDone(board, "chunk-00002", 10, t0.AddSeconds(25), 15);
        WriteDone(board, "chunk-00001", 11, t0.AddSeconds(14), 12);
        WriteDone(board, "chunk-00003", 11, t0.AddSeconds(26), 12);

        var pass = WorkerBench.Read(dir.Path, processes: 2, threads: 1, units: 4, 1.5, 2.5, default);

        Assert.Equal("2 workers x 1 thread", pass.Arrangement);
        Assert.Equal((4, 2), (pass.Units, pass.DistinctWorkers));
        Assert.Equal(26, pass.Seconds, 6);
        Assert.Equal(4 * 60 / 26.0, pass.UnitsPerMinute, 9);
        Assert.Equal((12.0, 10.0, 15.0), (pass.UnitSeconds.Median, pass.UnitSeconds.Min, pass.UnitSeconds.Max));
        Assert.Equal((1.5, 2.5), (pass.LoadAverageBefore, pass.LoadAverageAfter));
    }

    [Fact]
    public void A_pass_with_a_unit_that_has_no_done_record_is_refused_naming_the_unit()
    {
        using var dir = new TempDir();
        var board = new UnitBoard(dir.Path);
        board.Plan("D_rand", ["chunk-00000", "chunk-00001"], "fp");
        WriteDone(board, "chunk-00000", 10, DateTime.UtcNow, 1);
        var e = Assert.Throws<InvalidOperationException>(() => WorkerBench.Read(dir.Path, 1, 2, 2, 0, 0, default));
        Assert.Contains("chunk-00001", e.Message);
    }

    [Fact]
    public void The_quick_profile_units_are_chunks_of_its_attack_and_fewer_than_two_workers_are_refused()
    {
        var quick = Profiles.Get("quick");
        var s = WorkerBenchSettings.For(quick, workers: 2, images: 250, unitImages: 50);
        Assert.Equal((5, 50, quick.Attack.Steps), (s.Units, s.Attack.ChunkSize, s.Attack.Steps));
        Assert.Equal(8 * 100, WorkerBenchSettings.For(quick).Images);
        var e = Assert.Throws<ArgumentException>(() => WorkerBenchSettings.For(quick, workers: 1).Validate());
        Assert.Contains("--workers", e.Message);
        Assert.Throws<ArgumentException>(() => WorkerBenchSettings.For(quick, workers: 4, images: 300, unitImages: 100).Validate()); // 3 units for 4 workers
    }
}
