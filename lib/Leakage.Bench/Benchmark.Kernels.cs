using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Leakage.IO;
using Leakage.Native;
using static TorchSharp.torch;

namespace Leakage.Benchmarks;

/// <summary>One primitive execution in oneDNN's verbose log (<c>ONEDNN_VERBOSE=profile_exec</c>).</summary>
/// <param name="Primitive">Primitive kind: convolution, reorder, ...</param>
/// <param name="Implementation">The kernel oneDNN chose, e.g. <c>brg_conv_fwd:avx2</c>.</param>
/// <param name="Propagation">forward_training, forward_inference, backward_data, backward_weights, or undef.</param>
/// <param name="Problem">The problem descriptor, e.g. <c>mb500_ic24oc48_ih16oh16kh3sh1dh0ph1_iw16ow16kw3sw1dw0pw1</c>.</param>
/// <param name="Milliseconds">Execution time.</param>
public sealed partial record OneDnnCall(string Primitive, string Implementation, string Propagation, string Problem, double Milliseconds)
{
    /// <summary>The environment variable oneDNN reads once, when it first runs a primitive.</summary>
    public const string Variable = "ONEDNN_VERBOSE";

    /// <summary>Its value that logs every execution with its time.</summary>
    public const string ProfileExec = "profile_exec";

