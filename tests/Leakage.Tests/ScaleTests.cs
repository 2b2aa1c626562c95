using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Leakage.Adversarial;
using Leakage.IO;
using Leakage.Scale;
using Leakage.Tests.Support;
using static TorchSharp.torch;

namespace Leakage.Tests;

/// <summary>
/// Work units shared by several workers on one run folder: shards partition the units, a claim is
/// exclusive, an abandoned claim is taken over, a waiter waits for a live holder, and writers racing
/// on one artifact neither fail nor leave a mixed or corrupt artifact behind.
/// </summary>
public sealed class ScaleTests(ToyModelFixture toy) : IClassFixture<ToyModelFixture>
{
    const int Gone = 999_999_999; // above any Linux pid_max: no such process

    [Fact]
    public void The_shards_of_one_count_cover_every_unit_exactly_once()
    {
        var names = Enumerable.Range(0, 500).Select(i => $"seed-{i}").Concat(["standard", "transfer_rand", "transfer_det", "robust"]).ToList();
        for (int n = 1; n <= 7; n++)
        {
            var shards = Enumerable.Range(0, n).Select(k => new Shard(k, n)).ToList();
            for (int ordinal = 0; ordinal < 100; ordinal++)
                Assert.Equal(1, shards.Count(s => s.Owns(ordinal)));
            foreach (var name in names)
                Assert.Equal(1, shards.Count(s => s.Owns(name)));
            if (n > 1) Assert.All(shards, s => Assert.Contains(names, s.Owns)); // no shard is empty
        }
        // The hash is fixed by the code, not the runtime: the same on every machine.
        Assert.Equal(0xaf63dc4c8601ec8cUL, Shard.StableHash("a"));
        Assert.Equal(Shard.Parse("1/3"), new Shard(1, 3));
    }

