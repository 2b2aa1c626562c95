using System.Diagnostics;
using System.Text;
using Leakage.Interactive;

namespace Leakage.Reporting;

/// <summary>How <see cref="NotebookRunner"/> runs a series of notebooks.</summary>
public sealed record NotebookRunOptions
{
    /// <summary>The notebooks, in order (absolute, or relative to the working directory of the caller).</summary>
    public required IReadOnlyList<string> Notebooks { get; init; }

    /// <summary>Run folder; executed notebooks are written to <c>&lt;OutputDirectory&gt;/notebooks/</c>.</summary>
    public required string OutputDirectory { get; init; }

    /// <summary>
    /// Environment variables for the kernel, e.g. <c>NotebookSettings.ToEnvironment()</c> from
    /// Leakage.Interactive. LEAKAGE_HEADLESS is always set to 1.
    /// </summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    /// <summary>Longest time one notebook may run before it is stopped and the run fails.</summary>
    public TimeSpan TimeoutPerNotebook { get; init; } = TimeSpan.FromHours(6);

    /// <summary>Per-notebook timeouts by file name (e.g. "03-adversarial-sets.ipynb"), overriding <see cref="TimeoutPerNotebook"/>.</summary>
    public IReadOnlyDictionary<string, TimeSpan> TimeoutOverrides { get; init; } = new Dictionary<string, TimeSpan>();

    /// <summary>The timeout that applies to <paramref name="notebook"/>.</summary>
    public TimeSpan TimeoutFor(string notebook) =>
        TimeoutOverrides.TryGetValue(Path.GetFileName(notebook), out var t) ? t : TimeoutPerNotebook;

    /// <summary>Run <c>dotnet tool restore</c> (once) before the first notebook so that dotnet-repl is present.</summary>
    public bool RestoreTools { get; init; } = true;

    /// <summary>Receives one line per event (start, finish, tool restore), for a console or a log file.</summary>
    public Action<string>? Log { get; init; }
}

/// <summary>One notebook that ran without error.</summary>
/// <param name="Notebook">The source notebook.</param>
/// <param name="ExecutedPath">The executed copy with outputs.</param>
/// <param name="Elapsed">Wall-clock time.</param>
public sealed record NotebookRunResult(string Notebook, string ExecutedPath, TimeSpan Elapsed);

/// <summary>A notebook failed: a cell raised an error, the kernel exited abnormally, or it timed out.</summary>
public sealed class NotebookRunException : Exception
{
    /// <param name="notebook">The source notebook.</param>
    /// <param name="message">What went wrong, naming the notebook and, where known, the cell.</param>
    /// <param name="cellError">The failing cell, when a cell failed.</param>
    /// <param name="executedPath">The executed copy with outputs, when one was written.</param>
    public NotebookRunException(string notebook, string message, NotebookCellError? cellError = null, string? executedPath = null)
        : base(message)
    {
        Notebook = notebook;
        CellError = cellError;
        ExecutedPath = executedPath;
    }

    /// <summary>The source notebook.</summary>
    public string Notebook { get; }
    /// <summary>The failing cell, when a cell failed (null for a crash or a timeout).</summary>
    public NotebookCellError? CellError { get; }
    /// <summary>The executed copy with outputs, when one was written.</summary>
    public string? ExecutedPath { get; }
}

/// <summary>
/// Runs notebooks headlessly with dotnet-repl, in order, and stops at the first failure.
/// <para>
/// Each notebook runs in a fresh kernel whose working directory is the notebook's folder (so
/// <c>#load "setup.csx"</c> and other relative paths resolve as in Jupyter and VS Code), via the repository's local tool
/// manifest (<c>.config/dotnet-tools.json</c>). The executed copy, with outputs, is written to
/// <c>&lt;out&gt;/notebooks/&lt;name&gt;.ipynb</c> (moved into place complete). A run fails on the first cell
/// with an error output, on a non-zero exit or on a timeout, with a message naming the notebook,
/// the cell and the error text.
/// </para>
/// </summary>
public static class NotebookRunner
{
    /// <summary>Tool manifest location, relative to the repository root.</summary>
    public const string ToolManifest = ".config/dotnet-tools.json";

