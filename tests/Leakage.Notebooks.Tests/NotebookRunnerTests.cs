using System.Diagnostics;
using System.Text.RegularExpressions;
using Leakage.Interactive;
using Leakage.Reporting;

namespace Leakage.Notebooks.Tests;

/// <summary>
/// Runs notebook 00 and the sample notebook once, headlessly, in one runner call, and builds the
/// report from them; the tests below inspect the results. Each notebook starts a dotnet-repl
/// kernel (several seconds).
/// </summary>
public sealed class HeadlessRunFixture : IDisposable
{
    readonly TempDir _tmp = new();

    public HeadlessRunFixture()
    {
        if (!File.Exists(Repo.InteractiveBuild))
        {
            SkipReason = $"{Repo.InteractiveBuild} is missing: build with 'dotnet build -c Release' to run notebooks.";
            return;
        }
        OutDirectory = Path.Combine(_tmp.Path, "run");
        var settings = NotebookSettings.FromEnvironment(name => name switch
        {
            NotebookSettings.ProfileVariable => "test",
            NotebookSettings.OutVariable => OutDirectory,
            NotebookSettings.DeviceVariable => "cpu",
            NotebookSettings.ThreadsVariable => "1",
            _ => null,
        }, Repo.Notebooks);
        var log = new List<string>();
        Results = NotebookRunner.RunAll(new NotebookRunOptions
        {
            Notebooks = [Path.Combine(Repo.Notebooks, "00-setup.ipynb"), Path.Combine(Repo.TestNotebooks, "sample-report.ipynb")],
            OutputDirectory = OutDirectory,
            Environment = settings.ToEnvironment(),
            TimeoutPerNotebook = TimeSpan.FromMinutes(5),
            Log = log.Add,
        });
        Log = log;
        SyntheticResults.Write(OutDirectory); // the results.json the report opens on (made-up values)
        ReportPath = HtmlReport.Build(Results.Select(r => r.ExecutedPath), Path.Combine(OutDirectory, "report.html"),
            new HtmlReportOptions { Subtitle = "profile test" });
    }

    public string? SkipReason { get; }
    public string OutDirectory { get; } = "";
    public IReadOnlyList<NotebookRunResult> Results { get; } = [];
    public IReadOnlyList<string> Log { get; } = [];
    public string ReportPath { get; } = "";

    public void Dispose() => _tmp.Dispose();
}

[Collection(NotebookKernels.Name)]
public class NotebookRunnerTests(HeadlessRunFixture run) : IClassFixture<HeadlessRunFixture>
{
    void SkipUnlessBuilt() => Skip.If(run.SkipReason != null, run.SkipReason);

    [SkippableFact]
    public void Notebook_00_executes_headlessly_with_no_error_output()
    {
        SkipUnlessBuilt();
        var executed = run.Results[0].ExecutedPath;
        Assert.Equal(Path.Combine(run.OutDirectory, "notebooks", "00-setup.ipynb"), executed);
        var doc = ExecutedNotebook.Read(executed);
        Assert.Null(ExecutedNotebook.FindFirstError(doc));
        // Every code cell but the build check produced output.
        var codeCells = doc.Elements.Where(e => !ExecutedNotebook.IsMarkdown(e)).ToList();
        Assert.All(codeCells.Skip(1), c => Assert.NotEmpty(c.Outputs));
        var text = OutputText(doc);
        Assert.Contains("Run configuration", text);
        Assert.Contains("sum(x²) = 14 and gradient 2x: ok", text);
        // The run folder (outside the repository here) is shown by its variable, not by the machine's path.
        Assert.Contains("$LEAKAGE_OUT (writable)", text);
        Assert.DoesNotContain(run.OutDirectory, text);
    }

    [SkippableFact]
    public void The_runner_passes_settings_to_the_kernel_and_logs_each_notebook()
    {
        SkipUnlessBuilt();
        var text = OutputText(ExecutedNotebook.Read(run.Results[0].ExecutedPath));
        Assert.Matches("<th[^>]*>profile</th><td>test</td>", text);
        Assert.Matches("<th[^>]*>headless</th><td>yes</td>", text);
        Assert.Contains(run.Log, l => l.Contains("00-setup.ipynb: done"));
        Assert.Contains(run.Log, l => l.Contains("sample-report.ipynb: done"));
        Assert.False(NotebookCleaner.HasOutputs(Path.Combine(Repo.Notebooks, "00-setup.ipynb")), "the source notebook stays clean");
    }

