using System.CommandLine;
using Leakage.Benchmarks;
using Leakage.Data;
using Leakage.Experiment;
using Spectre.Console;

namespace Leakage.Cli;

/// <summary>
/// <c>bench --workers N</c>: N shard workers of one libtorch thread against one process of N threads on
/// the profile's D_rand units (<see cref="WorkerBench"/>), recorded in bench.json's <c>workers</c>
/// section; and the hidden <c>bench-worker</c> command that each of those processes runs.
/// </summary>
static class BenchWorkers
{
    internal static readonly Option<int?> WorkersOption = new("--workers")
    {
        Description = "Measure only N shard workers of 1 thread against 1 process of N threads on the profile's D_rand units (units per minute, alternating rounds; --rounds, default 3) and record them in bench.json's 'workers' section, keeping its other sections.",
    };

    internal static readonly Option<int?> ImagesOption = new("--worker-images")
    {
        Description = "Training images attacked per pass of --workers (default 8 units).",
    };

    internal static readonly Option<int?> UnitOption = new("--worker-unit")
    {
        Description = "Images per work unit (D_rand chunk) of --workers (default 100).",
    };

    static readonly Option<string> WorkOption = new("--work") { Required = true };
    static readonly Option<string> PassOption = new("--pass") { Required = true };
    static readonly Option<string> ShardOption = new("--shard") { Required = true };
    static readonly Option<string> ProfileOption = new("--profile") { DefaultValueFactory = _ => "quick" };

    internal static void Add(Command bench)
    {
        bench.Options.Add(WorkersOption);
        bench.Options.Add(ImagesOption);
        bench.Options.Add(UnitOption);
    }

    /// <summary>The profile (with --set overrides) whose units are measured.</summary>
    static ExperimentSettings Profile(ParseResult parse, Option<string> profileOption) =>
        SettingsOverrides.Apply(Profiles.Get(parse.GetValue(profileOption)!), parse.GetValue(ExperimentCommand.SetOption) ?? []);

    static WorkerBenchSettings Settings(ParseResult parse, Option<string> profileOption, Option<int?> roundsOption, int workers) =>
        WorkerBenchSettings.For(Profile(parse, profileOption), workers, parse.GetValue(ImagesOption), parse.GetValue(UnitOption),
            parse.GetValue(roundsOption) ?? 3);

    /// <summary>Runs the comparison for <c>bench --workers</c> and writes bench.json.</summary>
    internal static int Run(ParseResult parse, int workers, Option<string> profileOption, Option<int?> roundsOption, Option<string?> dataOption,
        string outDir, Action<string> log, CancellationToken ct)
    {
        var settings = Settings(parse, profileOption, roundsOption, workers);
        settings.Validate();
        BenchmarkReport.ReadExisting(outDir); // an unreadable bench.json fails now, not after the measurement
        CifarData? cifar = null;
        try
        {
            var data = BenchmarkData.Synthetic(settings.Seed);
            if (parse.GetValue(dataOption) is string dataDir)
            {
                cifar = CifarLoader.Load(CifarLoader.ResolveFolder(dataDir), new CifarLoadOptions { Log = log });
                data = BenchmarkData.From(cifar.Train, CifarLoader.AsNamed(dataDir, cifar.Source));
            }
            // The workers get the bench's own profile options, so they rebuild the same settings.
            var forwarded = new List<string> { "--profile", parse.GetValue(profileOption)!, "--workers", workers.ToString(), "--rounds", settings.Rounds.ToString() };
            foreach (var s in parse.GetValue(ExperimentCommand.SetOption) ?? []) forwarded.AddRange(["--set", s]);
            if (parse.GetValue(ImagesOption) is int images) forwarded.AddRange(["--worker-images", images.ToString()]);
            if (parse.GetValue(UnitOption) is int unit) forwarded.AddRange(["--worker-unit", unit.ToString()]);
            var comparison = WorkerBench.Run(settings, data, Path.Combine(outDir, ".bench-workers"), start => Cli.Again([
                "bench-worker", "--work", start.Work, "--pass", start.Pass, "--shard", start.Shard.ToString(), "--threads", start.Threads.ToString(), .. forwarded]), log, ct);
            var path = WorkerBench.Save(comparison, outDir);
            AnsiConsole.Write(Table(comparison));
            AnsiConsole.MarkupLine($"Wrote [green]{Markup.Escape(path)}[/] (section '{WorkerBench.Section}', {comparison.Seconds:0} s).");
            return 0;
        }
        finally
        {
            cifar?.Dispose();
        }
    }

    static Table Table(WorkerComparison c)
    {
        var table = new Table()
            .Title($"workers on one run folder, profile {c.Profile}: {c.Units} D_rand units of {c.UnitImages} images x {c.PgdSteps} PGD steps, {c.Arch} width {c.Width}, {c.Cpu}{(c.CpuCore is { } core ? $" ({core})" : "")}, {c.LogicalCores} logical cores")
            .AddColumn("round").AddColumn("first").AddColumn(new TableColumn($"1 x {c.Workers} threads, units/min").RightAligned())
            .AddColumn(new TableColumn($"{c.Workers} x 1 thread, units/min").RightAligned()).AddColumn(new TableColumn("ratio").RightAligned())
            .AddColumn(new TableColumn("load average").RightAligned());
        foreach (var r in c.Rounds)
            table.AddRow($"{r.Round}", Markup.Escape(r.First), $"{r.OneProcess.UnitsPerMinute:0.00}", $"{r.Workers.UnitsPerMinute:0.00}", $"{r.Ratio:0.00}",
                $"{Math.Min(r.OneProcess.LoadAverageBefore, r.Workers.LoadAverageBefore):0.0} to {Math.Max(r.OneProcess.LoadAverageAfter, r.Workers.LoadAverageAfter):0.0}");
        table.AddRow("median [[min, max]]", "", $"{c.OneProcessUnitsPerMinute.Median:0.00}", $"{c.WorkersUnitsPerMinute.Median:0.00}",
            Markup.Escape($"{c.Ratio.Median:0.00} [{c.Ratio.Min:0.00}, {c.Ratio.Max:0.00}]"), "");
        return table;
    }

    /// <summary>The hidden command each measured process runs.</summary>
    public static Command WorkerCommand()
    {
        var roundsOption = new Option<int?>("--rounds");
        var cmd = new Command("bench-worker", "One process of 'bench --workers' (started by it).") { Hidden = true };
        foreach (var o in new Option[] { WorkOption, PassOption, ShardOption, ProfileOption, roundsOption, WorkersOption, ImagesOption, UnitOption,
                     ExperimentCommand.SetOption, ExperimentCommand.ThreadsOption })
            cmd.Options.Add(o);
        cmd.SetAction((parse, ct) => Cli.Guard(() =>
        {
            var settings = Settings(parse, ProfileOption, roundsOption, parse.GetValue(WorkersOption) ?? 2);
            var start = new WorkerStart(parse.GetValue(WorkOption)!, parse.GetValue(PassOption)!, Leakage.Scale.Shard.Parse(parse.GetValue(ShardOption)!),
                parse.GetValue(ExperimentCommand.ThreadsOption) ?? 1);
            var outcome = WorkerBench.Work(settings, start, Console.WriteLine, ct);
            Console.WriteLine($"bench worker {start.Shard}: {outcome.Computed} unit(s) computed.");
            return Task.FromResult(0);
        }));
        return cmd;
    }
}
