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

    /// <summary>Vendor, family and model with the core generation (<see cref="CpuInfo.Core"/>); null when unknown (and in results written before it existed).</summary>
    public string? CpuCore { get; init; }

    /// <summary>The oneDNN build libtorch runs its convolutions with (<see cref="Native.LibtorchBuild.OneDnn"/>); null when unknown.</summary>
    public string? OneDnn { get; init; }

    /// <summary>The instruction set of ATen's own vectorised CPU kernels here ("AVX2", "AVX512"; <see cref="Native.LibtorchBuild.CpuCapability"/>); null when unknown.</summary>
    public string? CpuCapability { get; init; }

    /// <summary>
    /// oneDNN picks the widest instruction set among <see cref="VectorExtensions"/> unless ONEDNN_MAX_CPU_ISA
    /// (or DNNL_MAX_CPU_ISA) caps it: that cap as set in the environment, null when none is.
    /// </summary>
    public string? OneDnnIsaCap { get; init; }

    /// <summary>This machine and process, for a run on <paramref name="device"/> with attack precision <paramref name="precision"/>.</summary>
    public static Provenance Current(Device device, string precision)
    {
        Leakage.Native.TorchNative.Ensure();
        var cpu = CpuInfo.Current;
        var attack = Precisions.ForAttack(Precisions.Parse(precision), device.type, Precisions.CpuHasBf16);
        return new Provenance(cpu.Model ?? RuntimeInformation.ProcessArchitecture.ToString(), Extensions.Where(cpu.Flags.Contains).ToArray(),
            Environment.ProcessorCount, get_num_threads(), device.type.ToString().ToLowerInvariant(), __version__,
            typeof(torch).Assembly.GetName().Version?.ToString() ?? "unknown", $"{precision} (attacks {attack.ToString().ToLowerInvariant()})",
            RuntimeInformation.OSDescription, RuntimeInformation.FrameworkDescription)
        {
            CpuCore = cpu.Core,
            OneDnn = Native.LibtorchBuild.OneDnn,
            CpuCapability = Native.LibtorchBuild.CpuCapability,
            OneDnnIsaCap = Environment.GetEnvironmentVariable("ONEDNN_MAX_CPU_ISA") ?? Environment.GetEnvironmentVariable("DNNL_MAX_CPU_ISA"),
        };
    }
}
