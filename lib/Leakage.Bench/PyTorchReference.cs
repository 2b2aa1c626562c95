using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Leakage.Models;
using Leakage.Training;

namespace Leakage.Benchmarks;

/// <summary>
/// Runs <c>tools/bench/pytorch_reference.py</c> (embedded in this assembly) under a Python that has
/// PyTorch: the same network (<see cref="Architectures"/>, from tools/python/leakage_models.py), PGD
/// step and training step (optimiser groups, schedule, augmentation, lookahead), with the same batch
/// sizes, steps, thread count and estimator as <see cref="Benchmark"/>, so the two throughputs can be compared.
/// </summary>
public static class PyTorchReference
{
    /// <summary>The networks whose training step the script replicates (its <c>--arch</c> choices).</summary>
    public static IReadOnlyList<string> Architectures { get; } = Array.AsReadOnly([ModelFactory.SmallCnnArch, ModelFactory.AirbenchArch]);

    /// <summary>Environment variable naming the Python interpreter to use.</summary>
    public const string PythonVariable = "LEAKAGE_PYTHON";

    const string ScriptName = "pytorch_reference.py";
    const string ModelsName = "leakage_models.py";

    /// <summary>The reference script's source.</summary>
    public static string Script() => Resource(ScriptName);

    static string Resource(string name)
    {
        var resource = "Leakage.Benchmarks." + name;
        using var stream = typeof(PyTorchReference).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"The embedded resource {resource} is missing from {typeof(PyTorchReference).Assembly.Location}.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>
    /// Writes the script and the model module it imports (tools/python/leakage_models.py) into a new
    /// temporary folder and returns the script's path; <see cref="DeleteScript"/> removes the folder.
    /// </summary>
    internal static string WriteScript()
    {
        var dir = Directory.CreateTempSubdirectory($"leakage-pytorch-reference-{Environment.ProcessId}-").FullName;
        File.WriteAllText(Path.Combine(dir, ModelsName), Resource(ModelsName));
        var script = Path.Combine(dir, ScriptName);
        File.WriteAllText(script, Script());
        return script;
    }

    /// <summary>Removes the folder <see cref="WriteScript"/> made.</summary>
    internal static void DeleteScript(string script)
    {
        try { Directory.Delete(Path.GetDirectoryName(script)!, recursive: true); } catch (IOException) { }
    }

    /// <summary>
    /// The first interpreter that can <c>import torch</c>: <paramref name="preferred"/> when given (only it),
    /// else $LEAKAGE_PYTHON, <c>python3</c> on the PATH, <c>/usr/bin/python3</c> (where distributions
    /// install their python3-torch), <c>python</c>. Null when none can; <paramref name="tried"/> says what
    /// each candidate answered.
    /// </summary>
    public static string? FindPython(string? preferred, out IReadOnlyList<string> tried)
    {
        var candidates = preferred is { Length: > 0 }
            ? [preferred]
            : new[] { Environment.GetEnvironmentVariable(PythonVariable), "python3", "/usr/bin/python3", "python" }
                .Where(c => !string.IsNullOrEmpty(c)).Distinct().Cast<string>().ToList();
        var notes = new List<string>();
        tried = notes;
        foreach (var python in candidates)
        {
            var (exit, _, error) = RunProcess(python, ["-c", "import torch"], TimeSpan.FromSeconds(60));
            if (exit == 0) return python;
            var why = error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? $"exit code {exit}";
            notes.Add($"{python}: {why}");
        }
        return null;
    }

    /// <summary>
    /// The command-line arguments that make the script measure what <paramref name="settings"/> describe
    /// with <paramref name="threads"/> torch threads.
    /// </summary>
    public static IReadOnlyList<string> Arguments(BenchmarkSettings settings, int threads)
    {
        static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        var t = settings.Training;
        var a = settings.Attack;
        var args = new List<string>
        {
            "--arch", ModelFactory.Canonical(settings.Arch),
            "--width", settings.Width.ToString(CultureInfo.InvariantCulture),
            "--threads", threads.ToString(CultureInfo.InvariantCulture),
            "--matmul-size", settings.MatmulSize.ToString(CultureInfo.InvariantCulture),
            "--matmul-repeats", settings.MatmulRepeats.ToString(CultureInfo.InvariantCulture),
            "--pgd-batch", a.BatchSize.ToString(CultureInfo.InvariantCulture),
            "--pgd-steps", a.Steps.ToString(CultureInfo.InvariantCulture),
            "--pgd-repeats", settings.PgdRepeats.ToString(CultureInfo.InvariantCulture),
            "--eps", F(a.Eps),
            "--step-size", F(a.StepSize),
            "--train-batch", t.BatchSize.ToString(CultureInfo.InvariantCulture),
            "--train-warmup", settings.TrainWarmupSteps.ToString(CultureInfo.InvariantCulture),
            "--train-steps", settings.TrainSteps.ToString(CultureInfo.InvariantCulture),
            "--augment", t.Augmentation switch
            {
                Augmentation.None => "none",
                Augmentation.Flip => "flip",
                Augmentation.CropAlternatingFlip => "cropaltflip",
                _ => "cropflip",
            },
            "--crop-padding", t.CropPadding.ToString(CultureInfo.InvariantCulture),
            "--pad-mode", t.PadMode == PadMode.Reflect ? "reflect" : "zero",
            "--lr", F(t.LearningRate),
            "--momentum", F(t.Momentum),
            "--weight-decay", F(t.WeightDecay),
            "--schedule", t.Schedule switch { LrSchedule.Airbench => "airbench", LrSchedule.Cosine => "cosine", _ => "onecycle" },
            "--warmup-fraction", F(t.WarmupFraction),
            "--seed", settings.Seed.ToString(CultureInfo.InvariantCulture),
            "--layout", "both",
        };
        if (!t.Nesterov) args.Add("--no-nesterov");
        if (t.NormLrScale is { } scale) args.AddRange(["--norm-lr-scale", F(scale)]);
        if (t.LookaheadEvery is { } every) args.AddRange(["--lookahead", every.ToString(CultureInfo.InvariantCulture)]);
        if (t.LabelSmoothing is { } smoothing) args.AddRange(["--label-smoothing", F(smoothing)]);
        if (!a.KeepBest) args.Add("--no-keep-best");
        return args;
    }

    /// <summary>
    /// Starts the script as a persistent server (<c>--serve</c>) with <paramref name="python"/>, the
    /// measurements of <paramref name="settings"/>, <paramref name="threads"/> torch threads and the
    /// OpenMP wait policy <paramref name="ompWaitPolicy"/> (the one this process runs with), and reads its header.
    /// </summary>
    /// <exception cref="NotSupportedException">The model is not one of <see cref="Architectures"/>, the training is adversarial, or the attack uses a random start.</exception>
    /// <exception cref="InvalidOperationException">The script failed to start; the message holds its last error line.</exception>
    public static PyTorchSession Start(string python, BenchmarkSettings settings, int threads, string ompWaitPolicy, TimeSpan? timeout = null)
    {
        var arch = ModelFactory.Canonical(settings.Arch);
        if (!Architectures.Contains(arch))
            throw new NotSupportedException($"The PyTorch reference replicates the training step of {string.Join(" and ", Architectures)} only; this profile uses {arch}.");
        if (settings.Training.Adversary is not null)
            throw new NotSupportedException("The PyTorch reference trains on clean batches; this profile's standard training is adversarial.");
        if (settings.Attack.RandomStart)
            throw new NotSupportedException("The PyTorch reference attacks without a random start, as the profiles do; this one sets attack.randomStart.");
        return new PyTorchSession(python, [.. Arguments(settings, threads), "--serve"], ompWaitPolicy, timeout ?? TimeSpan.FromMinutes(10));
    }

    /// <summary>
    /// A line to log when the reference loaded the reference (netlib) BLAS, as Debian's python3-torch does unless
    /// an optimised libblas is installed: its matmul runs at a few GFLOP/s, and every ratio against it
    /// flatters TorchSharp. Null when the header names another BLAS, or none.
    /// </summary>
    public static string? ReferenceBlasWarning(System.Text.Json.JsonElement header) =>
        header.TryGetProperty("blasLibrary", out var b) && b.GetString() is { } lib
            && lib.Split(", ").Any(l => l.StartsWith("blas/", StringComparison.Ordinal))
            ? $"warning: the PyTorch reference runs on the reference BLAS ({lib}); its matmul and unfused convolutions are several times slower than they could be. On Debian or Ubuntu: apt-get install libopenblas0-pthread."
            : null;

    /// <summary>
    /// Runs the embedded script (written to a temporary file) with <paramref name="python"/> and
    /// <paramref name="arguments"/>; returns its standard output.
    /// </summary>
    /// <exception cref="InvalidOperationException">It exited with an error or ran past <paramref name="timeout"/>; the message holds its last error line.</exception>
    public static string RunScript(string python, IEnumerable<string> arguments, TimeSpan timeout)
    {
        var script = WriteScript();
        try
        {
            var (exit, output, error) = RunProcess(python, [script, .. arguments], timeout);
            if (exit != 0)
            {
                var last = error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "";
                throw new InvalidOperationException($"The PyTorch reference ({python} tools/bench/pytorch_reference.py) failed with exit code {exit}: {last}");
            }
            return output;
        }
        finally
        {
            DeleteScript(script);
        }
    }

    internal static (int Exit, string Output, string Error) RunProcess(string file, IEnumerable<string> args, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        Process process;
        try
        {
            process = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {file}.");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, "", $"cannot run: {e.Message}");
        }
        using (process)
        {
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(timeout))
            {
                try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                process.WaitForExit();
                return (-1, output.Result, $"timed out after {timeout.TotalSeconds:0} s");
            }
            process.WaitForExit();
            return (process.ExitCode, output.Result, error.Result);
        }
    }
}
