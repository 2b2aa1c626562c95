using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Leakage.Adversarial;
using Leakage.Attacks;
using Leakage.Compute;
using Leakage.Experiment;
using Leakage.IO;
using Leakage.Models;
using Leakage.Native;
using Leakage.Scale;
using static TorchSharp.torch;

namespace Leakage.Benchmarks;

/// <summary>What <see cref="WorkerBench"/> measures: D_rand's work units of a profile on a slice of the training images.</summary>
public sealed record WorkerBenchSettings
{
    /// <summary>Profile name (recorded).</summary>
    public required string Profile { get; init; }
    /// <summary>Architecture and width of the attacked model (the profile's standard model, at its initial weights: the cost of PGD does not depend on them).</summary>
    public required string Arch { get; init; }
    /// <inheritdoc cref="Arch"/>
    public required int Width { get; init; }
    /// <summary>The profile's attack; <see cref="AdversarialOptions.ChunkSize"/> is the unit (one chunk = one work unit).</summary>
    public required AdversarialOptions Attack { get; init; }
    /// <summary>The profile's <c>compute.precision</c> (the attacked copy, as in a run).</summary>
    public string Precision { get; init; } = "fp32";
    /// <summary>Training images attacked per pass (the first ones of the data).</summary>
    public int Images { get; init; } = 800;
    /// <summary>Workers of one thread in the second arrangement, and threads of the single process in the first.</summary>
    public int Workers { get; init; } = 2;
    /// <summary>Rounds; each round measures both arrangements, the one going first alternating.</summary>
    public int Rounds { get; init; } = 3;
    /// <summary>Seed of the model's initial weights, the synthetic data and the attack.</summary>
    public long Seed { get; init; }

    /// <summary>Work units per pass.</summary>
    public int Units => (Images + Attack.ChunkSize - 1) / Attack.ChunkSize;

    /// <summary>
    /// The worker comparison of <paramref name="profile"/>: its standard model and attack, with units of
    /// <paramref name="unitImages"/> images (default 100) over <paramref name="images"/> images (default 8 units).
    /// </summary>
    public static WorkerBenchSettings For(ExperimentSettings profile, int workers = 2, int? images = null, int? unitImages = null, int rounds = 3)
    {
        ArgumentNullException.ThrowIfNull(profile);
        SettingsOverrides.Validate(profile);
        int unit = unitImages ?? 100;
        var attack = ExperimentRun.AttackOptions(profile);
        return new WorkerBenchSettings
        {
            Profile = profile.Profile,
            Arch = profile.Standard.Arch,
            Width = profile.Standard.Width,
            Attack = attack with { ChunkSize = unit, BatchSize = Math.Min(attack.BatchSize, unit) },
            Precision = profile.Compute.Precision,
            Images = images ?? 8 * unit,
            Workers = workers,
            Rounds = rounds,
            Seed = profile.Seed,
        };
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        static void Check(bool ok, string option, object value, string rule)
        {
            if (!ok) throw new ArgumentException($"{option} {value} is invalid: {rule}.");
        }
        Check(Workers >= 2, "--workers", Workers, "compares at least 2 workers of one thread with one process of as many threads");
        Check(Rounds >= 1, "--rounds", Rounds, "must be at least 1");
        Check(Attack.ChunkSize >= 1, "--worker-unit", Attack.ChunkSize, "a unit has at least 1 image");
        Check(Images >= Workers * Attack.ChunkSize, "--worker-images", Images, $"needs at least one unit per worker ({Workers} x {Attack.ChunkSize} images)");
        Attack.Validate();
    }
}

/// <summary>One arrangement measured once: its units' done records.</summary>
/// <param name="Arrangement"><c>1 process x N threads</c> or <c>N workers x 1 thread</c>.</param>
/// <param name="Processes">Processes started.</param>
/// <param name="ThreadsPerProcess">libtorch threads of each.</param>
/// <param name="Units">Units done (every unit of the pass, each once).</param>
/// <param name="DistinctWorkers">Processes (host, pid) that the done records name.</param>
/// <param name="Seconds">From the first unit's start to the last unit's end (done records: finished - seconds); process start-up is outside it.</param>
/// <param name="UnitsPerMinute">Units x 60 / <paramref name="Seconds"/>.</param>
/// <param name="UnitSeconds">Compute time of one unit (its done record).</param>
/// <param name="LoadAverageBefore">1-minute load average before the processes started.</param>
/// <param name="LoadAverageAfter">1-minute load average after they ended.</param>
/// <param name="BusyFraction">Non-idle share of all CPU time during the pass (ours and the neighbours').</param>
/// <param name="StealFraction">Share stolen by the hypervisor during the pass.</param>
public sealed record WorkerPass(string Arrangement, int Processes, int ThreadsPerProcess, int Units, int DistinctWorkers, double Seconds,
    double UnitsPerMinute, Spread UnitSeconds, double LoadAverageBefore, double LoadAverageAfter, double BusyFraction, double StealFraction);

