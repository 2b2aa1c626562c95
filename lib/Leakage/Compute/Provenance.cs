using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Compute;

/// <summary>
/// Where a run's numbers were computed (results.json <c>provenance</c>): training and attacks are
/// bit-identical only on the same CPU class with the same threads, so a run says which machine made it.
/// Written by <c>ExperimentRun.RunAll</c>: the machine of the latest invocation.
/// </summary>
/// <param name="CpuModel">The CPU's model name (/proc/cpuinfo), or the architecture when unknown.</param>
/// <param name="VectorExtensions">The vector extensions the CPU reports among those oneDNN dispatches on (SSE4.1 to AMX).</param>
/// <param name="LogicalCpus">Logical processors the process sees.</param>
/// <param name="Threads">libtorch's intra-op threads.</param>
/// <param name="Device">The device the run computed on.</param>
/// <param name="Libtorch">libtorch's version.</param>
/// <param name="TorchSharp">TorchSharp's version.</param>
/// <param name="Precision">The attack's precision setting and what it resolved to (training and probes are float32 / float64 throughout).</param>
/// <param name="Os">The operating system.</param>
/// <param name="Runtime">The .NET runtime.</param>
public sealed record Provenance(string CpuModel, IReadOnlyList<string> VectorExtensions, int LogicalCpus, int Threads, string Device,
    string Libtorch, string TorchSharp, string Precision, string Os, string Runtime)
{
    /// <summary>The /proc/cpuinfo flags recorded, in order: the instruction sets oneDNN and libtorch choose kernels by.</summary>
    public static readonly string[] Extensions =
        ["sse4_1", "sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8"];

    /// <summary>This machine and process, for a run on <paramref name="device"/> with attack precision <paramref name="precision"/>.</summary>
    public static Provenance Current(Device device, string precision)
    {
        Leakage.Native.TorchNative.Ensure();
        var (model, flags) = ReadCpuInfo("/proc/cpuinfo");
        var attack = Precisions.ForAttack(Precisions.Parse(precision), device.type, Precisions.CpuHasBf16);
        return new Provenance(model ?? RuntimeInformation.ProcessArchitecture.ToString(), Extensions.Where(flags.Contains).ToArray(),
            Environment.ProcessorCount, get_num_threads(), device.type.ToString().ToLowerInvariant(), __version__,
            typeof(torch).Assembly.GetName().Version?.ToString() ?? "unknown", $"{precision} (attacks {attack.ToString().ToLowerInvariant()})",
            RuntimeInformation.OSDescription, RuntimeInformation.FrameworkDescription);
    }

    /// <summary>The first "model name" and "flags" of a cpuinfo file; nothing when it does not exist (not Linux).</summary>
    public static (string? Model, HashSet<string> Flags) ReadCpuInfo(string path)
    {
        if (!File.Exists(path)) return (null, []);
        string? model = null, flags = null;
        foreach (var line in File.ReadLines(path))
        {
            int colon = line.IndexOf(':');
            if (colon < 0) continue;
            var key = line[..colon].Trim();
            if (model == null && key == "model name") model = line[(colon + 1)..].Trim();
            else if (flags == null && key == "flags") flags = line[(colon + 1)..].Trim();
            if (model != null && flags != null) break;
        }
        return (model, [.. (flags ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries)]);
    }
}
