using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Leakage.Experiment;
using Leakage.Interactive;
using Leakage.Reporting;
using Microsoft.DotNet.Interactive.Documents;
using Xunit.Abstractions;

namespace Leakage.Notebooks.Tests;

/// <summary>
/// Runs the whole notebook series once through the <c>run</c> command, as a user would, in the quick
/// profile shrunk further with overrides (a few hundred images, one or two epochs, three PGD steps),
/// and keeps the outcome for the tests below. All notebooks share one run folder.
/// </summary>
public sealed class NotebookSeriesFixture : IDisposable
{
    /// <summary>
    /// Settings that keep the series to a minute or two of compute on two cores. The beyond.* values
    /// keep notebook 07 small, and show that values given to the command reach it (it switches the
    /// extensions on with defaults only where none were given).
    /// </summary>
    public static readonly string[] Overrides =
    [
        "data.trainCount=500", "data.testCount=250", "standard.width=8", "standard.epochs=2", "attack.steps=3",
        "transfer.epochs=2", "robust.epochs=6", "probe.bootstrap=50",
        "beyond.nonlinearEpochs=1", "beyond.nonlinearPgdSteps=2", "beyond.sweepRadii=0.1,0.5", "beyond.seeds=2",
    ];

    readonly TempDir _tmp = new();

    public NotebookSeriesFixture()
    {
        if (!File.Exists(Repo.InteractiveBuild)) { SkipReason = $"{Repo.InteractiveBuild} is missing: build with 'dotnet build -c Release'."; return; }
        if (!File.Exists(CliProcess.Dll)) { SkipReason = $"{CliProcess.Dll} is missing: build the solution."; return; }
        OutDirectory = Path.Combine(_tmp.Path, "run");
        Outcome = Run(OutDirectory);
    }

    /// <summary>The series' <c>run</c> command on <paramref name="outDirectory"/>.</summary>
    public static CliProcess.Outcome Run(string outDirectory)
    {
        var args = new List<string> { "run", "--profile", "quick", "--data", NotebookTestData.Folder, "--out", outDirectory, "--device", "cpu", "--threads", "1", "--timeout", "15" };
        foreach (var o in Overrides) { args.Add("--set"); args.Add(o); }
        var env = NotebookTestData.Synthetic ? new Dictionary<string, string> { ["LEAKAGE_CACHE"] = NotebookTestData.SyntheticCache } : null;
        return CliProcess.Run(args, TimeSpan.FromMinutes(30), env);
    }

    public string? SkipReason { get; }
    public string OutDirectory { get; } = "";
    public CliProcess.Outcome Outcome { get; } = new(-1, "", "", TimeSpan.Zero);

    public string Executed(string notebook) => Path.Combine(OutDirectory, "notebooks", notebook);
    public string ReportPath => Path.Combine(OutDirectory, "report.html");
    public JsonObject Results => JsonNode.Parse(File.ReadAllText(Path.Combine(OutDirectory, ResultsFile.FileName)))!.AsObject();

    public void Dispose() => _tmp.Dispose();
}

[Collection(NotebookKernels.Name)]
public class NotebookSeriesTests(NotebookSeriesFixture run, ITestOutputHelper output) : IClassFixture<NotebookSeriesFixture>
{
    void SkipUnlessRan() => Skip.If(run.SkipReason != null, run.SkipReason);

    public static TheoryData<string> Series => new(NotebookRunner.FindNotebooks(Repo.Notebooks).Select(Path.GetFileName)!);

    [SkippableFact]
    public void The_run_command_executes_the_series_and_exits_with_code_0()
    {
        SkipUnlessRan();
        output.WriteLine($"series on {(NotebookTestData.Synthetic ? "synthetic" : "shared CIFAR-10")} data {NotebookTestData.Folder}: {run.Outcome.Elapsed.TotalSeconds:F0} s");
        Assert.True(run.Outcome.ExitCode == 0, run.Outcome.ToString());
        Assert.Empty(run.Outcome.ErrorLines);
        Assert.Contains("Wrote", run.Outcome.StdOut);
        Assert.Equal(Series.Count, Directory.GetFiles(Path.Combine(run.OutDirectory, "notebooks"), "*.ipynb").Length);
    }