    [SkippableFact]
    public void The_report_of_executed_notebooks_is_offline_with_inline_pngs_and_plotly_once()
    {
        SkipUnlessBuilt();
        var html = File.ReadAllText(run.ReportPath);
        Assert.Empty(HtmlReport.FindExternalReferences(html));
        Assert.DoesNotMatch(new Regex("<script[^>]+src=", RegexOptions.IgnoreCase), html);
        Assert.Single(Regex.Matches(html, Regex.Escape($"<script id=\"{PlotlyEmbedding.ScriptId}\"")));
        // 00: 10 class swatches; sample: 6 grid images + 2 x 2 weight images.
        Assert.True(Regex.Matches(html, "<img src=\"data:image/png;base64,").Count >= 20);
        var charts = Regex.Matches(html.Replace(PlotlyEmbedding.ScriptElement(), ""), Regex.Escape("Plotly.newPlot('")).Count;
        Assert.Equal(3, charts);
        Assert.Single(Regex.Matches(html, "data-leakage-progress=\"").Cast<Match>()); // 5 updates, one kept
        Assert.Contains("<table>", html); // the markdown pipe table
        // The DataFrame of the sample rendered through the formatter NotebookSetup registered in the kernel.
        Assert.Contains("<thead><tr><th>set</th><th>value</th><th>published</th></tr></thead>", html);
        Assert.Contains("00 · Setup", html);
        Assert.Contains("Sample report notebook", html);
    }

    [SkippableFact]
    public void Headless_chromium_draws_every_chart_of_the_report()
    {
        SkipUnlessBuilt();
        const string chromium = "/usr/bin/chromium";
        Skip.IfNot(File.Exists(chromium), $"{chromium} is not installed (apt-get install chromium).");

        using var profile = new TempDir();
        var url = new Uri(run.ReportPath).AbsoluteUri;
        string[] common =
        [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-dev-shm-usage", $"--user-data-dir={profile.Path}", "--virtual-time-budget=15000",
        ];
        var dom = RunChromium(chromium, [.. common, "--dump-dom", url]);
        // plotly adds one svg.main-svg layer pair per drawn chart.
        var drawn = Regex.Matches(dom, "class=\"main-svg\"").Count;
        Assert.True(drawn >= 3, $"expected plotly to draw 3 charts, found {drawn} main-svg elements");
        Assert.Equal(3, Regex.Matches(dom, "class=\"plot-container plotly\"").Count);
        Assert.Contains("Sample report notebook", dom);
        // The page opens on the summary of results.json: it comes before every notebook section.
        var summary = dom.IndexOf($"id=\"{ReportSummary.Id}\"", StringComparison.Ordinal);
        Assert.True(summary >= 0 && summary < dom.IndexOf("class=\"notebook\"", StringComparison.Ordinal), "the summary is the first section of the page");

        var screenshot = Path.Combine(run.OutDirectory, "report.png");
        RunChromium(chromium, [.. common, $"--screenshot={screenshot}", "--window-size=1280,4000", url]);
        Assert.True(File.Exists(screenshot) && new FileInfo(screenshot).Length > 10_000, "chromium wrote a screenshot");
        var keep = Path.Combine(AppContext.BaseDirectory, "report-screenshot.png");
        File.Copy(screenshot, keep, overwrite: true);
    }

    /// <summary>Every output value of every cell, concatenated.</summary>
    static string OutputText(Microsoft.DotNet.Interactive.Documents.InteractiveDocument doc) =>
        string.Concat(doc.Elements.SelectMany(e => e.Outputs).Select(o => o switch
        {
            Microsoft.DotNet.Interactive.Documents.DisplayElement d => string.Concat(d.Data.Values.Select(ExecutedNotebook.Text)),
            Microsoft.DotNet.Interactive.Documents.ReturnValueElement r => string.Concat(r.Data.Values.Select(ExecutedNotebook.Text)),
            Microsoft.DotNet.Interactive.Documents.TextElement t => t.Text,
            _ => "",
        }));