/// <summary>One round: both arrangements, <paramref name="First"/> first.</summary>
/// <param name="Round">1-based round number.</param>
/// <param name="First">The arrangement measured first in this round.</param>
/// <param name="OneProcess">One process of N threads.</param>
/// <param name="Workers">N workers of one thread.</param>
/// <param name="Ratio">Units per minute of the workers over those of the single process.</param>
public sealed record WorkerRound(int Round, string First, WorkerPass OneProcess, WorkerPass Workers, double Ratio);

/// <summary>
/// N workers of one thread against one process of N threads on the same units (<c>bench --workers N</c>),
/// as recorded in bench.json's <c>workers</c> section.
/// </summary>
public sealed record WorkerComparison(string Profile, string Cpu, int LogicalCores, string Data, string Arch, int Width, int PgdSteps, string Precision,
    int Images, int UnitImages, int Units, int Workers, IReadOnlyList<WorkerRound> Rounds, Spread Ratio, Spread OneProcessUnitsPerMinute,
    Spread WorkersUnitsPerMinute, DateTimeOffset Started, double Seconds)
{
    /// <summary>Vendor, family and model with the core generation (<see cref="CpuInfo.Core"/>).</summary>
    public string? CpuCore { get; init; }
}

/// <summary>
/// Measures cooperative workers on one run folder against one process with as many threads: D_rand's
/// chunks of a profile (work units, <see cref="AdversarialDatasets.BuildShard"/>, claimed and recorded
/// on the folder's <see cref="UnitBoard"/> as in a run) computed by one process of N libtorch threads
/// (<c>--shard 0/1</c>) and by N processes of one thread (<c>--shard k/N</c>), in alternating rounds
/// (A B, B A, ...) so that the neighbours of a shared machine weigh on both alike. Each process loads
/// the images and builds the model, then waits at a start line until all are ready; rates come from the
/// units' done records, so process start-up is not counted. A measurement, not a check.
/// </summary>
public static class WorkerBench
{
    const string ImagesFile = "images.bin", LabelsFile = "labels.bin", ReadyPrefix = "ready-", GoFile = "go";

    /// <summary>The bench.json section.</summary>
    public const string Section = "workers";