    [SkippableTheory]
    [MemberData(nameof(Series))]
    public void Each_notebook_runs_headlessly_with_no_error_output(string notebook)
    {
        SkipUnlessRan();
        var executed = run.Executed(notebook);
        Assert.True(File.Exists(executed), $"{notebook} was not executed.\n{run.Outcome}");
        var doc = ExecutedNotebook.Read(executed);
        Assert.Null(ExecutedNotebook.FindFirstError(doc));
        var code = doc.Elements.Where(e => !ExecutedNotebook.IsMarkdown(e)).ToList();
        Assert.All(code, c => Assert.DoesNotContain(c.Outputs, o => o is TextElement { Name: "stderr" }));
        // Every code cell but the build check shows something.
        Assert.All(code.Skip(1), c => Assert.True(c.Outputs.Count > 0, $"{notebook}: a code cell produced no output:\n{c.Contents}"));
        Assert.False(NotebookCleaner.HasOutputs(Path.Combine(Repo.Notebooks, notebook)), "the source notebook stays clean");
    }

    [SkippableFact]
    public void The_notebooks_write_every_step_to_results_json_with_the_settings_of_the_command()
    {
        SkipUnlessRan();
        var r = run.Results;
        Assert.Equal("quick", (string?)r["profile"]);
        Assert.Equal(500, (int)r["settings"]!["data"]!["trainCount"]!);  // --set reached the kernels
        Assert.Equal(3, (int)r["settings"]!["attack"]!["steps"]!);
        Assert.Equal("cpu", (string?)r["settings"]!["device"]);
        // run hands the kernels an absolute data folder; results.json names it without the machine's path.
        var source = (string?)r["data"]?["source"];
        Assert.False(string.IsNullOrEmpty(source) || Path.IsPathRooted(source) || source.Contains(Path.DirectorySeparatorChar), $"data.source: {source}");
        double Fraction(JsonNode? n)
        {
            Assert.NotNull(n);
            var v = (double)n!;
            Assert.InRange(v, 0, 1);
            return v;
        }
        Fraction(r["standardModel"]?["testAccuracy"]);
        Fraction(r["adversarial"]?["drand"]?["attackSuccess"]);
        Fraction(r["adversarial"]?["ddet"]?["attackSuccess"]);
        Assert.Equal(0.0, Fraction(r["adversarial"]?["ddet"]?["targetEqualsLabel"]));
        Fraction(r["transfer"]?["drand"]);
        Fraction(r["transfer"]?["ddet"]);
        Fraction(r["robustModel"]?["spec2"]);
        Fraction(r["robustModel"]?["otherUnits"]?["spec2"]);
        Assert.Equal(10, r["robustModel"]!["gamma"]!.AsArray().Count);
        Fraction(r["leakage"]?["drand"]);
        Fraction(r["leakage"]?["ddet"]);
        Assert.Equal(0.1, Fraction(r["leakage"]?["controls"]?["chance"]?["accuracy"]));
        Fraction(r["leakageControls"]?["drandClean"]?["accuracy"]);
        Fraction(r["leakageControls"]?["ddetClean"]?["accuracy"]);
        foreach (var step in new[] { "standard", "d_rand", "d_det", "transfer_rand", "transfer_det", "robust_linear" })
            Assert.True(File.Exists(Path.Combine(run.OutDirectory, step, "metadata.json")), $"{step}/metadata.json is missing");
    }

