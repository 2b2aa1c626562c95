using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Leakage.Benchmarks;
using Leakage.Cli.Tests.Support;

namespace Leakage.Cli.Tests;

/// <summary>README's "From Python" snippet, pasted as written, on an export of a finished run.</summary>
public class ReadmePythonTests
{
    const string ExportLine = "export = \"runs/quick-pytorch\"";

    static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Leakage.Notebooks.sln"))) return d.FullName;
        throw new DirectoryNotFoundException("repository root (Leakage.Notebooks.sln) not found above the test folder");
    }

    /// <summary>The README's one python code block.</summary>
    static string Snippet()
    {
        var blocks = Regex.Matches(File.ReadAllText(Path.Combine(RepoRoot(), "README.md")), @"^```python\n(.*?)^```", RegexOptions.Singleline | RegexOptions.Multiline);
        Assert.True(blocks.Count == 1, $"README.md has {blocks.Count} python code blocks; expected the one of \"From Python\"");
        return blocks[0].Groups[1].Value;
    }

    [Fact]
    public void The_snippet_imports_leakage_models_from_tools_python_and_reads_the_export_named_by_the_README_commands()
    {
        var snippet = Snippet();
        Assert.Contains("sys.path.insert(0, \"tools/python\")", snippet);
        Assert.Contains(ExportLine, snippet);
        Assert.Contains("--to runs/quick-pytorch", File.ReadAllText(Path.Combine(RepoRoot(), "README.md")));
        Assert.True(File.Exists(Path.Combine(RepoRoot(), "tools", "python", "leakage_models.py")));
    }

    [SkippableFact]
    public async Task The_snippet_run_with_python_from_the_repository_root_prints_the_recorded_test_accuracy()
    {
        var python = PyTorchReference.FindPython(null, out var tried);
        Skip.If(python is null, $"No Python with torch (apt-get install python3-torch); tried: {string.Join("; ", tried)}");
        using var dir = new TempDir();
        var run = await TestRuns.Reference;
        // The reference run took an absolute data folder, which results.json records by its name only: --data names it here.
        var outcome = await CliProcess.RunAsync(["export", "--out", run, "--to", dir["export"], "--data", TestRuns.Data], TestRuns.Cache);
        Assert.True(outcome.ExitCode == 0, outcome.ToString());
        var testSet = Path.Combine(dir["export"], "release_datasets", "test_CIFAR");
        Assert.True(File.Exists(Path.Combine(testSet, "CIFAR_ims")) && File.Exists(Path.Combine(testSet, "CIFAR_lab")),
            $"export wrote no clean test set ({testSet}), which README's snippet reads:\n{outcome}");

        var script = Snippet().Replace(ExportLine, $"export = {Quote(dir["export"])}");
        File.WriteAllText(dir["snippet.py"], script);
        var psi = new ProcessStartInfo(python!) { WorkingDirectory = RepoRoot(), RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(dir["snippet.py"]);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(5));
        Assert.True(p.ExitCode == 0, $"README's python snippet failed (exit {p.ExitCode}):\n{await stdout}\n{await stderr}");

        var m = Regex.Match(await stdout, @"clean test accuracy: ([0-9.]+)");
        Assert.True(m.Success, $"the snippet printed no accuracy:\n{await stdout}");
        var printed = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        var recorded = (double)Results.Read(run)["standardModel"]!["testAccuracy"]!;
        Assert.Equal(recorded, printed, 4); // printed with four decimals
    }

    static string Quote(string path) => "\"" + path.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
}
