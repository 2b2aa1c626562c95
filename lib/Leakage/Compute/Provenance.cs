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
/// <remarks>
/// <see cref="CpuCore"/> names the core generation, because cloud CPUs often report only "AMD EPYC"
/// and the same name covers Zen 1 to Zen 4, whose convolution rates differ 2-3x.
/// </remarks>
public sealed record Provenance(string CpuModel, IReadOnlyList<string> VectorExtensions, int LogicalCpus, int Threads, string Device,
    string Libtorch, string TorchSharp, string Precision, string Os, string Runtime)
{
    /// <summary>The /proc/cpuinfo flags recorded, in order: the instruction sets oneDNN and libtorch choose kernels by.</summary>
    public static readonly string[] Extensions =
        ["sse4_1", "sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8"];

    /// <summary>Vendor, family and model from /proc/cpuinfo with the core generation where known, e.g. "AuthenticAMD family 23 model 1 (Zen 1)"; null when unknown (and in results written before it existed).</summary>
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
        var (model, flags) = ReadCpuInfo("/proc/cpuinfo");
        var attack = Precisions.ForAttack(Precisions.Parse(precision), device.type, Precisions.CpuHasBf16);
        return new Provenance(model ?? RuntimeInformation.ProcessArchitecture.ToString(), Extensions.Where(flags.Contains).ToArray(),
            Environment.ProcessorCount, get_num_threads(), device.type.ToString().ToLowerInvariant(), __version__,
            typeof(torch).Assembly.GetName().Version?.ToString() ?? "unknown", $"{precision} (attacks {attack.ToString().ToLowerInvariant()})",
            RuntimeInformation.OSDescription, RuntimeInformation.FrameworkDescription)
        {
            CpuCore = ReadCpuCore("/proc/cpuinfo"),
            OneDnn = Native.LibtorchBuild.OneDnn,
            CpuCapability = Native.LibtorchBuild.CpuCapability,
            OneDnnIsaCap = Environment.GetEnvironmentVariable("ONEDNN_MAX_CPU_ISA") ?? Environment.GetEnvironmentVariable("DNNL_MAX_CPU_ISA"),
        };
    }

    /// <summary>The first processor's vendor, family and model in <paramref name="path"/> (/proc/cpuinfo format), with its core generation where the table knows it.</summary>
    public static string? ReadCpuCore(string path)
    {
        if (!File.Exists(path)) return null;
        string? vendor = null;
        int? family = null, model = null;
        foreach (var line in File.ReadLines(path))
        {
            int colon = line.IndexOf(':');
            if (colon < 0) continue;
            var (key, value) = (line[..colon].Trim(), line[(colon + 1)..].Trim());
            if (key == "vendor_id") vendor ??= value;
            else if (key == "cpu family" && int.TryParse(value, out var f)) family ??= f;
            else if (key == "model" && int.TryParse(value, out var m)) model ??= m;
            if (vendor != null && family != null && model != null) break;
        }
        if (vendor is null || family is null || model is null) return null;
        var core = CoreName(vendor, family.Value, model.Value);
        return $"{vendor} family {family} model {model}" + (core is null ? "" : $" ({core})");
    }

    // The server cores our machines have shown; others are reported by number only.
    static string? CoreName(string vendor, int family, int model) => (vendor, family) switch
    {
        ("AuthenticAMD", 23) => model < 0x30 ? "Zen 1" : "Zen 2",
        ("AuthenticAMD", 25) => model is >= 0x10 and < 0x20 or >= 0x60 and < 0x80 or >= 0xA0 ? "Zen 4" : "Zen 3",
        ("AuthenticAMD", 26) => "Zen 5",
        ("GenuineIntel", 6) => model switch
        {
            85 => "Skylake-SP / Cascade Lake",
            106 or 108 => "Ice Lake-SP",
            143 => "Sapphire Rapids",
            207 => "Emerald Rapids",
            173 or 174 => "Granite Rapids",
            _ => null,
        },
        _ => null,
    };

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