    /// <summary>
    /// The execution lines of a verbose log (others, such as info and create lines, are skipped). Reads
    /// oneDNN 2.x (<c>onednn_verbose,exec,cpu,...</c>) and 3.x (<c>onednn_verbose,v1,primitive,exec,cpu,...</c>,
    /// with or without a timestamp field): kind, kernel and propagation follow the engine after
    /// <c>exec</c>; the problem and the time are the last two fields.
    /// </summary>
    public static List<OneDnnCall> Parse(IEnumerable<string> lines)
    {
        var calls = new List<OneDnnCall>();
        foreach (var line in lines)
        {
            if (!line.StartsWith("onednn_verbose,", StringComparison.Ordinal) && !line.StartsWith("dnnl_verbose,", StringComparison.Ordinal)) continue;
            var f = line.TrimEnd().Split(',');
            int exec = Array.IndexOf(f, "exec");
            if (exec < 0 || f.Length < exec + 7) continue;
            if (!double.TryParse(f[^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var ms)) continue;
            calls.Add(new OneDnnCall(f[exec + 2], f[exec + 3], f[exec + 4], f[^2], ms));
        }
        return calls;
    }

    /// <summary>The problem without its minibatch (<c>mb500_</c>), naming a layer whatever the batch.</summary>
    public string Layer => MinibatchPrefix().Replace(Problem, "");

    /// <summary>
    /// FLOP of a convolution's execution (2 per multiply-add: mb x oc x output positions x ic/g x kernel
    /// volume; the same for its data and weight gradients), or null for other primitives or an unreadable descriptor.
    /// </summary>
    public double? ConvolutionFlop
    {
        get
        {
            if (Primitive != "convolution") return null;
            var d = ConvolutionFields().Matches(Problem).ToDictionary(m => m.Groups[1].Value, m => long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
            if (!d.TryGetValue("mb", out var mb) || !d.TryGetValue("ic", out var ic) || !d.TryGetValue("oc", out var oc) || !d.TryGetValue("oh", out var oh) || !d.TryGetValue("kh", out var kh))
                return null;
            // oneDNN leaves out the width (and depth) fields of a square problem.
            long ow = d.GetValueOrDefault("ow", oh), kw = d.GetValueOrDefault("kw", kh), od = d.GetValueOrDefault("od", 1), kd = d.GetValueOrDefault("kd", 1), g = d.GetValueOrDefault("g", 1);
            return 2.0 * mb * oc * od * oh * ow * (ic / g) * kd * kh * kw;
        }
    }

    [GeneratedRegex(@"^mb\d+_")]
    private static partial Regex MinibatchPrefix();

    [GeneratedRegex(@"(mb|g|ic|oc|id|ih|iw|od|oh|ow|kd|kh|kw)(\d+)")]
    private static partial Regex ConvolutionFields();
}

/// <summary>One kernel of a step: the executions of one primitive on one problem.</summary>
/// <param name="Primitive">convolution, reorder, ...</param>
/// <param name="Propagation">forward_training, backward_data, backward_weights, ...</param>
/// <param name="Implementation">oneDNN's kernel.</param>
/// <param name="Problem">The problem descriptor (with its minibatch).</param>
/// <param name="CallsPerStep">Executions per step (all executions over the steps the child ran, warm-up included).</param>
/// <param name="MillisecondsPerCall">Median execution time.</param>
/// <param name="MillisecondsPerStep"><paramref name="MillisecondsPerCall"/> x <paramref name="CallsPerStep"/>.</param>
/// <param name="Gflops">Convolutions: FLOP per call over the median time; null for other primitives.</param>
public sealed record KernelRow(string Primitive, string Propagation, string Implementation, string Problem, double CallsPerStep,
    double MillisecondsPerCall, double MillisecondsPerStep, double? Gflops);

/// <summary>Where one step's time goes in oneDNN: its kernels, and the share of the step they take.</summary>
/// <param name="Steps">Steps the child ran (warm-up included).</param>
/// <param name="StepMilliseconds">The step's total from <see cref="PhaseSplit"/> in the same process (median of the timed steps).</param>
/// <param name="ConvolutionMilliseconds">oneDNN convolutions per step, all propagations.</param>
/// <param name="ConvolutionShare"><paramref name="ConvolutionMilliseconds"/> / <paramref name="StepMilliseconds"/>: what the step would cost, at least, if everything else were free.</param>
/// <param name="ConvolutionGflops">The convolutions' FLOP per step over their time.</param>
/// <param name="OtherOneDnnMilliseconds">Other oneDNN primitives per step (weight reorders, mostly).</param>
/// <param name="ByPropagation">Convolution milliseconds per step by propagation kind.</param>
/// <param name="Kernels">Every kernel, the most expensive first.</param>
public sealed record StepKernels(int Steps, double StepMilliseconds, double ConvolutionMilliseconds, double ConvolutionShare, double ConvolutionGflops,
    double OtherOneDnnMilliseconds, IReadOnlyDictionary<string, double> ByPropagation, IReadOnlyList<KernelRow> Kernels)
{
    /// <summary>Groups <paramref name="calls"/> of <paramref name="steps"/> steps into kernels.</summary>
    public static StepKernels From(IReadOnlyList<OneDnnCall> calls, int steps, double stepSeconds)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        var kernels = calls.GroupBy(c => (c.Primitive, c.Propagation, c.Implementation, c.Problem))
            .Select(g =>
            {
                double median = Stats.Median(g.Select(c => c.Milliseconds).ToList()), perStep = g.Count() / (double)steps;
                double? flop = g.First().ConvolutionFlop;
                var row = new KernelRow(g.Key.Primitive, g.Key.Propagation, g.Key.Implementation, g.Key.Problem, perStep, median, median * perStep,
                    flop is double f && median > 0 ? f / (median * 1e6) : null);
                return (Row: row, FlopPerStep: (flop ?? 0) * perStep);
            })
            .OrderByDescending(k => k.Row.MillisecondsPerStep).ToList();
        var rows = kernels.Select(k => k.Row).ToList();
        var conv = rows.Where(r => r.Primitive == "convolution").ToList();
        double convMs = conv.Sum(r => r.MillisecondsPerStep), stepMs = stepSeconds * 1e3, convFlop = kernels.Sum(k => k.FlopPerStep);
        return new StepKernels(steps, stepMs, convMs, stepMs > 0 ? convMs / stepMs : 0, convMs > 0 ? convFlop / (convMs * 1e6) : 0,
            rows.Where(r => r.Primitive != "convolution").Sum(r => r.MillisecondsPerStep),
            conv.GroupBy(r => r.Propagation).ToDictionary(g => g.Key, g => g.Sum(r => r.MillisecondsPerStep)), rows);
    }
}

/// <summary>
/// oneDNN's kernels in one training step and one PGD step (<c>bench --kernels</c>), each read from the
/// verbose log of a child process that ran <see cref="PhaseSplit"/> for that step alone.
/// </summary>
/// <param name="OneDnn">oneDNN's version line, as its log gives it.</param>
/// <param name="Isa">The instruction set oneDNN dispatches to on this CPU.</param>
/// <param name="Training">The training step.</param>
/// <param name="Pgd">The PGD step.</param>
/// <param name="Seconds">Wall time of both children.</param>
public sealed record KernelProfile(string OneDnn, string Isa, StepKernels Training, StepKernels Pgd, double Seconds);

/// <summary>What a <c>--kernels-child</c> prints on its last line: the steps it ran and the split's total.</summary>
/// <param name="Step">"training" or "pgd".</param>
/// <param name="Steps">Steps of the measured split, its warm-up steps included (each runs every convolution of the step once).</param>
/// <param name="StepSeconds">The split's median step time.</param>
public sealed record KernelChild(string Step, int Steps, double StepSeconds)
{
    /// <summary>The line between the warm-up split's log and the measured split's.</summary>
    public const string Marker = "leakage-kernels: measured split";
}

public sealed partial record BenchmarkReport
{
    /// <summary>oneDNN's kernels per step (<c>bench --kernels</c>); null when not measured.</summary>
    public KernelProfile? Kernels { get; init; }
}

public static partial class Benchmark
{
    /// <summary>The steps <see cref="KernelProfile"/> splits.</summary>
    public static readonly IReadOnlyList<string> KernelSteps = ["training", "pgd"];