    [SkippableFact]
    public void Notebook_07_adds_the_extensions_to_results_json_and_keeps_the_results_of_notebooks_01_to_06()
    {
        SkipUnlessRan();
        var r = run.Results;
        // The main results survive notebook 07 switching the extensions on in the shared run folder.
        foreach (var key in new[] { "standardModel", "adversarial", "transfer", "robustModel", "leakage", "leakageControls" })
            Assert.True(r[key] is not null, $"results.json lost '{key}'");
        Assert.Equal(500, (int)r["settings"]!["data"]!["trainCount"]!);
        var beyond = r["beyond"]!;

        var nonlinear = beyond["nonlinear"]!;
        Assert.Equal(1, (int)nonlinear["epochs"]!);                            // --set beyond.nonlinearEpochs=1 reached notebook 07
        Assert.Equal((int)r["data"]!["test"]!, (int)nonlinear["robustEvaluatedImages"]!); // the whole (small) test set
        Assert.True((double)nonlinear["robustAccuracy"]! <= (double)nonlinear["cleanAccuracyOnAttacked"]! + 0.01);
        var names = nonlinear["probes"]!.AsArray().Select(p => (string)p!["name"]!).ToList();
        foreach (var view in new[] { "robust CNN logits", "robust CNN penultimate features" })
            foreach (var set in new[] { "D_rand", "D_det", "clean D", "clean images, D_rand labels", "clean images, D_det labels" })
                Assert.Contains($"{set}, {view}", names);
        Assert.Contains("D_rand, standard model logits (non-robust)", names);
        // Each entry carries its kind, which made its name: readers address the probes by it.
        Assert.All(nonlinear["probes"]!.AsArray(), p => Assert.True(p!["view"] is not null && p["set"] is not null, $"{p["name"]}: written without its kind"));
        var typed = ResultsUpgrade.Read(r).Beyond!.Nonlinear!.Probes;
        Assert.Equal(NonlinearProbeKind.All, typed.Select(p => p.Kind));
        Assert.All(typed, p => Assert.Equal(p.Kind.Name, p.Name));

        var sweep = beyond["radiusSweep"]!.AsArray();
        Assert.Equal([0.1, 0.5], sweep.Select(p => (double)p!["radius"]!));    // the command's radii, not the notebook's defaults
        Assert.All(sweep, p => Assert.Equal((int)r["data"]!["train"]!, (int)p!["leakageDrandClean"]!["nTrain"]!));
        Assert.Equal(2, beyond["probeSeeds"]!["seeds"]!.AsArray().Count);
        Assert.Null(beyond["released"]);
        foreach (var step in new[] { "robust_cnn", Path.Combine("sweep", "radius-0.1"), Path.Combine("sweep", "radius-0.5"), Path.Combine("seeds", "robust-linear-1") })
            Assert.True(File.Exists(Path.Combine(run.OutDirectory, step, "metadata.json")), $"{step}/metadata.json is missing");

        var executed = File.ReadAllText(run.Executed("07-beyond.ipynb"));
        Assert.Contains("skipped: beyond.releasedData is not set", executed);
    }

    [SkippableFact]
    public void Notebook_07_probes_the_released_data_sets_when_beyond_releasedData_points_at_them()
    {
        SkipUnlessRan();
        Assert.True(run.Outcome.ExitCode == 0, run.Outcome.ToString());
        using var tmp = new TempDir();
        // A copy of the finished run folder, so that only notebook 07 runs (everything else is cached).
        var copy = Path.Combine(tmp.Path, "run");
        CopyRunFolder(run.OutDirectory, copy);
        var released = Path.Combine(Repo.Root, "tests", "Leakage.Tests", "Fixtures", "released", "zip");
        var settings = SettingsOverrides.Apply(Profiles.Get("quick"),
            [.. NotebookSeriesFixture.Overrides, "device=cpu", "threads=1", $"beyond.releasedData={released}"]);
        var environment = new Dictionary<string, string>(NotebookExperiment.Environment(settings, NotebookTestData.Folder, copy, Repo.Notebooks));
        if (NotebookTestData.Synthetic) environment["LEAKAGE_CACHE"] = NotebookTestData.SyntheticCache;

        var results = NotebookRunner.RunAll(new NotebookRunOptions
        {
            Notebooks = [Path.Combine(Repo.Notebooks, "07-beyond.ipynb")],
            OutputDirectory = copy,
            Environment = environment,
            TimeoutPerNotebook = TimeSpan.FromMinutes(10),
        });

        var doc = ExecutedNotebook.Read(Assert.Single(results).ExecutedPath);
        Assert.Null(ExecutedNotebook.FindFirstError(doc));
        var r = ResultsFile.Load(Path.Combine(copy, ResultsFile.FileName));
        var probes = r.Beyond!.Released!.ToDictionary(s => s.Set, s => s.Probe);
        Assert.Equal(7, probes["DRand"].NTrain);                                 // the fixture's sizes (tests/Leakage.Tests/Fixtures/released/README.md)
        Assert.Equal(3, probes["DDet"].NTrain);
        Assert.Equal(10, probes["DRand"].Features);
        // Where the sets came from: the settings, not a results entry, by folder name and content (RecordedPaths), never by a machine path.
        Assert.Equal(RecordedPaths.Settings(settings, copy).Beyond.ReleasedData, r.Settings!.Beyond.ReleasedData);
        Assert.StartsWith("zip" + RecordedPaths.FingerprintPrefix, r.Settings.Beyond.ReleasedData);
        var raw = JsonNode.Parse(File.ReadAllText(Path.Combine(copy, ResultsFile.FileName)))!;
        Assert.DoesNotContain(Path.GetFullPath(released), raw["beyond"]!.ToJsonString());
        Assert.DoesNotContain(Path.GetFullPath(released), raw.ToJsonString());
        Assert.NotNull(r.StandardModel);                                         // the main results are kept
        Assert.NotNull(r.Beyond.Nonlinear);                                      // and so are the other extensions
        Assert.Contains("D_rand (released)", File.ReadAllText(results[0].ExecutedPath));
    }