    [Theory]
    [InlineData("3/3", "k must be 0..2")]
    [InlineData("1/0", "at least 1")]
    [InlineData("two/3", "is not k/n")]
    [InlineData("-1/3", "is not k/n")]
    public void A_bad_shard_is_refused_with_one_line_naming_the_option_and_the_valid_range(string text, string expected)
    {
        var e = Assert.Throws<ArgumentException>(() => Shard.Parse(text));
        Assert.Contains("--shard", e.Message);
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Of_many_threads_claiming_one_unit_at_once_exactly_one_gets_it()
    {
        using var dir = new TempDir();
        var board = new UnitBoard(dir.Path);
        const int threads = 24;
        for (int round = 0; round < 10; round++)
        {
            var unit = $"unit-{round}";
            using var start = new Barrier(threads);
            var claims = new ConcurrentBag<UnitClaim>();
            var holders = new ConcurrentBag<ClaimInfo?>();
            var workers = Enumerable.Range(0, threads).Select(_ => new Thread(() =>
            {
                start.SignalAndWait();
                var c = board.TryClaim(unit, out var holder);
                if (c != null) claims.Add(c); else holders.Add(holder);
            })).ToList();
            workers.ForEach(t => t.Start());
            workers.ForEach(t => t.Join());
            var won = Assert.Single(claims);
            Assert.Equal(threads - 1, holders.Count);
            Assert.All(holders, h => Assert.Equal(won.Info.Token, h?.Token)); // each loser saw the winner
            var recorded = board.Holder(unit)!;
            Assert.Equal((Writer.Host, Writer.Pid, won.Info.Token), (recorded.Host, recorded.Pid, recorded.Token));
            won.Dispose();
            Assert.Null(board.Holder(unit));
        }
    }

    [Fact]
    public void Workers_adding_units_to_one_plan_at_the_same_instant_lose_none()
    {
        using var dir = new TempDir();
        const int workers = 16, units = 40;
        using var start = new Barrier(workers);
        var errors = new ConcurrentBag<Exception>();
        var threads = Enumerable.Range(0, workers).Select(w => new Thread(() =>
        {
            try
            {
                var board = new UnitBoard(dir.Path); // each worker its own board object, as separate processes have
                start.SignalAndWait();
                for (int u = 0; u < units; u++)
                {
                    board.AddToPlan("training runs", $"w{w}-u{u}");
                    board.AddToPlan("training runs", "shared");   // the same unit from every worker: listed once
                }
            }
            catch (Exception e) { errors.Add(e); }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());

        Assert.Empty(errors);
        var plan = new UnitBoard(dir.Path).ReadPlan()!.Value;
        Assert.Equal("training runs", plan.Title);
        var expected = Enumerable.Range(0, workers).SelectMany(w => Enumerable.Range(0, units).Select(u => $"w{w}-u{u}")).Append("shared");
        Assert.Equal(expected.Order(StringComparer.Ordinal), plan.Units.Order(StringComparer.Ordinal)); // none lost, none twice
    }

    [Fact]
    public void A_planned_family_keeps_its_listed_units_first_and_adds_the_others_once()
    {
        using var dir = new TempDir();
        var board = new UnitBoard(dir.Path);
        board.Plan("D_rand", ["chunk-00000", "chunk-00001"], "fp");
        board.AddToPlan("ignored", "chunk-00001");
        board.AddToPlan("ignored", "assemble");
        var plan = board.ReadPlan()!.Value;
        Assert.Equal(("D_rand", "fp"), (plan.Title, plan.Fingerprint));
        Assert.Equal(["chunk-00000", "chunk-00001", "assemble"], plan.Units);
    }

    static void WriteClaim(UnitBoard board, string unit, string host, int pid, DateTime lastWrite)
    {
        Directory.CreateDirectory(board.Folder);
        var path = Path.Combine(board.Folder, unit + UnitBoard.ClaimSuffix);
        File.WriteAllText(path, new JsonObject
        {
            ["unit"] = unit, ["host"] = host, ["pid"] = pid, ["since"] = lastWrite.ToString("o"), ["token"] = Guid.NewGuid().ToString("N"),
        }.ToJsonString());
        File.SetLastWriteTimeUtc(path, lastWrite);
    }

    [Fact]
    public void A_claim_whose_process_is_gone_is_taken_over_with_a_log_line()
    {
        using var dir = new TempDir();
        var log = new List<string>();
        var board = new UnitBoard(dir.Path, log.Add);
        WriteClaim(board, "chunk-00001", Writer.Host, Gone, DateTime.UtcNow);

        using var claim = board.TryClaim("chunk-00001", out _);

        Assert.NotNull(claim);
        Assert.Equal(Writer.Pid, board.Holder("chunk-00001")!.Pid);
        var line = Assert.Single(log);
        Assert.Contains("Taking over work unit", line);
        Assert.Contains($"process {Gone} no longer runs on {Writer.Host}", line);
    }

    [Fact]
    public void A_claim_from_another_host_is_respected_while_fresh_and_taken_over_once_older_than_the_timeout()
    {
        using var dir = new TempDir();
        var log = new List<string>();
        var board = new UnitBoard(dir.Path, log.Add, staleAfter: TimeSpan.FromMinutes(5));
        WriteClaim(board, "fresh", "node-elsewhere", 42, DateTime.UtcNow.AddMinutes(-1));
        WriteClaim(board, "old", "node-elsewhere", 42, DateTime.UtcNow.AddMinutes(-20));

        Assert.Null(board.TryClaim("fresh", out var holder));
        Assert.Equal(("node-elsewhere", 42), (holder!.Host, holder.Pid));
        Assert.Empty(log);

        using var taken = board.TryClaim("old", out _);
        Assert.NotNull(taken);
        Assert.Contains(log, l => l.Contains("node-elsewhere pid 42") && l.Contains("not refreshed for"));
    }

    [Fact]
    public void A_held_claim_is_kept_fresh_by_its_worker_and_released_when_disposed()
    {
        using var dir = new TempDir();
        var board = new UnitBoard(dir.Path, staleAfter: TimeSpan.FromMilliseconds(800));
        var claim = board.TryClaim("u", out _)!;
        Thread.Sleep(2000); // well past the timeout: only the heartbeat keeps it

        var other = new UnitBoard(dir.Path, staleAfter: TimeSpan.FromMilliseconds(800));
        Assert.Null(board.Abandoned(other.Holder("u")));
        Assert.Null(other.TryClaim("u", out var holder));
        Assert.Equal(claim.Info.Token, holder!.Token);

        claim.Dispose();
        using var next = other.TryClaim("u", out _);
        Assert.NotNull(next);
    }

    [Fact]
    public async Task A_waiter_waits_for_a_live_holder_and_returns_when_the_unit_is_done()
    {
        using var dir = new TempDir();
        var board = new UnitBoard(dir.Path);
        var claim = board.TryClaim("u", out _)!;
        var finisher = Task.Run(() =>
        {
            Thread.Sleep(600);
            board.MarkDone("u", "fp", 0.6);
            claim.Dispose();
        });
        var clock = System.Diagnostics.Stopwatch.StartNew();

        bool done = board.WaitWhileHeld("u", () => board.Done("u") is { Fingerprint: "fp" }, TimeSpan.FromMilliseconds(50));

        Assert.True(done);
        Assert.True(clock.ElapsedMilliseconds >= 500, "the waiter returned before the holder finished");
        await finisher;
        Assert.Equal(Writer.Pid, board.Done("u")!.Pid);
    }

    [Fact]
    public void A_waiter_returns_without_the_unit_when_its_holder_dies()
    {
        using var dir = new TempDir();
        var board = new UnitBoard(dir.Path);
        WriteClaim(board, "u", Writer.Host, Gone, DateTime.UtcNow);
        Assert.False(board.WaitWhileHeld("u", () => false, TimeSpan.FromMilliseconds(50)));
    }

    /// <summary>
    /// The collision of issue 12: writers of one checkpoint folder, each removing the folder to
    /// rewrite it and removing the others' older folders (what the trainer does every epoch). Each
    /// writer writes its own bytes, so a mixed artifact would be visible.
    /// </summary>
    [Fact]
    public void Writers_racing_on_one_artifact_neither_fail_nor_leave_a_mixed_or_corrupt_artifact()
    {
        using var dir = new TempDir();
        const int writers = 4, epochs = 40;
        var errors = new ConcurrentBag<Exception>();
        int commits = 0;
        var threads = Enumerable.Range(0, writers).Select(w => new Thread(() =>
        {
            try
            {
                for (int e = 1; e <= epochs; e++)
                {
                    var epochDir = dir[$"epoch-{e % 3:D4}"];
                    Artifacts.Delete(epochDir);
                    AtomicFile.CreateFolder(epochDir);
                    var content = Enumerable.Repeat((byte)(w * 50 + e), 200_000 + w).ToArray();
                    AtomicFile.WriteAllBytes(Path.Combine(epochDir, "model.bin"), content);
                    AtomicFile.WriteAllBytes(Path.Combine(epochDir, "optimizer.bin"), content.AsSpan(0, 1000 + w));
                    if (Artifacts.Commit(epochDir, "checkpoint", new { run = 1 }, ["model.bin", "optimizer.bin"], new JsonObject { ["writer"] = w, ["epoch"] = e }))
                        Interlocked.Increment(ref commits);
                    foreach (var other in Directory.GetDirectories(dir.Path, "epoch-*").Where(d => d != epochDir))
                        Artifacts.Delete(other);
                }
            }
            catch (Exception ex) { errors.Add(ex); }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());

        Assert.Empty(errors);
        // How many of the racing writes commit depends on the scheduling (39 of 160 on a loaded 2-core machine):
        // some must, and the race must leave nothing that stops the next writer.
        Assert.True(commits > 0, $"none of the {writers * epochs} racing writes committed");
        var after = dir["after-the-race"];
        AtomicFile.CreateFolder(after);
        AtomicFile.WriteAllBytes(Path.Combine(after, "model.bin"), [1, 2, 3]);
        Assert.True(Artifacts.Commit(after, "checkpoint", new { run = 1 }, ["model.bin"]), "a lone writer could not commit after the race");
        Assert.True(Artifacts.TryValidate(after, "checkpoint", new { run = 1 }, out var reason), reason);
        foreach (var epochDir in Directory.GetDirectories(dir.Path, "epoch-*"))
        {
            if (!Artifacts.TryValidate(epochDir, "checkpoint", new { run = 1 }, out _)) continue; // incomplete: recomputed, never used
            var extra = Artifacts.ReadExtra(epochDir)!;
            int w = (int)extra["writer"]!, e = (int)extra["epoch"]!;
            var model = File.ReadAllBytes(Path.Combine(epochDir, "model.bin"));
            var optimizer = File.ReadAllBytes(Path.Combine(epochDir, "optimizer.bin"));
            Assert.Equal(200_000 + w, model.Length);
            Assert.Equal(1000 + w, optimizer.Length);
            Assert.All(model, b => Assert.Equal((byte)(w * 50 + e), b));
            Assert.All(optimizer, b => Assert.Equal((byte)(w * 50 + e), b));
        }
        Assert.Empty(Directory.GetFiles(dir.Path, "*" + AtomicFile.TempSuffix, SearchOption.AllDirectories));
        Assert.Empty(Directory.GetDirectories(dir.Path, "*" + Artifacts.DeletedSuffix));
    }

    [Fact]
    public void A_temporary_file_of_a_live_writer_on_another_host_is_kept_and_one_of_a_dead_writer_here_removed()
    {
        using var dir = new TempDir();
        var foreign = dir[$".images.bin.{Writer.Pid}@node-elsewhere.{Guid.NewGuid():N}.tmp"];
        var dead = dir[$".images.bin.{Gone}@{Writer.Host}.{Guid.NewGuid():N}.tmp"];
        var oldForeign = dir[$".targets.bin.7@node-elsewhere.{Guid.NewGuid():N}.tmp"];
        foreach (var f in new[] { foreign, dead, oldForeign }) File.WriteAllText(f, "partial");
        File.SetLastWriteTimeUtc(oldForeign, DateTime.UtcNow - AtomicFile.ForeignOrphanAge - TimeSpan.FromHours(1));

        var removed = AtomicFile.RemoveOrphans(dir.Path);

        Assert.Equal(new[] { dead, oldForeign }.Order(), removed.Order());
        Assert.True(File.Exists(foreign)); // same pid number, other machine: not ours to judge
    }

    static readonly AdversarialOptions Options = new() { Steps = 2, ChunkSize = 10, BatchSize = 10, Seed = 7 };

    [Fact]
    public void Shards_compute_only_their_chunks_and_a_plain_build_then_assembles_exactly_the_single_process_data_set()
    {
        using var dir = new TempDir();
        var x = toy.Images.narrow(0, 0, 50);
        var y = toy.Labels.narrow(0, 0, 50);
        using var reference = AdversarialDatasets.Build(AdversarialKind.Random, toy.Model, x, y, Options, dir["single"], CPU);

        var shared = dir["shared"];
        var outcomes = Enumerable.Range(0, 3)
            .Select(k => AdversarialDatasets.BuildShard(AdversarialKind.Random, toy.Model, x, y, Options, shared, CPU, new Shard(k, 3)))
            .ToList();
        Assert.Equal([2, 2, 1], outcomes.Select(o => o.Computed)); // chunks 0,3 / 1,4 / 2
        Assert.All(outcomes, o => Assert.False(o.Complete));
        Assert.False(File.Exists(Path.Combine(shared, Artifacts.MetadataFile)));
        var again = AdversarialDatasets.BuildShard(AdversarialKind.Random, toy.Model, x, y, Options, shared, CPU, new Shard(1, 3));
        Assert.Equal((0, 2), (again.Computed, again.AlreadyDone)); // a rerun of a shard skips what is done

        var log = new List<string>();
        using var assembled = AdversarialDatasets.Build(AdversarialKind.Random, toy.Model, x, y, Options, shared, CPU, log: log.Add);

        Assert.DoesNotContain(log, l => l.Contains("continuing with chunk")); // nothing left to attack
        Assert.True(assembled.Images.eq(reference.Images).all().item<bool>());
        Assert.True(assembled.Targets.eq(reference.Targets).all().item<bool>());
        Assert.True(assembled.Success.eq(reference.Success).all().item<bool>());
        var board = new UnitBoard(shared);
        Assert.Equal(5, board.ReadPlan()!.Value.Units.Count);
        Assert.All(board.ReadPlan()!.Value.Units, u => Assert.NotNull(board.Done(u)));
    }

    [Fact]
    public async Task Concurrent_plain_builds_on_one_folder_split_the_chunks_and_both_return_the_single_process_data_set()
    {
        using var dir = new TempDir();
        var x = toy.Images.narrow(0, 0, 60);
        var y = toy.Labels.narrow(0, 0, 60);
        using var reference = AdversarialDatasets.Build(AdversarialKind.Deterministic, toy.Model, x, y, Options, dir["single"], CPU);

        var shared = dir["shared"];
        var builds = Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
            AdversarialDatasets.Build(AdversarialKind.Deterministic, toy.Model, x, y, Options, shared, CPU))).ToArray();
        foreach (var set in await Task.WhenAll(builds))
            using (set)
            {
                Assert.True(set.Images.eq(reference.Images).all().item<bool>());
                Assert.True(set.Targets.eq(reference.Targets).all().item<bool>());
            }
        var board = new UnitBoard(shared);
        Assert.All(board.ReadPlan()!.Value.Units, u => Assert.Null(board.Holder(u))); // every claim released
    }
}
