using System.Diagnostics;
using System.Reflection;
using System.Text;

namespace Leakage.Cli.Tests.Support;

/// <summary>What a finished CLI process did.</summary>
public sealed record CliOutcome(int ExitCode, string Stdout, string Stderr, IReadOnlyList<string> Args)
{
    /// <summary>Non-empty lines written to stderr.</summary>
    public IReadOnlyList<string> ErrorLines => Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>For assertion messages: the command line and the tail of both streams.</summary>
    public override string ToString() =>
        $"leakage {string.Join(' ', Args)}\nexit code {ExitCode}\n--- stdout (tail)\n{Tail(Stdout)}\n--- stderr\n{Tail(Stderr)}";

    static string Tail(string s) => s.Length <= 4000 ? s : "..." + s[^4000..];
}

/// <summary>
/// Starts the built CLI (<c>dotnet Leakage.Cli.dll</c>) as a child process with a private decode
/// cache and no LEAKAGE_* variables from the environment.
/// </summary>
public static class CliProcess
{
    /// <summary>The CLI assembly built by the project reference.</summary>
    public static string DllPath { get; } = FindDll();

    static string FindDll()
    {
        var recorded = typeof(CliProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "LeakageCliPath")?.Value;
        foreach (var candidate in new[] { recorded, Path.Combine(AppContext.BaseDirectory, "Leakage.Cli.dll") })
            if (!string.IsNullOrEmpty(candidate) && File.Exists(candidate)
                && File.Exists(Path.ChangeExtension(candidate, ".runtimeconfig.json")))
                return candidate;
        throw new InvalidOperationException($"Leakage.Cli.dll not found (recorded path '{recorded}', test folder {AppContext.BaseDirectory}); build the solution first.");
    }

    static string DotnetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    /// <summary>A started CLI process whose output is collected as it runs.</summary>
    public sealed class Running : IDisposable
    {
        readonly Process _process;
        readonly StringBuilder _out = new(), _err = new();
        readonly IReadOnlyList<string> _args;

        internal Running(IReadOnlyList<string> args, string cacheDir, IReadOnlyDictionary<string, string>? environment = null)
        {
            _args = args;
            var psi = new ProcessStartInfo(DotnetHost())
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
                WorkingDirectory = Path.GetDirectoryName(DllPath)!,
            };
            psi.ArgumentList.Add(DllPath);
            foreach (var a in args) psi.ArgumentList.Add(a);
            foreach (var name in new[] { "LEAKAGE_DATA", "LEAKAGE_SETTINGS", "LEAKAGE_PROFILE", "LEAKAGE_OUT", Cli.MirrorVariable }) psi.Environment.Remove(name);
            psi.Environment["LEAKAGE_CACHE"] = cacheDir;
            psi.Environment["NO_COLOR"] = "1";
            foreach (var (name, value) in environment ?? new Dictionary<string, string>()) psi.Environment[name] = value;
            _process = new Process { StartInfo = psi };
            _process.OutputDataReceived += (_, e) => { if (e.Data != null) lock (_out) _out.AppendLine(e.Data); };
            _process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (_err) _err.AppendLine(e.Data); };
            _process.Start();
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public bool HasExited => _process.HasExited;

        /// <summary>Output so far.</summary>
        public string Stdout { get { lock (_out) return _out.ToString(); } }

        /// <summary>Kills the process and all its children (SIGKILL: no clean-up code runs).</summary>
        public void KillTree()
        {
            try { _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            _process.WaitForExit();
        }

        /// <summary>Waits for the exit (killing the process after <paramref name="timeout"/>) and returns what it did.</summary>
        public async Task<CliOutcome> WaitAsync(TimeSpan timeout)
        {
            using var cts = new CancellationTokenSource(timeout);
            try { await _process.WaitForExitAsync(cts.Token); }
            catch (OperationCanceledException)
            {
                KillTree();
                throw new TimeoutException($"CLI did not finish within {timeout}:\n{new CliOutcome(-1, Stdout, _err.ToString(), _args)}");
            }
            _process.WaitForExit(); // drains the asynchronous readers
            lock (_out) lock (_err) return new CliOutcome(_process.ExitCode, _out.ToString(), _err.ToString(), _args);
        }

        public void Dispose()
        {
            if (!_process.HasExited) KillTree();
            _process.Dispose();
        }
    }

    /// <summary>Starts the CLI with <paramref name="args"/>.</summary>
    public static Running Start(IEnumerable<string> args, string cacheDir, IReadOnlyDictionary<string, string>? environment = null) =>
        new(args.ToList(), cacheDir, environment);

    /// <summary>Runs the CLI to completion (at most <paramref name="timeout"/>, default 5 minutes).</summary>
    public static async Task<CliOutcome> RunAsync(IEnumerable<string> args, string cacheDir, TimeSpan? timeout = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        using var p = Start(args, cacheDir, environment);
        return await p.WaitAsync(timeout ?? TimeSpan.FromMinutes(5));
    }
}