    [SkippableFact]
    public void The_run_command_run_again_on_its_folder_gives_the_same_results_and_a_complete_report()
    {
        SkipUnlessRan();
        Assert.True(run.Outcome.ExitCode == 0, run.Outcome.ToString());
        using var tmp = new TempDir();
        // The finished run folder as the first run left it (executed notebooks and report included).
        var again = Path.Combine(tmp.Path, "run");
        CopyRunFolder(run.OutDirectory, again, withOutputs: true);
        var first = Timeless(File.ReadAllText(Path.Combine(again, ResultsFile.FileName)));

        var outcome = NotebookSeriesFixture.Run(again);

        Assert.True(outcome.ExitCode == 0, outcome.ToString());
        Assert.Empty(outcome.ErrorLines);
        var second = Timeless(File.ReadAllText(Path.Combine(again, ResultsFile.FileName)));
        Assert.True(JsonNode.DeepEquals(first, second), $"results.json changed on the second run:\n{first}\n---\n{second}");
        var report = File.ReadAllText(Path.Combine(again, "report.html"));
        Assert.DoesNotContain("partial results", report);
        Assert.Equal(Series.Count, Regex.Count(report, "<section class=\"notebook\""));
        Assert.False(File.Exists(Path.Combine(again, "report.partial.html")));
    }

    /// <summary>results.json without its step times (<c>seconds</c>), the one part a rerun may change.</summary>
    static JsonNode Timeless(string json)
    {
        var node = JsonNode.Parse(json)!;
        void Strip(JsonNode? n)
        {
            if (n is JsonObject o) { o.Remove("seconds"); foreach (var (_, v) in o) Strip(v); }
            else if (n is JsonArray a) foreach (var v in a) Strip(v);
        }
        Strip(node);
        return node;
    }

