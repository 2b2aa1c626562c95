using System.CommandLine;
using System.Diagnostics;
using System.Reflection;
using Leakage.Data;
using Leakage.Experiment;
using Leakage.Interactive;
using Leakage.Reporting;
using Spectre.Console;

namespace Leakage.Cli;

/// <summary>
/// <c>run</c>: executes every numbered notebook of <c>notebooks/</c> headlessly, in order, sharing one
/// run folder, then writes <c>report.html</c> beside the <c>results.json</c> the notebooks produced.
/// Settings reach the notebooks through the LEAKAGE_* environment variables.
/// </summary>
static class RunCommand
{
    internal static readonly Option<string?> NotebooksOption = new("--notebooks")
    {
        Description = "Folder of the numbered notebooks (NN-name.ipynb) to run. Default: notebooks/ of the repository.",
    };

    internal static readonly Option<double?> TimeoutOption = new("--timeout")
    {
        Description = "Longest time one notebook may run, in minutes. Default: 360.",
    };

    /// <summary>The report of a run in which every notebook ran; only a complete run writes it.</summary>
    internal const string ReportFileName = "report.html";

    /// <summary>
    /// The report of a run that stopped at a failing notebook: a file of its own, so that a failed
    /// rerun never replaces the complete report of an earlier run.
    /// </summary>
    internal const string PartialReportFileName = "report.partial.html";

    /// <summary>The library the notebooks reference (notebooks/setup.csx); the command makes sure it is built.</summary>
    internal static readonly string InteractiveBuild = Path.Combine("lib", "Leakage.Interactive", "bin", "Release", "net10.0", "Leakage.Interactive.dll");

    public static Command Create()
    {
        var cmd = new Command("run",
            "Run every notebook of notebooks/ headlessly in order (one shared run folder), stop at the first failing cell, " +
            "and write the executed notebooks, results.json and an offline report.html to --out.");
        ExperimentCommand.AddCommon(cmd);
        cmd.Options.Add(NotebooksOption);
        cmd.Options.Add(TimeoutOption);
        cmd.SetAction((parse, ct) => Cli.Guard(() => RunAsync(parse, ct)));
        return cmd;
    }

    static async Task<int> RunAsync(ParseResult parse, CancellationToken ct)
    {
        var settings = ExperimentCommand.Settings(parse);
        var data = Path.GetFullPath(CifarLoader.ResolveFolder(parse.GetValue(Cli.DataOption)));
        await Cli.EnsureDataAsync(data, parse.GetValue(Cli.DownloadOption), ct); // fail now, with the download hint, rather than in notebook 01
        var outDir = Path.GetFullPath(ExperimentCommand.OutFolder(parse, settings));
        var root = FindRepositoryRoot();
        var notebooksDir = Path.GetFullPath(parse.GetValue(NotebooksOption) ?? Path.Combine(root, "notebooks"));
        var notebooks = NotebookRunner.FindNotebooks(notebooksDir);
        if (notebooks.Count == 0) throw new FileNotFoundException($"No numbered notebooks (NN-name.ipynb) in {notebooksDir}.");
        var minutes = parse.GetValue(TimeoutOption) ?? 360;
        if (!(minutes > 0)) throw new ArgumentException($"--timeout must be a positive number of minutes, got {minutes}.");

        await EnsureHelpersBuiltAsync(root, ct);
        var environment = NotebookExperiment.Environment(settings, data, outDir, notebooksDir);
        Directory.CreateDirectory(outDir);

        AnsiConsole.MarkupLine($"Running {notebooks.Count} notebooks from [green]{Markup.Escape(notebooksDir)}[/] " +
                               $"(profile [green]{Markup.Escape(settings.Profile)}[/], run folder [green]{Markup.Escape(outDir)}[/])");
        var clock = Stopwatch.StartNew();
        IReadOnlyList<NotebookRunResult> results;
        try
        {
            results = await NotebookRunner.RunAllAsync(new NotebookRunOptions
            {
                Notebooks = notebooks,
                OutputDirectory = outDir,
                Environment = environment,
                TimeoutPerNotebook = TimeSpan.FromMinutes(minutes),
                Log = line => Console.WriteLine($"{DateTime.Now:HH:mm:ss} {line}"), // plain: paths stay on one line when redirected
            }, ct);
        }
        catch (NotebookRunException e)
        {
            var partial = TryPartialReport(notebooks, e, outDir, settings);
            var complete = Path.Combine(outDir, ReportFileName);
            Console.Error.WriteLine($"error: {OneLine(e)}" +
                                    (partial is null ? "" : $" (executed notebooks and partial report: {partial})") +
                                    (File.Exists(complete) ? $"; the last complete report is kept: {complete}" : ""));
            return 1;
        }

        var report = HtmlReport.Build(results.Select(r => r.ExecutedPath), Path.Combine(outDir, ReportFileName), ReportOptions(settings));
        File.Delete(Path.Combine(outDir, PartialReportFileName)); // the failure it showed is over
        var resultsPath = Path.Combine(outDir, ResultsFile.FileName);
        if (!File.Exists(resultsPath))
            throw new InvalidOperationException($"The notebooks ran but wrote no {ResultsFile.FileName} in {outDir}; do they open the run with ExperimentRun.Open?");
        ExperimentCommand.PrintSummary(ResultsFile.Load(resultsPath), resultsPath);
        AnsiConsole.MarkupLine($"Wrote [green]{Markup.Escape(report)}[/] ({results.Count} notebooks in {clock.Elapsed.TotalMinutes:0.0} min)");
        return 0;
    }