    static string RunChromium(string chromium, string[] args)
    {
        var psi = new ProcessStartInfo(chromium) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException("chromium did not finish within 2 minutes.");
        }
        Assert.True(p.ExitCode == 0, $"chromium exited with {p.ExitCode}: {stderr.Result}");
        return stdout.Result;
    }
}

[Collection(NotebookKernels.Name)]
public class NotebookRunnerFailureTests
{
    [SkippableFact]
    public void The_runner_stops_at_a_notebook_that_throws_and_names_the_cell_and_the_error()
    {
        Skip.IfNot(File.Exists(Repo.InteractiveBuild), $"{Repo.InteractiveBuild} is missing.");
        using var tmp = new TempDir();
        var failing = Path.Combine(Repo.TestNotebooks, "failing.ipynb");
        var never = Path.Combine(Repo.TestNotebooks, "sample-report.ipynb");

        var e = Assert.Throws<NotebookRunException>(() => NotebookRunner.RunAll(new NotebookRunOptions
        {
            Notebooks = [failing, never],
            OutputDirectory = tmp.Path,
            TimeoutPerNotebook = TimeSpan.FromMinutes(5),
        }));

        Assert.Equal(failing, e.Notebook);
        Assert.NotNull(e.CellError);
        Assert.Equal(3, e.CellError!.CellNumber);
        Assert.Equal(2, e.CellError.CodeCellNumber);
        Assert.Contains("deliberate failure for the runner test", e.CellError.ErrorText);
        Assert.Contains("failing.ipynb failed in cell 3 (code cell 2)", e.Message);
        Assert.Contains("deliberate failure", e.Message);
        Assert.True(File.Exists(e.ExecutedPath), "the executed copy is kept for inspection");
        Assert.False(File.Exists(Path.Combine(tmp.Path, "notebooks", "sample-report.ipynb")), "later notebooks do not run");
        Assert.Empty(Directory.GetFiles(Path.Combine(tmp.Path, "notebooks"), "*.partial.ipynb", SearchOption.AllDirectories));
    }