    /// <summary>Copies a run folder's artifacts and results.json (with <paramref name="withOutputs"/>, also its executed notebooks and report).</summary>
    static void CopyRunFolder(string from, string to, bool withOutputs = false)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(from, file);
            if (!withOutputs && (relative.StartsWith("notebooks" + Path.DirectorySeparatorChar, StringComparison.Ordinal) || relative == "report.html")) continue;
            var target = Path.Combine(to, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    [SkippableFact]
    public void The_kernel_renders_the_views_of_the_results_as_their_tables()
    {
        SkipUnlessRan();
        string Html(string notebook) => string.Concat(JsonNode.Parse(File.ReadAllText(run.Executed(notebook)))!["cells"]!.AsArray()
            .SelectMany(c => c!["outputs"]?.AsArray() ?? []).Select(o => o!["data"]?["text/html"] switch
            {
                JsonArray lines => string.Concat(lines.Select(l => (string?)l)),
                JsonValue v => (string?)v,
                _ => "",
            }));
        var leakage = Html("06-leakage.ipynb");
        var results = RunResults.Load(Path.Combine(run.OutDirectory, ResultsFile.FileName));
        // A cell that ends with a view shows the view's table, with this run's numbers.
        Assert.Contains("<caption>Probe on ten robust features: clean test accuracy (percent)</caption>", leakage);
        Assert.Contains(results.Leakage!.DRand.Name, leakage);
        Assert.Contains(results.Leakage.DRandNull.Name, leakage);
        Assert.Contains("<caption>This run against the published numbers</caption>", leakage);
        Assert.Contains(Readings.Percent(results.LeakageDRand), leakage);
        var beyond = Html("07-beyond.ipynb");
        foreach (var caption in new[] { "Beyond Goh: this run", "Linear robust features: the bound of notebook 06", "(d) Released data sets" })
            Assert.Contains($"<caption>{caption}</caption>", beyond);
        Assert.Contains("Probe accuracy on the clean test set by feature set", beyond);   // FeatureSetComparison
        Assert.Contains("C trained and certified at each radius", beyond);                // SweepView
        Assert.Contains("Leakage over seeds of C (percent)", beyond);                     // SeedsView
        Assert.DoesNotContain("LeakageView", leakage + beyond);                            // no default object rendering
    }

    [SkippableFact]
    public void Outputs_and_report_show_no_absolute_machine_paths_and_one_snapshot_per_progress_bar()
    {
        SkipUnlessRan();
        var outDir = Path.GetFullPath(run.OutDirectory);
        foreach (var nb in Series)
        {
            var text = File.ReadAllText(run.Executed(nb));
            var outputs = string.Concat(JsonNode.Parse(text)!["cells"]!.AsArray()
                .SelectMany(c => c!["outputs"]?.AsArray() ?? []).Select(o => o!.ToJsonString()));
            Assert.DoesNotContain(outDir, outputs);
            Assert.DoesNotContain(Repo.Root, outputs);
            Assert.Equal(0, NotebookCleaner.KeepFinalProgress(run.Executed(nb))); // already one snapshot per bar
        }
        var html = File.ReadAllText(run.ReportPath);
        Assert.DoesNotContain(outDir, html);
        Assert.DoesNotContain(Repo.Root, html);
    }

    [SkippableFact]
    public void The_report_is_offline_and_shows_the_ten_weight_images_inline()
    {
        SkipUnlessRan();
        var html = File.ReadAllText(run.ReportPath);
        Assert.Empty(HtmlReport.FindExternalReferences(html));
        Assert.DoesNotMatch(new Regex("<script[^>]+src=", RegexOptions.IgnoreCase), html);
        foreach (var nb in Series) Assert.Contains($"<p class=\"source\">{nb}</p>", html);

        var start = html.IndexOf("<section class=\"notebook\" id=\"nb-05-robust-features\">", StringComparison.Ordinal);
        Assert.True(start >= 0, "the report has a section for notebook 05");
        var section = html[start..html.IndexOf("</section>", start, StringComparison.Ordinal)];
        var weights = section.IndexOf("The ten features", StringComparison.Ordinal);
        var grid = section[weights..];
        grid = grid[..grid.IndexOf("</table>", StringComparison.Ordinal)];
        Assert.Equal(10, Regex.Matches(grid, "<img src=\"data:image/png;base64,[A-Za-z0-9+/=]{100,}\"").Count);
        foreach (var name in Leakage.Data.Cifar10.ClassNames) Assert.Contains($">{name}</th>", grid);
        Assert.Contains("Plotly.newPlot(", html);
        Assert.DoesNotContain("class=\"error\"", html);

        // It opens on the summary of results.json, with C's ten weight images, before notebook 00.
        var summary = html.IndexOf($"<section class=\"summary\" id=\"{ReportSummary.Id}\">", StringComparison.Ordinal);
        Assert.True(summary >= 0 && summary < html.IndexOf("<section class=\"notebook\"", StringComparison.Ordinal), "the report opens on the summary");
        var head = html[summary..html.IndexOf("</section>", summary, StringComparison.Ordinal)];
        Assert.Equal(10, Regex.Matches(head, "<img src=\"data:image/png;base64,").Count);
        Assert.Contains("23.5%", head);
        foreach (var nb in Series) Assert.Contains($"href=\"#nb-{Path.GetFileNameWithoutExtension(nb)}\"", head);
    }
}

/// <summary>The run command's failure paths: a failing cell, bad settings, missing data.</summary>
[Collection(NotebookKernels.Name)]
public class RunCommandFailureTests
{
    static void SkipUnlessBuilt()
    {
        Skip.IfNot(File.Exists(CliProcess.Dll), $"{CliProcess.Dll} is missing: build the solution.");
        Skip.IfNot(File.Exists(Repo.InteractiveBuild), $"{Repo.InteractiveBuild} is missing.");
    }