    /// <summary>
    /// One line for a failed notebook: its name, the cell (position among all cells and among code
    /// cells) and the first line of the error, or what stopped the kernel.
    /// </summary>
    internal static string OneLine(NotebookRunException e)
    {
        var name = Path.GetFileName(e.Notebook);
        if (e.CellError is { } cell)
            return $"notebook {name} failed in cell {cell.CellNumber} (code cell {cell.CodeCellNumber}): {FirstLine(cell.ErrorText)}";
        return FirstLine(e.Message);
    }

    static string FirstLine(string text)
    {
        var line = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "";
        return line.Length <= 400 ? line : line[..400] + "…";
    }

    static HtmlReportOptions ReportOptions(ExperimentSettings settings) => new()
    {
        Subtitle = $"profile {settings.Profile}, seed {settings.Seed}, {DateTime.Now:yyyy-MM-dd HH:mm}",
    };

    /// <summary>The report of the notebooks up to the failing one (its error included), so the failure can be read in context.</summary>
    static string? TryPartialReport(IReadOnlyList<string> notebooks, NotebookRunException e, string outDir, ExperimentSettings settings)
    {
        try
        {
            var executed = notebooks
                .TakeWhile(n => !string.Equals(Path.GetFullPath(n), Path.GetFullPath(e.Notebook), StringComparison.Ordinal))
                .Append(e.Notebook)
                .Select(n => Path.Combine(outDir, "notebooks", Path.GetFileName(n)))
                .Where(File.Exists)
                .ToList();
            if (executed.Count == 0) return null;
            return HtmlReport.Build(executed, Path.Combine(outDir, PartialReportFileName),
                ReportOptions(settings) with { Title = $"Robust Feature Leakage: partial results (stopped at {Path.GetFileName(e.Notebook)})" });
        }
        catch (Exception inner) when (inner is IOException or InvalidDataException or InvalidOperationException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// The repository root (the folder with Leakage.Notebooks.sln): from the working directory
    /// upwards, else from this program's location upwards (a build inside the repository).
    /// </summary>
    internal static string FindRepositoryRoot() =>
        RepositoryRoot.Find(Environment.CurrentDirectory, AppContext.BaseDirectory) ?? throw new DirectoryNotFoundException(
            $"No {RepositoryRoot.SolutionFile} above {Environment.CurrentDirectory} or {AppContext.BaseDirectory}: run the command inside the repository.");

    /// <summary>
    /// Notebooks load the helpers from lib/Leakage.Interactive/bin/Release. A Release build of this
    /// program has just built them (project reference); otherwise (a Debug build, or the output was
    /// removed) they are built now.
    /// </summary>
    static async Task EnsureHelpersBuiltAsync(string root, CancellationToken ct)
    {
        var dll = Path.Combine(root, InteractiveBuild);
        var configuration = typeof(RunCommand).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration;
        bool fromThisBuild = string.Equals(configuration, "Release", StringComparison.OrdinalIgnoreCase)
                             && Path.GetFullPath(AppContext.BaseDirectory).StartsWith(root, StringComparison.Ordinal);
        if (File.Exists(dll) && fromThisBuild) return;
        var project = Path.Combine(root, "lib", "Leakage.Interactive", "Leakage.Interactive.csproj");
        AnsiConsole.MarkupLine($"[grey]Building the notebook helpers: dotnet build {Markup.Escape(project)} -c Release[/]");
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = root, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "build", project, "-c", "Release", "--nologo", "-v", "quiet" }) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("Could not start 'dotnet build'.");
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        if (process.ExitCode != 0 || !File.Exists(dll))
        {
            var output = (await stdout + await stderr).Trim();
            var lastError = output.Split('\n').LastOrDefault(l => l.Contains("error", StringComparison.OrdinalIgnoreCase))?.Trim() ?? "see 'dotnet build' output";
            throw new InvalidOperationException($"Building the notebook helpers failed (exit code {process.ExitCode}): {lastError}");
        }
    }
}