    /// <summary>
    /// Runs the comparison. <paramref name="startWorker"/> makes the start info of one worker process from
    /// its arguments: the work folder, the pass folder, the shard and its thread count
    /// (the CLI's <c>bench-worker</c> command, which calls <see cref="Work"/>).
    /// </summary>
    public static WorkerComparison Run(WorkerBenchSettings settings, BenchmarkData data, string workDirectory,
        Func<WorkerStart, ProcessStartInfo> startWorker, Action<string>? log = null, CancellationToken ct = default)
    {
        TorchNative.Ensure();
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(startWorker);
        settings.Validate();
        log ??= _ => { };
        var started = DateTimeOffset.Now;
        var clock = Stopwatch.StartNew();
        var work = Path.GetFullPath(workDirectory);
        if (Directory.Exists(work)) Directory.Delete(work, recursive: true);
        Directory.CreateDirectory(work);
        try
        {
            var (images, labels) = data.Take(settings.Images);
            using (images)
            using (labels)
            {
                TensorFile.Save(Path.Combine(work, ImagesFile), images);
                TensorFile.Save(Path.Combine(work, LabelsFile), labels);
            }
            int n = settings.Workers;
            var cpu = CpuInfo.Current.Model ?? "unknown CPU";
            log($"Workers: {settings.Units} D_rand units of {settings.Attack.ChunkSize} images x {settings.Attack.Steps} PGD steps ({settings.Arch} width {settings.Width}), " +
                $"1 process x {n} threads against {n} workers x 1 thread, {settings.Rounds} rounds, on {cpu}.");
            var rounds = new List<WorkerRound>();
            for (int r = 1; r <= settings.Rounds; r++)
            {
                ct.ThrowIfCancellationRequested();
                bool oneFirst = r % 2 == 1;
                WorkerPass? one = null, many = null;
                foreach (bool single in oneFirst ? new[] { true, false } : [false, true])
                {
                    var pass = Path.Combine(work, $"round-{r}-{(single ? "one" : "workers")}");
                    var result = Pass(settings, work, pass, single ? 1 : n, single ? n : 1, startWorker, ct);
                    if (single) one = result; else many = result;
                }
                var (a, b) = (one!, many!);
                var round = new WorkerRound(r, oneFirst ? a.Arrangement : b.Arrangement, a, b, b.UnitsPerMinute / a.UnitsPerMinute);
                rounds.Add(round);
                log($"Round {r}/{settings.Rounds} ({round.First} first): 1 process x {n} threads {a.UnitsPerMinute:0.00} units/min, " +
                    $"{n} workers x 1 thread {b.UnitsPerMinute:0.00} units/min, ratio {round.Ratio:0.00} (load {a.LoadAverageBefore:0.0} to {b.LoadAverageAfter:0.0}).");
            }
            var comparison = new WorkerComparison(settings.Profile, cpu, Environment.ProcessorCount, data.Source, settings.Arch, settings.Width,
                settings.Attack.Steps, settings.Precision, settings.Images, settings.Attack.ChunkSize, settings.Units, n, rounds,
                Spread.Of([.. rounds.Select(x => x.Ratio)]), Spread.Of([.. rounds.Select(x => x.OneProcess.UnitsPerMinute)]),
                Spread.Of([.. rounds.Select(x => x.Workers.UnitsPerMinute)]), started, clock.Elapsed.TotalSeconds)
            { CpuCore = CpuInfo.Current.Core };
            log($"Workers / one process, units per minute: median ratio {comparison.Ratio.Median:0.00} [{comparison.Ratio.Min:0.00}, {comparison.Ratio.Max:0.00}] over {rounds.Count} rounds.");
            return comparison;
        }
        finally
        {
            try { Directory.Delete(work, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>Starts <paramref name="processes"/> workers of <paramref name="threads"/> threads on a fresh pass folder and reads their units.</summary>
    static WorkerPass Pass(WorkerBenchSettings settings, string work, string pass, int processes, int threads,
        Func<WorkerStart, ProcessStartInfo> startWorker, CancellationToken ct)
    {
        Directory.CreateDirectory(pass);
        var running = new List<(Process Process, StringBuilder Output)>();
        double loadBefore = CpuTimes.LoadAverage();
        var before = CpuTimes.Read();
        try
        {
            for (int k = 0; k < processes; k++)
            {
                var info = startWorker(new WorkerStart(work, pass, new Shard(k, processes), threads));
                info.RedirectStandardOutput = info.RedirectStandardError = true;
                info.UseShellExecute = false;
                var output = new StringBuilder();
                var p = new Process { StartInfo = info };
                p.OutputDataReceived += (_, e) => { if (e.Data != null) lock (output) output.AppendLine(e.Data); };
                p.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (output) output.AppendLine(e.Data); };
                p.Start();
                p.BeginOutputReadLine();
                p.BeginErrorReadLine();
                running.Add((p, output));
            }
            // The start line: every worker has loaded its data and model and attacked a warm-up batch.
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(10);
            while (Enumerable.Range(0, processes).Any(k => !File.Exists(Path.Combine(pass, ReadyPrefix + k))))
            {
                ct.ThrowIfCancellationRequested();
                foreach (var (p, output) in running.Where(x => x.Process.HasExited))
                    throw new InvalidOperationException($"A bench worker ended (exit code {p.ExitCode}) before it was ready:\n{Tail(output)}");
                if (DateTime.UtcNow > deadline) throw new TimeoutException("The bench workers were not ready within 10 minutes.");
                Thread.Sleep(20);
            }
            File.WriteAllText(Path.Combine(pass, GoFile), "");
            foreach (var (p, output) in running)
            {
                while (!p.WaitForExit(200)) ct.ThrowIfCancellationRequested();
                p.WaitForExit();
                if (p.ExitCode != 0) throw new InvalidOperationException($"A bench worker failed (exit code {p.ExitCode}):\n{Tail(output)}");
            }
        }
        finally
        {
            foreach (var (p, _) in running)
            {
                try { if (!p.HasExited) p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                p.Dispose();
            }
        }
        var load = CpuTimes.Read().Since(before, Environment.ProcessorCount);
        var result = Read(pass, processes, threads, settings.Units, loadBefore, CpuTimes.LoadAverage(), load);
        Directory.Delete(pass, recursive: true);
        return result;
    }

    static string Tail(StringBuilder output)
    {
        lock (output)
        {
            var lines = output.ToString().Split('\n');
            return string.Join('\n', lines.TakeLast(20));
        }
    }

    /// <summary>
    /// The measured pass from the done records of the units on <paramref name="pass"/>'s board.
    /// Throws when a unit is missing (every unit of a pass is computed exactly once).
    /// </summary>
    public static WorkerPass Read(string pass, int processes, int threads, int units, double loadBefore, double loadAfter, LoadInterval load)
    {
        var board = new UnitBoard(pass);
        var planned = board.ReadPlan()?.Units.Where(u => u.StartsWith("chunk-", StringComparison.Ordinal)).ToList() ?? [];
        if (planned.Count != units) throw new InvalidOperationException($"{pass}: {planned.Count} units planned, {units} expected.");
        var done = planned.Select(u => board.Done(u) ?? throw new InvalidOperationException($"{pass}: unit {u} has no done record.")).ToList();
        double start = done.Min(d => (d.Finished - DateTime.UnixEpoch).TotalSeconds - d.Seconds);
        double end = done.Max(d => (d.Finished - DateTime.UnixEpoch).TotalSeconds);
        double seconds = Math.Max(end - start, 1e-6);
        var name = processes == 1 ? $"1 process x {threads} threads" : $"{processes} workers x {threads} thread{(threads == 1 ? "" : "s")}";
        return new WorkerPass(name, processes, threads, done.Count, done.Select(d => (d.Host, d.Pid)).Distinct().Count(), seconds,
            done.Count * 60 / seconds, Spread.Of([.. done.Select(d => d.Seconds)]), loadBefore, loadAfter, load.BusyFraction, load.StealFraction);
    }

    /// <summary>
    /// One worker process: loads the pass's images, builds the model, attacks a warm-up batch, marks itself
    /// ready and waits for the start line, then computes the D_rand chunks of <paramref name="start"/>'s
    /// shard as a shard worker of a run does (claims, atomic chunks, done records).
    /// </summary>
    public static ShardOutcome Work(WorkerBenchSettings settings, WorkerStart start, Action<string>? log = null, CancellationToken ct = default)
    {
        TorchNative.Ensure();
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(start);
        Devices.SetThreads(start.Threads);
        var device = CPU;
        using var x = TensorFile.Load(Path.Combine(start.Work, ImagesFile));
        using var y = TensorFile.Load(Path.Combine(start.Work, LabelsFile));
        using var model = ModelFactory.Create(settings.Arch, settings.Seed, settings.Width, device);
        model.eval();
        using var bf16 = Precisions.AttackModel(model, settings.Precision, device);
        var attacked = bf16 ?? model;
        using (NewDisposeScope())
        {
            long warm = Math.Min(settings.Attack.BatchSize, x.shape[0]);
            var wy = y.narrow(0, 0, warm);
            var targets = AdversarialSet.DRand.DrawTargets(wy, settings.Attack, 0);
            using var _ = L2Pgd.Attack(attacked, x.narrow(0, 0, warm), targets, settings.Attack.Attack with { Steps = 1 }, device, settings.Attack.BatchSize, 0, null, ct);
        }
        File.WriteAllText(Path.Combine(start.Pass, ReadyPrefix + start.Shard.Index), "");
        while (!File.Exists(Path.Combine(start.Pass, GoFile)))
        {
            ct.ThrowIfCancellationRequested();
            Thread.Sleep(5);
        }
        return AdversarialDatasets.BuildShard(AdversarialKind.Random, attacked, x, y, settings.Attack, start.Pass, device, start.Shard, null, ct, log);
    }

    /// <summary>Writes <paramref name="comparison"/> as the <c>workers</c> section of <c>dir/bench.json</c>, keeping the file's other sections.</summary>
    public static string Save(WorkerComparison comparison, string dir)
    {
        var path = Path.Combine(Path.GetFullPath(dir), BenchmarkReport.FileName);
        var root = BenchmarkReport.ReadExisting(dir) ?? [];
        root[Section] = JsonSerializer.SerializeToNode(comparison, BenchmarkReport.Json);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        AtomicFile.WriteAllText(path, root.ToJsonString(BenchmarkReport.Json));
        return path;
    }
}

/// <summary>Where and how one worker of a pass runs.</summary>
/// <param name="Work">The comparison's work folder (images and labels).</param>
/// <param name="Pass">The pass's run folder (units and chunks).</param>
/// <param name="Shard">Its shard.</param>
/// <param name="Threads">Its libtorch threads.</param>
public sealed record WorkerStart(string Work, string Pass, Shard Shard, int Threads);