    [SkippableFact]
    public void The_run_command_stops_at_the_first_failing_cell_with_one_line_naming_notebook_and_cell()
    {
        SkipUnlessBuilt();
        using var tmp = new TempDir();
        // Below the repository (the tool manifest), so the runner finds dotnet-repl.
        var dir = Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "failing-series-" + Guid.NewGuid().ToString("N")[..8])).FullName;
        try
        {
            new SyntheticNotebook().Markdown("# Fine").Code("var fine = 1 + 1;").Write(Path.Combine(dir, "01-fine.ipynb"));
            new SyntheticNotebook().Markdown("# Fails").Code("var before = 1;")
                .Code("throw new InvalidOperationException(\"deliberate failure in the series\");").Write(Path.Combine(dir, "02-fails.ipynb"));
            new SyntheticNotebook().Markdown("# Never").Code("var never = 3;").Write(Path.Combine(dir, "03-never.ipynb"));
            // The complete report of an earlier run in the same folder.
            var complete = Path.Combine(tmp.Path, "report.html");
            const string earlier = "<html><body>the complete report of an earlier run</body></html>";
            File.WriteAllText(complete, earlier);
            var outcome = CliProcess.Run(["run", "--notebooks", dir, "--data", NotebookTestData.Folder, "--out", tmp.Path], TimeSpan.FromMinutes(5));

            Assert.True(outcome.ExitCode == 1, outcome.ToString());
            var line = Assert.Single(outcome.ErrorLines);
            Assert.StartsWith("error: notebook 02-fails.ipynb failed in cell 3 (code cell 2): ", line);
            Assert.Contains("deliberate failure in the series", line);
            Assert.True(File.Exists(Path.Combine(tmp.Path, "notebooks", "01-fine.ipynb")));
            Assert.True(File.Exists(Path.Combine(tmp.Path, "notebooks", "02-fails.ipynb")), "the failing notebook is kept for inspection");
            Assert.False(File.Exists(Path.Combine(tmp.Path, "notebooks", "03-never.ipynb")), "notebooks after the failure do not run");
            var partialPath = Path.Combine(tmp.Path, "report.partial.html");
            var report = File.ReadAllText(partialPath);
            Assert.Contains("partial results (stopped at 02-fails.ipynb)", report);
            Assert.Contains("deliberate failure in the series", report);
            // A failed run never replaces a complete report, and the line says where each one is.
            Assert.Equal(earlier, File.ReadAllText(complete));
            Assert.Contains($"partial report: {partialPath}", line);
            Assert.Contains($"the last complete report is kept: {complete}", line);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [SkippableFact]
    public void A_bad_setting_is_refused_in_one_line_before_any_notebook_runs()
    {
        Skip.IfNot(File.Exists(CliProcess.Dll), $"{CliProcess.Dll} is missing: build the solution.");
        using var tmp = new TempDir();
        var outcome = CliProcess.Run(["run", "--data", tmp.Path, "--out", tmp.Path, "--set", "attack.stepz=3"], TimeSpan.FromMinutes(2));
        Assert.Equal(1, outcome.ExitCode);
        var line = Assert.Single(outcome.ErrorLines);
        Assert.StartsWith("error: Unknown setting 'attack.stepz'", line);
        Assert.Contains("attack.steps", line);
        Assert.False(Directory.Exists(Path.Combine(tmp.Path, "notebooks")));
    }

    [SkippableFact]
    public void Missing_data_is_refused_in_one_line_that_says_how_to_get_it()
    {
        Skip.IfNot(File.Exists(CliProcess.Dll), $"{CliProcess.Dll} is missing: build the solution.");
        using var tmp = new TempDir();
        var outcome = CliProcess.Run(["run", "--data", Path.Combine(tmp.Path, "nothing-here"), "--out", tmp.Path], TimeSpan.FromMinutes(2));
        Assert.Equal(1, outcome.ExitCode);
        var line = Assert.Single(outcome.ErrorLines);
        Assert.Contains("No CIFAR-10 data at", line);
        Assert.Contains("download", line);
    }
}

/// <summary>The conventions of notebooks/README.md, checked on the committed notebooks (no kernel).</summary>
public class NotebookConventionsTests
{
    public static TheoryData<string> Experiment => new(NotebookRunner.FindNotebooks(Repo.Notebooks).Select(Path.GetFileName).Where(n => n != "00-setup.ipynb")!);