    /// <summary>
    /// The numbered notebooks of a folder (<c>NN-name.ipynb</c>), in run order. Other notebooks
    /// (scratch files, samples) are left out.
    /// </summary>
    public static IReadOnlyList<string> FindNotebooks(string notebooksDirectory)
    {
        if (!Directory.Exists(notebooksDirectory))
            throw new DirectoryNotFoundException($"Notebook folder {Path.GetFullPath(notebooksDirectory)} does not exist.");
        return Directory.EnumerateFiles(notebooksDirectory, "*.ipynb")
            .Where(f => System.Text.RegularExpressions.Regex.IsMatch(Path.GetFileName(f), @"^\d{2}-.+\.ipynb$"))
            .Order(StringComparer.Ordinal)
            .Select(Path.GetFullPath)
            .ToList();
    }

    /// <summary>Runs every notebook in order; throws <see cref="NotebookRunException"/> at the first failure.</summary>
    public static IReadOnlyList<NotebookRunResult> RunAll(NotebookRunOptions options, CancellationToken cancellationToken = default) =>
        RunAllAsync(options, cancellationToken).GetAwaiter().GetResult();

    /// <inheritdoc cref="RunAll"/>
    public static async Task<IReadOnlyList<NotebookRunResult>> RunAllAsync(NotebookRunOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Notebooks.Count == 0) throw new ArgumentException("No notebooks to run.", nameof(options));
        if (options.TimeoutPerNotebook <= TimeSpan.Zero || options.TimeoutOverrides.Values.Any(t => t <= TimeSpan.Zero))
            throw new ArgumentException("Notebook timeouts must be positive.", nameof(options));
        var notebooks = options.Notebooks.Select(Path.GetFullPath).ToList();
        foreach (var nb in notebooks)
            if (!File.Exists(nb)) throw new FileNotFoundException($"Notebook {nb} does not exist.", nb);

        var outDir = Path.Combine(Path.GetFullPath(options.OutputDirectory), "notebooks");
        Directory.CreateDirectory(outDir);
        var env = new Dictionary<string, string>(options.Environment);
        env[NotebookSettings.HeadlessVariable] = "1"; // whatever the caller passed: this run is headless

