using System.CommandLine;
using Leakage.Data;
using Leakage.Experiment;
using Leakage.IO;
using Spectre.Console;

namespace Leakage.Cli;

/// <summary><c>experiment</c>: runs every step without notebooks and writes results.json.</summary>
static class ExperimentCommand
{
    internal static readonly Option<string> ProfileOption = new("--profile")
    {
        Description = $"Settings profile: {string.Join(", ", Profiles.Names)}.",
        DefaultValueFactory = _ => "quick",
    };

    internal static readonly Option<string?> OutOption = new("--out")
    {
        Description = "Run folder for artifacts, results.json (and report.html for 'run'). Default: runs/<profile>.",
    };

    internal static readonly Option<string[]> SetOption = new("--set")
    {
        Description = "Override a setting, e.g. --set attack.steps=20 --set robust.units=pixel (repeatable).",
        AllowMultipleArgumentsPerToken = false,
    };

    internal static readonly Option<bool> NonlinearOption = new("--nonlinear")
    {
        Description = "Also adversarially train a small CNN (L2 PGD, radius beyond.nonlinearRadius) and probe with its logits and penultimate features (beyond.nonlinear=true).",
    };
    internal static readonly Option<string?> SweepOption = new("--sweep")
    {
        Description = "Also train and certify C at each radius of this comma-separated list and probe with each (beyond.sweepRadii), e.g. --sweep 0.1,0.25,0.5,1.",
    };
    internal static readonly Option<string?> ReleasedOption = new("--released")
    {
        Description = "Folder where Ilyas et al.'s datasets.tar was extracted: probe their released D_rand, D_det, D_R and D_NR with our robust features (beyond.releasedData).",
    };
    internal static readonly Option<int?> ProbeSeedsOption = new("--probe-seeds")
    {
        Description = "Also retrain C with this many seeds and report the leakage's mean and spread (beyond.seeds).",
    };

    internal static readonly Option<string?> DeviceOption = new("--device") { Description = "auto, cpu or cuda (overrides the profile)." };
    internal static readonly Option<long?> SeedOption = new("--seed") { Description = "Random seed (overrides the profile)." };
    internal static readonly Option<int?> ThreadsOption = new("--threads") { Description = "libtorch CPU threads; 0 = all cores." };

    /// <summary>Profile + options + --set overrides, validated.</summary>
    internal static ExperimentSettings Settings(ParseResult parse, IEnumerable<string>? extra = null)
    {
        var s = Profiles.Get(parse.GetValue(ProfileOption)!);
        var overrides = MachineOverrides(parse);
        if (parse.GetValue(SeedOption) is long seed) overrides.Add($"seed={seed}");
        if (parse.GetValue(NonlinearOption)) overrides.Add("beyond.nonlinear=true");
        if (parse.GetValue(SweepOption) is string sweep) overrides.Add($"beyond.sweepRadii={sweep}");
        if (parse.GetValue(ReleasedOption) is string released) overrides.Add($"beyond.releasedData={Path.GetFullPath(released)}");
        if (parse.GetValue(ProbeSeedsOption) is int k) overrides.Add($"beyond.seeds={k}");
        overrides.AddRange(parse.GetValue(SetOption) ?? []);
        if (extra != null) overrides.AddRange(extra);
        return SettingsOverrides.Apply(s, overrides);
    }

    /// <summary>The --device and --threads options as settings overrides (commands add theirs, then --set, which wins).</summary>
    internal static List<string> MachineOverrides(ParseResult parse)
    {
        var overrides = new List<string>();
        if (parse.GetValue(DeviceOption) is string d) overrides.Add($"device={d}");
        if (parse.GetValue(ThreadsOption) is int t) overrides.Add($"threads={t}");
        return overrides;
    }

    internal static string OutFolder(ParseResult parse, ExperimentSettings s) => parse.GetValue(OutOption) ?? Path.Combine("runs", s.Profile);

    internal static void AddCommon(Command cmd)
    {
        cmd.Options.Add(ProfileOption);
        cmd.Options.Add(Cli.DataOption);
        cmd.Options.Add(Cli.DownloadOption);
        cmd.Options.Add(OutOption);
        cmd.Options.Add(SetOption);
        cmd.Options.Add(DeviceOption);
        cmd.Options.Add(SeedOption);
        cmd.Options.Add(ThreadsOption);
        cmd.Options.Add(NonlinearOption);
        cmd.Options.Add(SweepOption);
        cmd.Options.Add(ReleasedOption);
        cmd.Options.Add(ProbeSeedsOption);
    }

