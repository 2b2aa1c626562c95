using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Leakage.Experiment;
using Leakage.Interactive;
using Leakage.Reporting;

namespace Leakage.Notebooks.Tests;

/// <summary>
/// The notebooks after Polyglot Notebooks' deprecation, on the path README's "Notebooks" section gives:
/// its set-up lines, read from README, run as written in an empty Jupyter data folder (as on a fresh
/// machine), then the whole series executed by Jupyter's own executor (nbconvert / nbclient, as Jupyter
/// Notebook and VS Code's Jupyter extension run kernels) on the .NET Interactive kernel they installed.
/// The Jupyter folders are temporary, so the user's own kernels are not touched.
/// </summary>
[Collection(NotebookKernels.Name)]
public class JupyterKernelTests
{
    /// <summary>The kernel spec name the notebooks' metadata asks for.</summary>
    const string KernelName = ".net-csharp";

    static string? FindJupyterPython(out List<string> tried)
    {
        tried = [];
        foreach (var python in new[] { "python3", "/usr/bin/python3" })
        {
            try
            {
                var (exit, _, error) = Run(python, ["-c", "import nbconvert, nbclient, jupyter_client"], Repo.Root, null, TimeSpan.FromMinutes(1));
                if (exit == 0) return python;
                tried.Add($"{python}: {error.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault()?.Trim()}");
            }
            catch (System.ComponentModel.Win32Exception e) { tried.Add($"{python}: {e.Message}"); }
        }
        return null;
    }

    [SkippableFact]
    public void The_notebook_series_runs_in_Jupyters_executor_on_the_pinned_dotnet_interactive_kernel()
    {
        Skip.IfNot(File.Exists(Repo.InteractiveBuild), $"{Repo.InteractiveBuild} is missing: build with 'dotnet build -c Release'.");
        var python = FindJupyterPython(out var tried);
        Skip.If(python is null, $"Jupyter is not installed (apt-get install jupyter-nbconvert python3-nbclient python3-jupyter-client); tried {string.Join("; ", tried)}");
        Skip.IfNot(Starts("jupyter", "--version"), "the jupyter command is not on the PATH (apt-get install jupyter-core)");
        using var tmp = new TempDir();
        var jupyter = Path.Combine(tmp.Path, "jupyter");
        var data = Path.Combine(jupyter, "data");                   // JUPYTER_DATA_DIR, not created: a fresh machine has none
        var run = Path.Combine(tmp.Path, "run");
        var executed = Path.Combine(tmp.Path, "executed");
        var jupyterEnvironment = new Dictionary<string, string>
        {
            ["JUPYTER_DATA_DIR"] = data,                                 // kernels/ below it: where Jupyter looks and the README's lines install
            ["JUPYTER_CONFIG_DIR"] = Path.Combine(jupyter, "config"),
            ["JUPYTER_RUNTIME_DIR"] = Path.Combine(jupyter, "runtime"),  // connection files
        };

        // README's set-up lines as written, except installing the front end (a system package) and
        // starting it (a server); Jupyter's executor below runs the notebooks on the same kernel instead.
        var block = MarkdownDocs.FencedBlock(Path.Combine(Repo.Root, "README.md"), "dotnet-interactive jupyter install");
        Assert.StartsWith("sudo apt-get install jupyter-notebook", block[0]);
        Assert.StartsWith("jupyter notebook notebooks/", block[^1]);
        var setUp = string.Join("\n", block.Skip(1).SkipLast(1));
        Check(Run("bash", ["-euo", "pipefail", "-c", setUp], Repo.Root, jupyterEnvironment, TimeSpan.FromMinutes(5)),
            "README's Jupyter set-up:\n" + setUp);
        Assert.True(File.Exists(Path.Combine(data, "kernels", KernelName, "kernel.json")), $"README's set-up installed no {KernelName} kernel spec in {data}/kernels");

        var settings = SettingsOverrides.Apply(Profiles.Get("quick"), [.. NotebookSeriesFixture.Overrides, "device=cpu", "threads=1"]);
        var environment = new Dictionary<string, string>(NotebookExperiment.Environment(settings, NotebookTestData.Folder, run, Repo.Notebooks));
        foreach (var (key, value) in jupyterEnvironment) environment[key] = value;
        if (NotebookTestData.Synthetic) environment["LEAKAGE_CACHE"] = NotebookTestData.SyntheticCache;
        var notebooks = NotebookRunner.FindNotebooks(Repo.Notebooks);
        Check(Run(python!, ["-m", "nbconvert", "--to", "notebook", "--execute", $"--ExecutePreprocessor.kernel_name={KernelName}",
                "--ExecutePreprocessor.timeout=900", "--output-dir", executed, .. notebooks],
            Repo.Notebooks, environment, TimeSpan.FromMinutes(40)), "jupyter nbconvert --execute");

        foreach (var notebook in notebooks)
        {
            var path = Path.Combine(executed, Path.GetFileName(notebook));
            Assert.True(File.Exists(path), $"nbconvert wrote no executed copy of {Path.GetFileName(notebook)}");
            var doc = ExecutedNotebook.Read(path);
            Assert.Null(ExecutedNotebook.FindFirstError(doc));
            Assert.Contains(doc.Elements, e => e.Outputs.Count > 0);
        }
        var results = JsonNode.Parse(File.ReadAllText(Path.Combine(run, ResultsFile.FileName)))!.AsObject();
        foreach (var step in new[] { "standardModel", "adversarial", "transfer", "robustModel", "leakage", "beyond" })
            Assert.True(results.ContainsKey(step), $"results.json lacks {step} after the series ran in Jupyter");
    }

    static bool Starts(string file, params string[] args)
    {
        try { return Run(file, args, Repo.Root, null, TimeSpan.FromMinutes(1)).Exit == 0; }
        catch (System.ComponentModel.Win32Exception) { return false; }
    }

    static void Check((int Exit, string Out, string Error) outcome, string what) =>
        Assert.True(outcome.Exit == 0, $"{what} failed with exit code {outcome.Exit}:\n{Tail(outcome.Error)}\n{Tail(outcome.Out)}");

    static string Tail(string s) => s.Length <= 4000 ? s : "..." + s[^4000..];

    static (int Exit, string Out, string Error) Run(string file, IEnumerable<string> args, string workingDirectory,
        IReadOnlyDictionary<string, string>? environment, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(file)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        psi.Environment.Remove("JUPYTER_PATH");
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {file}.");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            throw new TimeoutException($"'{file} {string.Join(' ', args)}' did not finish within {timeout}.\n{Tail(stderr.Result)}");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