    [SkippableFact]
    public void A_notebook_that_runs_past_its_timeout_is_stopped_and_reported()
    {
        Skip.IfNot(File.Exists(Repo.InteractiveBuild), $"{Repo.InteractiveBuild} is missing.");
        using var tmp = new TempDir();
        // The notebook must sit below the repository (tool manifest); the test's own output folder does.
        var dir = Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "timeout-" + Guid.NewGuid().ToString("N")[..8])).FullName;
        try
        {
            var nb = new SyntheticNotebook()
                .Markdown("# Slow")
                .Code("System.Threading.Thread.Sleep(TimeSpan.FromMinutes(10));")
                .Write(Path.Combine(dir, "slow.ipynb"));
            var e = Assert.Throws<NotebookRunException>(() => NotebookRunner.RunAll(new NotebookRunOptions
            {
                Notebooks = [nb],
                OutputDirectory = tmp.Path,
                TimeoutPerNotebook = TimeSpan.FromSeconds(5),
                RestoreTools = false,
            }));
            Assert.Contains("slow.ipynb did not finish within 00:00:05 and was stopped", e.Message);
            Assert.Null(e.CellError);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [SkippableFact]
    public void Without_the_build_the_shared_setup_stops_in_the_first_cell_and_says_how_to_build()
    {
        Skip.IfNot(File.Exists(Repo.InteractiveBuild), $"{Repo.InteractiveBuild} is missing.");
        using var tmp = new TempDir();
        // A copy of the series' setup files below the repository (tool manifest) with no build beside it:
        // ../lib/... from there does not exist, as in a fresh checkout.
        var dir = Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "unbuilt-" + Guid.NewGuid().ToString("N")[..8], "notebooks")).FullName;
        try
        {
            foreach (var file in new[] { "setup-check.csx", "setup.csx" })
                File.Copy(Path.Combine(Repo.Notebooks, file), Path.Combine(dir, file));
            var series = ExecutedNotebook.Read(Path.Combine(Repo.Notebooks, "01-data.ipynb")).Elements.Where(c => !ExecutedNotebook.IsMarkdown(c)).ToList();
            var nb = new SyntheticNotebook()
                .Markdown("# Unbuilt")
                .Code(series[0].Contents)
                .Code(series[1].Contents)
                .Write(Path.Combine(dir, "unbuilt.ipynb"));
            var e = Assert.Throws<NotebookRunException>(() => NotebookRunner.RunAll(new NotebookRunOptions
            {
                Notebooks = [nb],
                OutputDirectory = tmp.Path,
                TimeoutPerNotebook = TimeSpan.FromMinutes(5),
                RestoreTools = false,
            }));
            Assert.NotNull(e.CellError);
            Assert.Equal(1, e.CellError!.CodeCellNumber);
            var missing = Path.GetFullPath(Path.Combine(dir, "..", "lib", "Leakage.Interactive", "bin", "Release", "net10.0"));
            Assert.Contains($"The notebook helpers are not built ({missing})", e.CellError.ErrorText);
            Assert.Contains("Run 'dotnet build -c Release' in the repository root", e.CellError.ErrorText);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(dir)!, recursive: true);
        }
    }

    [Fact]
    public void A_missing_notebook_is_refused_before_anything_runs()
    {
        using var tmp = new TempDir();
        var e = Assert.Throws<FileNotFoundException>(() => NotebookRunner.RunAll(new NotebookRunOptions
        {
            Notebooks = [Path.Combine(tmp.Path, "nope.ipynb")],
            OutputDirectory = tmp.Path,
        }));
        Assert.Contains("nope.ipynb", e.Message);
    }

    [Fact]
    public void A_notebook_outside_a_repository_with_the_tool_manifest_is_refused_with_the_reason()
    {
        using var tmp = new TempDir();
        var nb = new SyntheticNotebook().Markdown("# x").Write(Path.Combine(tmp.Path, "x.ipynb"));
        var e = Assert.Throws<InvalidOperationException>(() => NotebookRunner.FindToolRoot(nb));
        Assert.Contains(NotebookRunner.ToolManifest, e.Message);
        Assert.Equal(Repo.Root, NotebookRunner.FindToolRoot(Path.Combine(Repo.Notebooks, "00-setup.ipynb")));
    }

    [Fact]
    public void The_series_is_the_numbered_notebooks_in_order()
    {
        using var tmp = new TempDir();
        foreach (var name in new[] { "10-probe.ipynb", "02-model.ipynb", "scratch.ipynb", "00-setup.ipynb", "1-bad.ipynb" })
            File.WriteAllText(Path.Combine(tmp.Path, name), "{}");
        Assert.Equal(new[] { "00-setup.ipynb", "02-model.ipynb", "10-probe.ipynb" },
            NotebookRunner.FindNotebooks(tmp.Path).Select(Path.GetFileName));
        Assert.Contains(Path.Combine(Repo.Notebooks, "00-setup.ipynb"), NotebookRunner.FindNotebooks(Repo.Notebooks));
    }

    [Fact]
    public void A_timeout_can_be_set_for_one_notebook()
    {
        var options = new NotebookRunOptions
        {
            Notebooks = ["a.ipynb"],
            OutputDirectory = ".",
            TimeoutPerNotebook = TimeSpan.FromHours(1),
            TimeoutOverrides = new Dictionary<string, TimeSpan> { ["03-attacks.ipynb"] = TimeSpan.FromHours(5) },
        };
        Assert.Equal(TimeSpan.FromHours(5), options.TimeoutFor("/x/notebooks/03-attacks.ipynb"));
        Assert.Equal(TimeSpan.FromHours(1), options.TimeoutFor("/x/notebooks/04-robust.ipynb"));
    }

    [Theory]
    [InlineData("", false)]
    [InlineData("warn: something harmless\n", false)]
    [InlineData("Unhandled exception. System.InvalidOperationException: boom\n", true)]
    [InlineData("fail: Microsoft.DotNet.Interactive[0]\n", true)]
    public void Kernel_errors_outside_cells_are_recognised_on_stderr(string stderr, bool error) =>
        Assert.Equal(error, NotebookRunner.StdErrSignalsError(stderr));
}
