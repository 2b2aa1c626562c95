namespace Leakage.Cli.Tests.Support;

/// <summary>
/// The tiny experiment every run-level test uses (synthetic data, small CNN, few epochs and PGD
/// steps, one libtorch thread: about ten seconds a run), and reference runs of it shared by all
/// tests of the assembly.
/// </summary>
public static class TestRuns
{
    static readonly string Parent = Path.Combine(Path.GetTempPath(), "leakage-cli-tests");
    static readonly string Root = Path.Combine(Parent, $"shared-{Environment.ProcessId}-{Guid.NewGuid():N}"[..40]);

    static TestRuns()
    {
        // The test host may be ended without running exit handlers: remove what earlier hosts left.
        foreach (var old in Directory.Exists(Parent) ? Directory.GetDirectories(Parent, "shared-*") : [])
            if (int.TryParse(Path.GetFileName(old).Split('-')[1], out var pid) && !Running(pid)) Delete(old);
        Directory.CreateDirectory(Root);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Delete(Root);
    }

    static bool Running(int pid)
    {
        try { using var p = System.Diagnostics.Process.GetProcessById(pid); return !p.HasExited; }
        catch (ArgumentException) { return false; }
    }

    static void Delete(string dir)
    {
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>Decode cache shared by the child processes (kept out of the user's ~/.cache).</summary>
    public static string Cache { get; } = Path.Combine(Root, "cache");

    static readonly Lazy<string> _data = new(() =>
    {
        var dir = Path.Combine(Root, "data");
        SyntheticData.WriteImageFolder(dir, trainPerClass: 60, testPerClass: 30);
        return dir;
    });

    /// <summary>The synthetic image folder: 600 training and 300 test images.</summary>
    public static string Data => _data.Value;

    /// <summary>Overrides of the quick profile that make a complete run take seconds.</summary>
    public static readonly IReadOnlyList<string> Settings =
    [
        "data.trainCount=0", "data.testCount=0",
        "standard.width=8", "standard.epochs=5", "standard.batchSize=100",
        "attack.steps=5", "attack.chunkSize=60", "attack.batchSize=60",
        "transfer.epochs=2", "transfer.batchSize=100",
        "robust.epochs=6", "robust.batchSize=200",
        "probe.bootstrap=50", "probe.maxIterations=100",
    ];

    static IEnumerable<string> Common(string outDir, IEnumerable<string> extraSettings) =>
        new[] { "--profile", "quick", "--data", Data, "--out", outDir, "--threads", "1" }
            .Concat(Settings.Concat(extraSettings).SelectMany(s => new[] { "--set", s }));

    /// <summary>Arguments of <c>experiment</c> into <paramref name="outDir"/>, with further overrides.</summary>
    public static IReadOnlyList<string> Experiment(string outDir, params string[] extraSettings) =>
        Common(outDir, extraSettings).Prepend("experiment").ToList();

    /// <summary>Arguments of <c>seeds</c> into <paramref name="outDir"/>.</summary>
    public static IReadOnlyList<string> Seeds(string outDir, string seeds) =>
        new[] { "seeds", "--seeds", seeds }.Concat(Common(outDir, [])).ToList();

    static async Task<string> Complete(string name)
    {
        var dir = Path.Combine(Root, name);
        var outcome = await CliProcess.RunAsync(Experiment(dir), Cache);
        if (outcome.ExitCode != 0) throw new InvalidOperationException($"Reference run {name} failed:\n{outcome}");
        Outputs[dir] = outcome.Stdout;
        return dir;
    }

    static readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> Outputs = new();

    /// <summary>What the command that made a complete run folder printed.</summary>
    public static string OutputOf(string runFolder) => Outputs[runFolder];

    static readonly Lazy<Task<string>> _reference = new(() => Complete("reference"));
    static readonly Lazy<Task<string>> _second = new(() => Complete("reference-again"));

    /// <summary>A complete, uninterrupted run folder (seed 0); read it, copy it, never modify it.</summary>
    public static Task<string> Reference => _reference.Value;

    /// <summary>A second complete run with the same command in another folder (another process).</summary>
    public static Task<string> ReferenceAgain => _second.Value;

    /// <summary>
    /// Starts the CLI and kills its process tree as soon as <paramref name="done"/> holds (checked
    /// every few milliseconds); fails when the process ends first.
    /// </summary>
    public static async Task KillWhen(IReadOnlyList<string> args, Func<bool> done, string what)
    {
        using var p = CliProcess.Start(args, Cache);
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
        while (!done())
        {
            if (p.HasExited)
            {
                var outcome = await p.WaitAsync(TimeSpan.FromSeconds(10));
                Assert.Fail($"The run ended before {what}:\n{outcome}");
            }
            if (DateTime.UtcNow > deadline) Assert.Fail($"No {what} within 3 minutes:\n{p.Stdout}");
            await Task.Delay(5);
        }
        p.KillTree();
    }

    /// <summary>True when a folder under <paramref name="root"/> matching <paramref name="pattern"/> holds a committed artifact (its metadata.json).</summary>
    public static bool Committed(string root, string pattern)
    {
        try { return Directory.Exists(root) && Directory.GetDirectories(root, pattern).Any(d => File.Exists(Path.Combine(d, "metadata.json"))); }
        catch (DirectoryNotFoundException) { return false; } // removed by the run while we looked
    }
}