    // ---- scale out (docs/scale-out.md): one worker of several on a shared run folder
    internal static readonly Option<string?> ShardOption = new("--shard")
    {
        Description = "k/n: compute only shard k (from 0) of n of the work units in a shared --out (the standard model, then chunks of D_rand and D_det, then the robust linear classifiers C, C at each --sweep radius, C of each probe seed); a plain 'experiment' on the folder afterwards finishes the run.",
    };
    // ----

    public static Command Create()
    {
        var cmd = new Command("experiment", "Run every step of the experiment (standard model, D_rand/D_det, transfer, robust linear features, certificates, leakage probe) and write results.json.");
        AddCommon(cmd);
        cmd.Options.Add(ShardOption);
        cmd.SetAction((parse, ct) => Cli.Guard(async () =>
        {
            var settings = Settings(parse);
            var shard = parse.GetValue(ShardOption) is string k ? Leakage.Scale.Shard.Parse(k) : (Leakage.Scale.Shard?)null;
            var data = CifarLoader.ResolveFolder(parse.GetValue(Cli.DataOption));
            await Cli.EnsureDataAsync(data, parse.GetValue(Cli.DownloadOption), ct); // before the run folder is touched
            var outDir = OutFolder(parse, settings);
            if (shard is { } s) return RunShard(settings, data, outDir, s, ct);
            var results = RunWithProgress(settings, data, outDir, ct);
            PrintSummary(results, Path.Combine(Path.GetFullPath(outDir), ResultsFile.FileName));
            return 0;
        }));
        return cmd;
    }

    /// <summary>One shard worker (<see cref="Leakage.Experiment.Scaling.ShardWorker"/>), with plain progress lines.</summary>
    static int RunShard(ExperimentSettings settings, string dataDir, string outDir, Leakage.Scale.Shard shard, CancellationToken ct)
    {
        var last = DateTime.MinValue;
        var observer = new RunObserver(m => Console.WriteLine(m), p =>
        {
            if (p.Fraction < 1 && DateTime.UtcNow - last < TimeSpan.FromSeconds(10)) return;
            last = DateTime.UtcNow;
            Console.WriteLine($"  [{p.Step}] {p.Fraction:P0} {p.Detail}");
        });
        using var run = ExperimentRun.Open(settings, dataDir, outDir, observer);
        var report = Leakage.Experiment.Scaling.ShardWorker.Run(run, shard, ct);
        var chunks = report.Sets.Select(s => $"{s.Set.Name} {s.Outcome.Computed} computed, {s.Outcome.AlreadyDone} already done, {s.Outcome.HeldByOthers} held by others");
        Console.WriteLine($"Shard {shard} done: chunks of {string.Join("; ", chunks)}; " +
            $"training units {(report.Trainings.Count == 0 ? "none" : string.Join(", ", report.Trainings))}. A plain 'experiment' on {Path.GetFullPath(outDir)} finishes the run.");
        return 0;
    }

