using System.CommandLine;
using Leakage.Data;
using Leakage.Experiment;
using Leakage.Export;
using Leakage.IO;
using Spectre.Console;

namespace Leakage.Cli;

/// <summary>
/// <c>export</c>: writes a finished run's standard model, robust linear classifier and D_rand / D_det
/// as PyTorch files (<see cref="PyTorchExport"/>).
/// </summary>
static class ExportCommand
{
    static readonly Option<string> RunOption = new("--out")
    {
        Description = "The run folder to export (the --out of a finished experiment).",
        Required = true,
    };

    static readonly Option<string> ToOption = new("--to")
    {
        Description = "Folder to write the PyTorch files into (created if needed).",
        Required = true,
    };

    public static Command Create()
    {
        var cmd = new Command("export", "Write a finished run's standard model and C (state_dicts), and D_rand / D_det in the layout of Ilyas et al.'s release_datasets/, as files torch.load reads; tools/python/leakage_models.py holds the matching modules.");
        cmd.Options.Add(RunOption);
        cmd.Options.Add(ToOption);
        cmd.Options.Add(Cli.DataOption);
        cmd.SetAction((parse, ct) => Cli.Guard(() =>
        {
            var run = parse.GetValue(RunOption)!;
            var to = parse.GetValue(ToOption)!;
            void Log(string m) => AnsiConsole.MarkupLine($"[grey]{Markup.Escape(m)}[/]");
            using var test = CleanTestSet(run, parse.GetValue(Cli.DataOption), Log);
            var result = PyTorchExport.Write(run, to, Log, test?.Set);
            AnsiConsole.MarkupLine($"Exported [green]{Markup.Escape(run)}[/] to [green]{Markup.Escape(to)}[/] ({result.Files.Count} files and {Leakage.IO.Artifacts.MetadataFile}).");
            AnsiConsole.MarkupLine($"In Python: [grey]python3 {PyTorchExport.CheckScript} {Markup.Escape(to)}[/]");
            return Task.FromResult(0);
        }));
        return cmd;
    }

    /// <summary>The loaded data and the run's test split of it; disposing releases both.</summary>
    sealed class LoadedTestSet(CifarData data, CifarSplit train, CifarSplit test, CleanTestSet set) : IDisposable
    {
        public CleanTestSet Set { get; } = set;

        public void Dispose()
        {
            if (!ReferenceEquals(train, data.Train)) train.Dispose();
            if (!ReferenceEquals(test, data.Test)) test.Dispose();
            data.Dispose();
        }
    }

    /// <summary>
    /// The run's clean test set: from <paramref name="explicitData"/> (the --data option), else from the
    /// default data folder ($LEAKAGE_DATA, ./data) or the folder results.json names, whichever holds
    /// CIFAR-10 (results.json names a relative folder as the run was given it, an absolute one by its
    /// name only, so such a run needs --data); the run's settings pick the same test images the run used.
    /// Null, with a line saying so, when no data folder is found and none was given.
    /// </summary>
    static LoadedTestSet? CleanTestSet(string run, string? explicitData, Action<string> log)
    {
        var resultsPath = Path.Combine(run, ResultsFile.FileName);
        if (!File.Exists(resultsPath)) return null; // PyTorchExport.Write says what is missing
        var results = ResultsFile.Load(resultsPath);
        var settings = results.Settings ?? throw new InvalidDataException($"{resultsPath}: no settings block; is it the results.json of a run?");
        var candidates = explicitData is { Length: > 0 }
            ? [explicitData]
            : new[] { CifarLoader.ResolveFolder(null), results.Data?.Source }.OfType<string>().Distinct().ToArray();
        var folder = candidates.FirstOrDefault(Cli.HasData);
        if (folder is null)
        {
            if (explicitData is { Length: > 0 }) CifarLoader.Detect(explicitData); // throws the one-line "no CIFAR-10 here" message
            log($"The clean test set is not exported: no CIFAR-10 in {string.Join(" or ", candidates)}; give the run's data with --data.");
            return null;
        }
        var data = CifarLoader.Load(folder);
        var (train, test) = ExperimentRun.Splits(data, settings);
        return new LoadedTestSet(data, train, test, new CleanTestSet(test.Images, test.Labels, ExperimentRun.DataIdentityOf(train, test), folder));
    }
}