    /// <summary>
    /// The child's side of <c>bench --kernels</c>: <see cref="PhaseSplit.Training"/> or <see cref="PhaseSplit.Pgd"/>
    /// on synthetic data, twice (nothing else in the process runs oneDNN). A fresh process's first PGD
    /// batch runs about a quarter slower than later ones (measured on 2 Zen 3 cores: 186 against 149 ms a
    /// step), so the first split only warms up; <paramref name="marker"/> (written after flushing C's
    /// stdout, where oneDNN logs) separates its log from the measured split's.
    /// </summary>
    public static KernelChild KernelStep(BenchmarkSettings settings, Device device, string step, Action<string> marker)
    {
        TorchNative.Ensure();
        settings.Validate();
        var data = BenchmarkData.Synthetic(settings.Seed);
        Func<double> split = step switch
        {
            "training" => () => PhaseSplit.Training(settings, device, data).Total,
            "pgd" => () => PhaseSplit.Pgd(settings, device, data).Total,
            _ => throw new ArgumentException($"No step '{step}' to split into kernels; the steps are {string.Join(", ", KernelSteps)}.", nameof(step)),
        };
        split();
        FlushNativeStdout();
        marker(KernelChild.Marker);
        double seconds = split();
        FlushNativeStdout();
        return new KernelChild(step, step == "training" ? PhaseSplit.TrainingSteps(settings) : PhaseSplit.PgdSteps(settings), seconds);
    }

    // oneDNN writes its log through C's stdio; flushed, its lines come before whatever .NET writes next.
    static void FlushNativeStdout()
    {
        try { Fflush(IntPtr.Zero); }
        catch (DllNotFoundException) { }
        catch (EntryPointNotFoundException) { }
    }

    [System.Runtime.InteropServices.DllImport("libc.so.6", EntryPoint = "fflush")]
    static extern int Fflush(IntPtr stream);

    /// <summary>
    /// The parent's side: one child per step of <see cref="KernelSteps"/>, each started from
    /// <paramref name="child"/> with <c>ONEDNN_VERBOSE=profile_exec</c>; their logs grouped into kernels.
    /// </summary>
    public static KernelProfile MeasureKernels(Func<string, ProcessStartInfo> child, Action<string>? log = null, CancellationToken cancellationToken = default)
    {
        log ??= _ => { };
        var clock = Stopwatch.StartNew();
        var split = new Dictionary<string, StepKernels>();
        string version = "", isa = "";
        foreach (var step in KernelSteps)
        {
            var psi = child(step);
            psi.Environment[OneDnnCall.Variable] = OneDnnCall.ProfileExec;
            var lines = RunChild(psi, $"kernels child ({step})", cancellationToken);
            var result = JsonSerializer.Deserialize<KernelChild>(ResultLine(lines, $"kernels child ({step})"), Artifacts.Json)!;
            int measured = Array.IndexOf(lines, KernelChild.Marker);
            if (measured < 0) throw new InvalidOperationException($"The kernels child ({step}) printed no '{KernelChild.Marker}' line.");
            var calls = OneDnnCall.Parse(lines.Skip(measured + 1));
            if (calls.Count == 0)
                throw new InvalidOperationException($"The kernels child ({step}) logged no oneDNN execution: this libtorch runs its convolutions without oneDNN, or ignores {OneDnnCall.Variable}.");
            version = Info(lines, "oneDNN v") ?? version;
            isa = Info(lines, "isa:")?["isa:".Length..] ?? isa;
            var kernels = split[step] = StepKernels.From(calls, result.Steps, result.StepSeconds);
            log($"Kernels, {step} step: {kernels.StepMilliseconds:0.0} ms, oneDNN convolutions {kernels.ConvolutionMilliseconds:0.0} ms ({kernels.ConvolutionShare:P0}, " +
                $"{kernels.ConvolutionGflops:0} GFLOP/s): {string.Join(", ", kernels.ByPropagation.Select(p => $"{p.Key} {p.Value:0.0}"))}; other oneDNN {kernels.OtherOneDnnMilliseconds:0.0} ms.");
        }
        return new KernelProfile(version, isa, split["training"], split["pgd"], clock.Elapsed.TotalSeconds);

        // Info lines: onednn_verbose[,v1],info,oneDNN v3.7.1 (commit ...) and onednn_verbose[,v1],info,cpu,isa:Intel AVX2.
        static string? Info(IEnumerable<string> lines, string prefix) => lines
            .Where(l => l.StartsWith("onednn_verbose,", StringComparison.Ordinal) && l.Contains(",info,", StringComparison.Ordinal))
            .SelectMany(l => l.Split(',')).FirstOrDefault(f => f.StartsWith(prefix, StringComparison.Ordinal))?.Trim();
    }

    /// <summary>Starts a child process and returns its standard output's lines; throws with its error output when it fails.</summary>
    static string[] RunChild(ProcessStartInfo psi, string what, CancellationToken cancellationToken)
    {
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.UseShellExecute = false;
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {psi.FileName} for the {what}.");
        using var kill = cancellationToken.Register(() => { try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { } });
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        cancellationToken.ThrowIfCancellationRequested();
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"The {what} exited with {process.ExitCode}: {stderr.Result.Trim()} {string.Join(" ", lines.Where(l => !l.StartsWith("onednn_verbose,", StringComparison.Ordinal)).TakeLast(5))}".Trim());
        return lines;
    }

    /// <summary>The JSON result line a child prints last (other lines may be logs).</summary>
    static string ResultLine(string[] lines, string what) =>
        lines.LastOrDefault(l => l.StartsWith('{')) ?? throw new InvalidOperationException($"The {what} printed no result line.");

}