    /// <summary>Runs all steps with a Spectre progress display (plain lines when output is redirected).</summary>
    internal static RunResultsRecord RunWithProgress(ExperimentSettings settings, string dataDir, string outDir, CancellationToken ct)
    {
        RunResultsRecord? results = null;
        if (!AnsiConsole.Profile.Capabilities.Interactive)
        {
            var last = new Dictionary<string, DateTime>();
            var observer = new RunObserver(m => Console.WriteLine(m), p =>
            {
                // Redirected output: one line per step at most every 10 s, plus completion.
                if (p.Fraction < 1 && last.TryGetValue(p.Step, out var t) && DateTime.UtcNow - t < TimeSpan.FromSeconds(10)) return;
                last[p.Step] = DateTime.UtcNow;
                Console.WriteLine($"  [{p.Step}] {p.Fraction:P0} {p.Detail}");
            });
            using var run = ExperimentRun.Open(settings, dataDir, outDir, observer);
            return run.RunAll(ct);
        }
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var steps = StepCatalog.For(settings);
                var tasks = steps.ToDictionary(s => s.Key, s => ctx.AddTask(s.Title, autoStart: false, maxValue: 1));
                var observer = new RunObserver(
                    m => AnsiConsole.MarkupLine($"[grey]{Markup.Escape(m)}[/]"),
                    p =>
                    {
                        if (!tasks.TryGetValue(p.Step, out var task)) return;
                        if (!task.IsStarted) task.StartTask();
                        task.Value = p.Fraction;
                        task.Description = $"{Markup.Escape(StepCatalog.Title(p.Step))}: {Markup.Escape(p.Detail)}";
                    });
                using var run = ExperimentRun.Open(settings, dataDir, outDir, observer);
                results = run.RunAll(ct);
                foreach (var t in tasks.Values) { if (!t.IsStarted) t.StartTask(); t.Value = 1; t.StopTask(); }
            });
        return results!;
    }

    /// <summary>The answer first: Goh's probes against their nulls with the verdict, then which profile this is beside the paper.</summary>
    static void PrintAnswer(RunAnswer answer, IAnsiConsole console)
    {
        if (answer.Leakage.Count > 0)
        {
            var table = new Table().Title("Did robust features leak? Goh's probe against its null")
                .AddColumn("probe trained on").AddColumn(new TableColumn("probe").RightAligned()).AddColumn(new TableColumn("null").RightAligned())
                .AddColumn(new TableColumn("excess, points").RightAligned()).AddColumn("verdict").AddColumn(new TableColumn("Goh").RightAligned());
            foreach (var row in answer.Leakage)
                table.AddRow(Markup.Escape(row.Set), $"{row.Probe:P2}", $"{row.Null:P2}", Markup.Escape(row.ExcessText), Markup.Escape(row.Verdict), Markup.Escape(Published.Percent(row.Goh)));
            console.Write(table);
            console.WriteLine("null: the same probe on the clean originals with the same labels" +
                                  (answer.Leakage[0].IntervalCovers is { } covers ? "; interval over " + covers : "") + ".");
            foreach (var row in answer.Leakage) console.WriteLine(RunAnswer.Meaning(row));
        }
        console.WriteLine(answer.Setting);
        console.WriteLine();
    }

    /// <summary>
    /// The leakage controls, when the run has them: one row per set beside D_rand and D_det, read through
    /// their typed records. Short labels and unbroken numbers, so that each row's first line holds them
    /// in a terminal's 80 columns; only the excess's interval wraps.
    /// </summary>
    static void PrintControls(ControlsResult? controls, IAnsiConsole console)
    {
        if (controls is null) return;
        static string P1(double? v) => v is double d ? (100 * d).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture) + "%" : "-";
        var table = new Table().Title("Leakage controls: how much of the transfer needs the attack?")
            .AddColumn(new TableColumn("set").NoWrap()).AddColumn(new TableColumn("success").RightAligned().NoWrap())
            .AddColumn(new TableColumn("transfer").RightAligned().NoWrap()).AddColumn(new TableColumn("probe").RightAligned().NoWrap())
            .AddColumn(new TableColumn("null").RightAligned().NoWrap()).AddColumn(new TableColumn("excess").RightAligned()).AddColumn(new TableColumn("verdict").NoWrap());
        foreach (var row in controls.Rows)
            table.AddRow(Markup.Escape(row.Label), P1(row.AttackSuccess), P1(row.TransferAccuracy), P1(row.Probe?.Accuracy), P1(row.Probe?.NullAccuracy),
                Markup.Escape(row.ExcessText), row.Probe is null ? "-" : Markup.Escape(row.Verdict));
        console.Write(table);
        console.WriteLine($"On {controls.TrainImages:N0} of the {controls.TrainSplit:N0} training images ({string.Join(", ", controls.Rows.Select(r => $"{r.Label} {r.Images:N0}"))}). " +
            $"success: share the standard model classifies as the target; leak-only: {controls.LeakageOnlyDescription}" +
            string.Concat(controls.Rows.Where(r => r.KeptClean is not null).Select(r => $" ({r.Label}: {r.KeptClean:N0} clean)")) +
            "; successes: only the images whose attack reached the target; transfer: clean test accuracy of a model " +
            "trained on the set; probe: Goh's probe, against the same probe on the clean originals (null); excess in points with its 95% interval.");
        foreach (var row in controls.Rows.Where(r => r.NotMeasured is not null)) console.WriteLine($"{row.Set}: {row.NotMeasured}");
        console.WriteLine();
    }

    static string P(double? v) => v is double d ? HeadlineRow.Percent(d) : "-";
    static string Interval(IReadOnlyList<double>? ci) => ci is { Count: 2 } ? $" [{HeadlineRow.Percent(ci[0])}, {HeadlineRow.Percent(ci[1])}]" : "";
    static string Gammas(IReadOnlyList<double>? g) => string.Join(" ", (g ?? []).Select(x => x.ToString("0.000", System.Globalization.CultureInfo.InvariantCulture)));

    /// <summary>
    /// The summary of a run: the answer, the controls, then every headline number beside its published value
    /// (<see cref="HeadlineRow.Of"/>, the rows the notebooks and the report show) and what only the console adds.
    /// </summary>
    internal static void PrintSummary(RunResultsRecord r, string path, IAnsiConsole? console = null)
    {
        console ??= AnsiConsole.Console;
        PrintAnswer(RunAnswer.Of(r), console);
        PrintControls(r.Controls, console);
        var table = new Table().Title("All results").AddColumn("measure").AddColumn(new TableColumn("ours").RightAligned()).AddColumn(new TableColumn("published").RightAligned());
        void Row(string a, string b, string c) => table.AddRow(Markup.Escape(a), Markup.Escape(b), Markup.Escape(c));
        foreach (var h in HeadlineRow.Of(r)) Row(h.Label, h.Text, h.Published);
        if (r.RobustModel is { } rm)
        {
            Row($"gamma_i ({rm.RadiusUnits})", Gammas(rm.Gamma), Gammas(Published.GohGamma));
            if (rm.OtherUnits is { } o) Row($"gamma_i ({o.RadiusUnits})", Gammas(o.Gamma), "");
        }
        if (r.Fidelity is { GammaMaxAbsDiff: double gd } fi)
            Row("gamma against Goh's table (normalised): largest difference, Pearson r", $"{gd:0.000}, r = {fi.GammaPearson:0.00}", "");
        if (r.LeakageControls is { } lc) // matched nulls
        {
            Row("same D_rand labels on clean images", P(lc.DrandClean?.Accuracy), "");
            Row("same D_det labels on clean images", P(lc.DdetClean?.Accuracy), "");
        }
        if (r.Beyond?.Nonlinear is { } nl)
        {
            Row($"robust CNN: clean / PGD accuracy at {nl.Radius} ({nl.RobustEvaluatedImages} test images)", $"{P(nl.CleanAccuracyOnAttacked)} / {P(nl.RobustAccuracy)}", "");
            if (nl.StandardModelUnderAttack is { } sm)
                Row("standard model: clean / PGD accuracy, same attack", $"{P(sm.CleanAccuracy)} / {P(sm.AttackedAccuracy)}", "");
            foreach (var e in nl.Probes ?? []) Row($"probe: {e.Name}", P(e.Accuracy) + Interval([e.Lo, e.Hi]), "");
        }
        foreach (var p in r.Beyond?.RadiusSweep ?? [])
            Row($"sweep r={p.Radius} ({p.Units}): Spec 2 / leakage D_rand / D_det", $"{P(p.Spec2)} / {P(p.LeakageDrand?.Accuracy)} / {P(p.LeakageDdet?.Accuracy)}", "");
        if (r.Beyond?.ProbeSeeds is { } ps)
            foreach (var (k, spread) in new[] { ("drand", ps.Drand), ("ddet", ps.Ddet) })
                Row($"leakage {k} over {ps.Seeds.Count} seeds of C: mean ± sd", $"{P(spread?.Mean)} ± {P(spread?.Sd)}", "");
        foreach (var set in r.Beyond?.Released ?? [])
            Row($"released {set.Set}: probe on robust features", P(set.Probe.Accuracy) + Interval([set.Probe.Lo, set.Probe.Hi]), "");
        console.Write(table);
        console.MarkupLine($"Wrote [green]{Markup.Escape(path)}[/]");
    }
}