    [Theory]
    [MemberData(nameof(Experiment))]
    public void Each_notebook_opens_with_title_references_and_one_configuration_cell(string notebook)
    {
        var doc = ExecutedNotebook.Read(Path.Combine(Repo.Notebooks, notebook));
        var cells = doc.Elements.ToList();
        Assert.True(ExecutedNotebook.IsMarkdown(cells[0]));
        Assert.StartsWith($"# {notebook[..2]} · ", cells[0].Contents);
        Assert.True(ExecutedNotebook.IsMarkdown(cells[1]));
        Assert.StartsWith("**References**", cells[1].Contents);
        var code = cells.Where(c => !ExecutedNotebook.IsMarkdown(c)).ToList();
        Assert.Equal(NotebookSetupFiles.CheckCell, code[0].Contents.Trim());           // the build check
        Assert.StartsWith(NotebookSetupFiles.LoadLine, code[1].Contents);                // the helpers, from the shared setup
        Assert.Single(code, c => c.Contents.Contains("NotebookSetup.Init()"));          // one configuration cell
        Assert.Contains("ExperimentRun.Open(config.ExperimentSettings()", code[1].Contents);
        Assert.Contains("new RunProgress()", code[1].Contents);
        // Markdown between the steps: no two code cells in a row without text, except a chart after its table.
        Assert.True(cells.Count(ExecutedNotebook.IsMarkdown) >= code.Count / 2, $"{notebook} has too little text between its steps.");
        Assert.True(code.Skip(2).All(c => !c.Contents.Contains("Console.Write")), "cells end with a value instead of printing");
    }
}

/// <summary>
/// The one shared setup of the series (notebooks/setup-check.csx and notebooks/setup.csx): every
/// notebook opens with the same two cells that load them, and only setup.csx names the build folder.
/// </summary>
public class NotebookSetupFiles
{
    /// <summary>The first code cell of every notebook.</summary>
    public const string CheckCell = "#load \"setup-check.csx\"";

    /// <summary>The first line of every notebook's configuration cell.</summary>
    public const string LoadLine = "#load \"setup.csx\"";

    static string SetupFile => Path.Combine(Repo.Notebooks, "setup.csx");

    /// <summary>The files setup.csx references, resolved against its folder (as the kernel resolves them).</summary>
    public static IReadOnlyList<string> References() =>
        File.ReadLines(SetupFile).Where(l => l.StartsWith("#r \"", StringComparison.Ordinal))
            .Select(l => Path.GetFullPath(Path.Combine(Repo.Notebooks, l[4..l.LastIndexOf('"')]))).ToList();

    public static TheoryData<string> Series => new(NotebookRunner.FindNotebooks(Repo.Notebooks).Select(Path.GetFileName)!);

    [Theory]
    [MemberData(nameof(Series))]
    public void Each_notebook_opens_with_the_two_shared_setup_cells_and_references_nothing_itself(string notebook)
    {
        var code = ExecutedNotebook.Read(Path.Combine(Repo.Notebooks, notebook)).Elements.Where(c => !ExecutedNotebook.IsMarkdown(c)).ToList();
        Assert.Equal(CheckCell, code[0].Contents.Trim());
        Assert.StartsWith(LoadLine + "\n", code[1].Contents);
        Assert.Contains("NotebookSetup.Init()", code[1].Contents);
        Assert.All(code, c => Assert.DoesNotContain("#r ", c.Contents));
        Assert.All(code, c => Assert.DoesNotContain("bin/Release", c.Contents));
        Assert.All(code, c => Assert.DoesNotContain("\"Release\"", c.Contents));
    }

    [Fact]
    public void Setup_csx_is_the_one_file_that_names_the_build_and_references_the_helpers_the_notebooks_use()
    {
        var references = References();
        Assert.Equal(["Leakage.dll", "Leakage.Interactive.dll", "TorchSharp.dll", "Plotly.NET.dll", "Microsoft.Data.Analysis.dll"],
            references.Select(Path.GetFileName));
        Assert.All(references, r => Assert.Equal(Path.GetDirectoryName(Repo.InteractiveBuild), Path.GetDirectoryName(r)));
        var naming = Directory.EnumerateFiles(Repo.Notebooks).Concat(Directory.EnumerateFiles(Repo.TestNotebooks))
            .Where(f => Path.GetExtension(f) is ".ipynb" or ".csx" && File.ReadAllText(f).Contains("bin/Release")).Select(Path.GetFileName);
        Assert.Equal(["setup.csx"], naming);
        // The check reads the #r lines of setup.csx instead of naming the folder again.
        var check = File.ReadAllText(Path.Combine(Repo.Notebooks, "setup-check.csx"));
        Assert.Contains("\"setup.csx\"", check);
        Assert.Contains("dotnet build -c Release", check);
    }
}
