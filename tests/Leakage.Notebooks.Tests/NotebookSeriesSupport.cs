using System.Diagnostics;
using System.Reflection;
using System.Text;
using Leakage.Data;
using Leakage.Interactive;

namespace Leakage.Notebooks.Tests;

/// <summary>
/// Tests that start notebook kernels run one after another: each kernel is a process that wants
/// both cores, and they share the dotnet tool restore.
/// </summary>
[CollectionDefinition(Name)]
public sealed class NotebookKernels
{
    public const string Name = "Notebook kernels";
}

/// <summary>
/// CIFAR-10 for notebook runs: the shared JPEG copy beside the checkout when present (the series
/// takes a small class-stratified subset), else a small synthetic image folder written once into
/// the test output folder, whose classes differ by colour and stripe direction so that every model
/// of the series has something to learn. LEAKAGE_TEST_DATA=synthetic forces the synthetic folder.
/// </summary>
static class NotebookTestData
{
    static readonly Lazy<(string Folder, bool Synthetic)> Data = new(Find);

    /// <summary>The data folder.</summary>
    public static string Folder => Data.Value.Folder;

    /// <summary>True when the synthetic folder is used.</summary>
    public static bool Synthetic => Data.Value.Synthetic;

    /// <summary>Where the synthetic set's decode cache goes (kept out of the user's cache).</summary>
    public static string SyntheticCache => Path.Combine(AppContext.BaseDirectory, "synthetic-cifar-cache");

    /// <summary>Set to "synthetic" to use the synthetic folder even where the shared copy exists.</summary>
    public const string Variable = "LEAKAGE_TEST_DATA";

    static (string, bool) Find()
    {
        if (string.Equals(Environment.GetEnvironmentVariable(Variable), "synthetic", StringComparison.OrdinalIgnoreCase))
            return (WriteSynthetic(Path.Combine(AppContext.BaseDirectory, "synthetic-cifar")), true);
        var shared = NotebookSettings.DefaultDataDirectory(Repo.Root);
        try
        {
            CifarLoader.Detect(shared);
            return (shared, false);
        }
        catch (DirectoryNotFoundException)
        {
            return (WriteSynthetic(Path.Combine(AppContext.BaseDirectory, "synthetic-cifar")), true);
        }
    }

    /// <summary>Writes (once) 50 training and 20 test PNGs per class.</summary>
    static string WriteSynthetic(string root)
    {
        var done = Path.Combine(root, ".complete");
        if (File.Exists(done)) return root;
        var random = new Random(12345);
        foreach (var (split, perClass) in new[] { ("train", 50), ("test", 20) })
            for (int c = 0; c < Cifar10.Classes; c++)
            {
                var dir = Directory.CreateDirectory(Path.Combine(root, split, Cifar10.ClassNames[c])).FullName;
                for (int i = 0; i < perClass; i++)
                    File.WriteAllBytes(Path.Combine(dir, $"{i:D4}.png"), Images.EncodePng(Pattern(c, random), 32, 32));
            }
        File.WriteAllText(done, "ok");
        return root;
    }

    /// <summary>Class c: a base colour of its own, stripes in one of five directions and of two widths, pixel noise.</summary>
    static byte[] Pattern(int c, Random random)
    {
        var rgb = new byte[32 * 32 * 3];
        double hue = c / 10.0 * 2 * Math.PI;
        double[] baseColour = [0.5 + 0.3 * Math.Cos(hue), 0.5 + 0.3 * Math.Cos(hue + 2.1), 0.5 + 0.3 * Math.Cos(hue + 4.2)];
        double angle = c % 5 * Math.PI / 5, frequency = c < 5 ? 0.5 : 1.0;
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++)
            {
                double stripe = 0.15 * Math.Sin(frequency * (x * Math.Cos(angle) + y * Math.Sin(angle)));
                for (int ch = 0; ch < 3; ch++)
                {
                    double v = baseColour[ch] + stripe + 0.08 * (random.NextDouble() * 2 - 1);
                    rgb[(y * 32 + x) * 3 + ch] = (byte)Math.Clamp((int)Math.Round(255 * v), 0, 255);
                }
            }
        return rgb;
    }
}

/// <summary>Runs the command line program (built with the tests) as a separate process.</summary>
public static class CliProcess
{
    /// <summary>The configuration the tests were built in, hence the CLI (a project reference).</summary>
    static string Configuration =>
        typeof(CliProcess).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";

    /// <summary>lib/Leakage.Cli/bin/&lt;configuration&gt;/net10.0/Leakage.Cli.dll.</summary>
    public static string Dll => Path.Combine(Repo.Root, "lib", "Leakage.Cli", "bin", Configuration, "net10.0", "Leakage.Cli.dll");

    public sealed record Outcome(int ExitCode, string StdOut, string StdErr, TimeSpan Elapsed)
    {
        /// <summary>The non-empty lines the program wrote to stderr.</summary>
        public IReadOnlyList<string> ErrorLines => StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        public override string ToString() => $"exit code {ExitCode}\nstderr:\n{StdErr}\nstdout (end):\n{(StdOut.Length > 4000 ? StdOut[^4000..] : StdOut)}";
    }

    /// <summary>Runs <c>dotnet Leakage.Cli.dll args</c> from the repository root; kills it after <paramref name="timeout"/>.</summary>
    public static Outcome Run(IEnumerable<string> args, TimeSpan timeout, IReadOnlyDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Repo.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        psi.ArgumentList.Add(Dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        var clock = Stopwatch.StartNew();
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("Could not start dotnet.");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            throw new TimeoutException($"'Leakage.Cli {string.Join(' ', args)}' did not finish within {timeout}.\n{stdout.Result}\n{stderr.Result}");
        }
        return new Outcome(p.ExitCode, stdout.Result, stderr.Result, clock.Elapsed);
    }
}
