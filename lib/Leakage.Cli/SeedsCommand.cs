using System.CommandLine;
using Leakage.Data;
using Leakage.Experiment;
using Spectre.Console;

namespace Leakage.Cli;

/// <summary>
/// <c>seeds</c>: runs the experiment once per seed (in <c>&lt;out&gt;/seed-&lt;n&gt;/</c>, reusing what is
/// there) and reports the mean, standard deviation, min and max of each headline number
/// (<see cref="SeedStudy"/>), in <c>seeds.json</c>, <c>seeds.md</c> and a table.
/// </summary>
static class SeedsCommand
{
    internal static readonly Option<string> SeedsOption = new("--seeds")
    {
        Description = "Seeds to run: comma-separated whole numbers and ranges, e.g. 0,1,2 or 0-4.",
        Required = true,
    };

    static readonly Option<string?> ShardOption = new("--shard")
    {
        Description = "k/n: run only the seeds at positions i with i mod n = k (from 0) in a shared --out; a plain 'seeds' afterwards writes the statistics.",
    };

    public static Command Create()
    {
        var cmd = new Command("seeds", "Run the experiment once per seed, each in <out>/seed-<n>/ (reusing finished artifacts), and write <out>/seeds.json and seeds.md with the mean, standard deviation, min and max of each headline number.");
        cmd.Options.Add(ExperimentCommand.ProfileOption);
        cmd.Options.Add(SeedsOption);
        cmd.Options.Add(Cli.DataOption);
        cmd.Options.Add(Cli.DownloadOption);
        cmd.Options.Add(ExperimentCommand.OutOption);
        cmd.Options.Add(ExperimentCommand.SetOption);
        cmd.Options.Add(ExperimentCommand.DeviceOption);
        cmd.Options.Add(ExperimentCommand.ThreadsOption);
        cmd.Options.Add(ShardOption);
        cmd.SetAction((parse, ct) => Cli.Guard(async () =>
        {
            var seeds = SeedStudy.ParseSeeds(parse.GetValue(SeedsOption)!);
            var settings = ExperimentCommand.Settings(parse);
            var shard = parse.GetValue(ShardOption) is string k ? Leakage.Scale.Shard.Parse(k) : (Leakage.Scale.Shard?)null;
            var data = CifarLoader.ResolveFolder(parse.GetValue(Cli.DataOption));
            await Cli.EnsureDataAsync(data, parse.GetValue(Cli.DownloadOption), ct); // before any run folder is made
            var outDir = parse.GetValue(ExperimentCommand.OutOption) ?? Path.Combine("runs", $"{settings.Profile}-seeds");
            void Log(string m) => AnsiConsole.MarkupLine($"[bold]{Markup.Escape(m)}[/]");
            RunResultsRecord RunOne(ExperimentSettings s, string folder) => ExperimentCommand.RunWithProgress(s, data, folder, ct);
            if (shard is { } part)
            {
                var ran = Leakage.Experiment.Scaling.SeedUnits.RunShard(settings, seeds, outDir, part, RunOne, Log, ct);
                Log($"Shard {part}: ran seed(s) {string.Join(", ", ran)}; a plain 'seeds' on {Path.GetFullPath(outDir)} writes the statistics.");
                return 0;
            }
            var study = SeedStudy.Run(settings, seeds, outDir, Leakage.Experiment.Scaling.SeedUnits.Cooperative(settings, seeds, outDir, RunOne, Log, ct), Log, ct);
            PrintTable(study, Path.Combine(Path.GetFullPath(outDir), SeedStudy.FileName));
            return 0;
        }));
        return cmd;
    }

    static void PrintTable(SeedStudyResult study, string path)
    {
        static string P(double v) => double.IsFinite(v) ? $"{100 * v:0.00}" : "-";
        var table = new Table().Title($"Seeds {string.Join(", ", study.Seeds)}: percent (std. dev. in points)")
            .AddColumn("measure");
        foreach (var c in new[] { "mean", "std. dev.", "min", "max", "n", "published" }) table.AddColumn(new TableColumn(c).RightAligned());
        foreach (var s in study.Statistics)
            table.AddRow(Markup.Escape(s.Headline.Title), P(s.Mean), P(s.StandardDeviation), P(s.Min), P(s.Max), s.Count.ToString(), Markup.Escape(s.Headline.Published ?? ""));
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine($"Wrote [green]{Markup.Escape(path)}[/]");
    }
}