        var restored = new HashSet<string>(StringComparer.Ordinal);
        var results = new List<NotebookRunResult>();
        foreach (var nb in notebooks)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var root = FindToolRoot(nb);
            if (options.RestoreTools && restored.Add(root))
                await RestoreToolsAsync(root, options.Log, cancellationToken).ConfigureAwait(false);
            results.Add(await RunOneAsync(nb, outDir, env, options.TimeoutFor(nb), options.Log, cancellationToken).ConfigureAwait(false));
        }
        return results;
    }

    /// <summary>
    /// Runs one notebook and checks its outputs. Throws <see cref="NotebookRunException"/> when a
    /// cell has an error output, the kernel exits with a non-zero code, or the timeout passes.
    /// </summary>
    static async Task<NotebookRunResult> RunOneAsync(string notebook, string outDir, IReadOnlyDictionary<string, string> env,
        TimeSpan timeout, Action<string>? log, CancellationToken ct)
    {
        var name = Path.GetFileName(notebook);
        var target = Path.Combine(outDir, name);
        var partial = Path.Combine(outDir, $".{Path.GetFileNameWithoutExtension(name)}.{Guid.NewGuid():N}.partial.ipynb");
        TryDelete(target); // a copy left by an earlier run must not pass for this run's result
        log?.Invoke($"notebook {name}: running");
        var sw = Stopwatch.StartNew();
        ProcessOutcome outcome;
        try
        {
            outcome = await RunProcessAsync("dotnet",
                ["dotnet-repl", "--run", notebook, "--exit-after-run", "--output-path", partial, "--working-dir", Path.GetDirectoryName(notebook)!],
                Path.GetDirectoryName(notebook)!, env, timeout, ct).ConfigureAwait(false);
        }
        catch
        {
            TryDelete(partial);
            throw;
        }
        sw.Stop();

        string? executed = null;
        if (File.Exists(partial))
        {
            File.Move(partial, target, overwrite: true);
            executed = target;
            NotebookCleaner.KeepFinalProgress(executed);
        }

        if (outcome.TimedOut)
            throw new NotebookRunException(notebook,
                $"Notebook {name} did not finish within {timeout} and was stopped." + Tail(outcome), null, executed);

        if (executed != null)
        {
            var error = ExecutedNotebook.FindFirstError(ExecutedNotebook.Read(executed));
            if (error != null)
                throw new NotebookRunException(notebook,
                    $"Notebook {name} failed in cell {error.CellNumber} (code cell {error.CodeCellNumber}): {error.ErrorText}\n" +
                    $"Executed copy with outputs: {executed}", error, executed);
        }
        if (outcome.ExitCode != 0)
            throw new NotebookRunException(notebook,
                $"Notebook {name}: dotnet-repl exited with code {outcome.ExitCode}" +
                (executed is null ? " without writing the executed notebook." : ".") + Tail(outcome), null, executed);
        if (executed is null)
            throw new NotebookRunException(notebook, $"Notebook {name}: dotnet-repl exited normally but wrote no executed notebook." + Tail(outcome));
        if (StdErrSignalsError(outcome.StdErr))
            throw new NotebookRunException(notebook, $"Notebook {name}: the kernel reported an error outside the cells." + Tail(outcome), null, executed);

        log?.Invoke($"notebook {name}: done in {sw.Elapsed.TotalSeconds:F0} s -> {executed}");
        return new NotebookRunResult(notebook, executed, sw.Elapsed);
    }

    /// <summary>
    /// dotnet-repl prints nothing to stderr in a clean run; an exception or error line there means
    /// the kernel failed outside a cell (e.g. while loading an extension).
    /// </summary>
    public static bool StdErrSignalsError(string stderr) =>
        stderr.Split('\n').Any(line =>
            line.Contains("Unhandled exception", StringComparison.OrdinalIgnoreCase)
            || line.Contains("Exception:", StringComparison.Ordinal)
            || line.TrimStart().StartsWith("error", StringComparison.OrdinalIgnoreCase)
            || line.TrimStart().StartsWith("fail", StringComparison.OrdinalIgnoreCase));

    static async Task RestoreToolsAsync(string root, Action<string>? log, CancellationToken ct)
    {
        log?.Invoke($"dotnet tool restore in {root}");
        var outcome = await RunProcessAsync("dotnet", ["tool", "restore"], root, new Dictionary<string, string>(), TimeSpan.FromMinutes(10), ct)
            .ConfigureAwait(false);
        if (outcome.TimedOut || outcome.ExitCode != 0)
            throw new InvalidOperationException(
                $"'dotnet tool restore' in {root} failed (exit code {outcome.ExitCode}{(outcome.TimedOut ? ", timed out" : "")}); " +
                "dotnet-repl is needed to run notebooks." + Tail(outcome));
    }

    /// <summary>
    /// The nearest ancestor folder of the notebook with <see cref="ToolManifest"/>: dotnet finds the
    /// dotnet-repl tool from there, and the kernel must start in the notebook's folder.
    /// </summary>
    public static string FindToolRoot(string notebook)
    {
        for (var dir = new FileInfo(Path.GetFullPath(notebook)).Directory; dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, ToolManifest))) return dir.FullName;
        throw new InvalidOperationException(
            $"Notebook {notebook} is not inside a folder tree with {ToolManifest}, so the dotnet-repl tool cannot be found. " +
            "Run notebooks from the repository (or a folder below it).");
    }

    sealed record ProcessOutcome(int ExitCode, bool TimedOut, string StdOut, string StdErr);

    static string Tail(ProcessOutcome o)
    {
        static string Last(string s, int n) => s.Length <= n ? s : "…" + s[^n..];
        var parts = new List<string>();
        if (!string.IsNullOrWhiteSpace(o.StdErr)) parts.Add("stderr:\n" + Last(o.StdErr.Trim(), 4000));
        if (!string.IsNullOrWhiteSpace(o.StdOut)) parts.Add("stdout:\n" + Last(o.StdOut.Trim(), 2000));
        return parts.Count == 0 ? "" : "\n" + string.Join("\n", parts);
    }

    static async Task<ProcessOutcome> RunProcessAsync(string file, IReadOnlyList<string> args, string workingDirectory,
        IReadOnlyDictionary<string, string> env, TimeSpan timeout, CancellationToken ct)
    {
        var psi = new ProcessStartInfo(file)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in env) psi.Environment[k] = v;
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";

        using var process = new Process { StartInfo = psi };
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data != null) lock (stdout) stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (stderr) stderr.AppendLine(e.Data); };
        if (!process.Start()) throw new InvalidOperationException($"Could not start '{file}'.");
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var timeoutCts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeoutCts.CancelAfter(timeout);
        bool timedOut = false;
        try
        {
            await process.WaitForExitAsync(timeoutCts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            ct.ThrowIfCancellationRequested();
            timedOut = true;
        }
        process.WaitForExit(); // flushes the asynchronous output readers
        string o, e2;
        lock (stdout) o = stdout.ToString();
        lock (stderr) e2 = stderr.ToString();
        return new ProcessOutcome(timedOut ? -1 : process.ExitCode, timedOut, o, e2);
    }

    static void TryDelete(string path)
    {
        try { if (File.Exists(path)) File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
