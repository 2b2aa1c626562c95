using System.Reflection;
using System.Runtime.InteropServices;
using Leakage.Compute;
using Leakage.Native;
using TorchSharp;

namespace Leakage.Benchmarks;

/// <summary>What a benchmark ran on: enough to tell two bench.json files from different machines or builds apart.</summary>
/// <param name="Cpu">CPU model name (<c>/proc/cpuinfo</c> on Linux; the architecture elsewhere).</param>
/// <param name="LogicalCores">Logical cores visible to the process.</param>
/// <param name="Os">Operating system description.</param>
/// <param name="Dotnet">.NET runtime description.</param>
/// <param name="TorchSharp">TorchSharp package version.</param>
/// <param name="Libtorch">libtorch version.</param>
/// <param name="Backend">TorchSharp backend of this build (cpu or cuda).</param>
/// <param name="Device">Device the measurements ran on.</param>
/// <param name="Threads">libtorch intra-op threads during the measurements.</param>
/// <param name="OmpWaitPolicy">OMP_WAIT_POLICY in the C environment libtorch's OpenMP runtime read (the library sets PASSIVE unless the user chose one).</param>
/// <param name="VectorExtensions">The CPU's vector extensions that matter for libtorch's kernels (of avx, avx2, fma, avx512f, avx512_bf16, avx512_vnni, amx_tile, amx_bf16), from /proc/cpuinfo.</param>
/// <param name="ThreadsPerCore">Hardware threads per physical core (siblings / cpu cores); 1 where unknown.</param>
/// <param name="Peak">The float32 peak the measured rates are set against (<see cref="ComputePeak"/>), when it can be derived.</param>
public sealed record MachineInfo(
    string Cpu, int LogicalCores, string Os, string Dotnet, string TorchSharp, string Libtorch,
    string Backend, string Device, int Threads, string OmpWaitPolicy,
    IReadOnlyList<string> VectorExtensions, int ThreadsPerCore, ComputePeak? Peak)
{
    static readonly string[] InterestingFlags = ["avx", "avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile", "amx_bf16"];

    /// <summary>Vendor, family and model with the core generation (<see cref="CpuInfo.Core"/>), as results.json's provenance names it: clouds often report only "AMD EPYC".</summary>
    public string? CpuCore { get; init; }

    /// <summary>True when the CPU computes bfloat16 dot products natively (AVX512_BF16 or AMX-BF16).</summary>
    public bool HasBf16 => VectorExtensions.Contains("avx512_bf16") || VectorExtensions.Contains("amx_bf16");

    /// <summary>Describes this process as it is now (call after the thread count is set).</summary>
    public static MachineInfo Collect(torch.Device device)
    {
        TorchNative.Ensure();
        var tsAssembly = typeof(torch).Assembly;
        var tsVersion = tsAssembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
                        ?? tsAssembly.GetName().Version?.ToString() ?? "unknown";
        var cpu = CpuInfo.Current;
        int threads = torch.get_num_threads();
        return new MachineInfo(
            cpu.Model ?? RuntimeInformation.ProcessArchitecture.ToString(),
            Environment.ProcessorCount,
            RuntimeInformation.OSDescription,
            RuntimeInformation.FrameworkDescription,
            tsVersion.Split('+')[0],
            torch.__version__,
            BuildInfo.TorchBackend,
            device.type.ToString().ToLowerInvariant(),
            threads,
            (OperatingSystem.IsWindows() ? Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") : TorchNative.NativeEnvironment("OMP_WAIT_POLICY")) ?? "",
            InterestingFlags.Where(cpu.Flags.Contains).ToList(),
            cpu.ThreadsPerCore,
            ComputePeak.Derive(cpu, Math.Min(threads, Math.Max(1, Environment.ProcessorCount / cpu.ThreadsPerCore))))
        { CpuCore = cpu.Core };
    }
}

/// <summary>
/// The float32 peak of the cores the benchmark uses: cores x clock x FLOP per cycle per core, where
/// FLOP per cycle is 2 (an FMA) x float32 lanes x FMA pipes, from the vendor's published core design.
/// </summary>
/// <param name="Cores">Physical cores used (libtorch threads, at most the physical cores).</param>
/// <param name="ClockGhz">Clock from /proc/cpuinfo. Under a hypervisor it is usually the nominal clock; boost can exceed it, so a measured rate above the peak means the cores ran faster than the clock given.</param>
/// <param name="FlopPerCycle">float32 FLOP per cycle per core.</param>
/// <param name="Gflops">Cores x clock x FLOP per cycle, in 10^9 FLOP/s.</param>
/// <param name="Basis">How FLOP per cycle was derived, in words.</param>
/// <remarks>
/// <see cref="Measured"/> adds the rate of an FMA loop at each vector width (<see cref="FmaLoop"/>);
/// <see cref="Best"/>, the larger of the derived and the measured peak, is what utilisation is set against,
/// so that boost above the reported clock cannot push a utilisation over 100%.
/// </remarks>
public sealed record ComputePeak(int Cores, double ClockGhz, int FlopPerCycle, double Gflops, string Basis)
{
    /// <summary>The FMA loop's rate at each vector width on <see cref="Cores"/> threads, when measured.</summary>
    public IReadOnlyList<FmaRate>? Measured { get; init; }

    /// <summary>The fastest width's measured rate, when measured.</summary>
    public double? MeasuredGflops => Measured is { Count: > 0 } m ? m.Max(r => r.Gflops) : null;

    /// <summary>The larger of the peak derived from the clock (<see cref="Gflops"/>) and the measured one.</summary>
    public double Best => Math.Max(Gflops, MeasuredGflops ?? 0);

    /// <summary>
    /// The peak with the FMA loop measured on <see cref="Cores"/> threads; for a CPU whose clock or
    /// design is unknown (<paramref name="derived"/> null), the measurement alone on <paramref name="cores"/>.
    /// </summary>
    public static ComputePeak WithMeasurement(ComputePeak? derived, int cores)
    {
        var measured = FmaLoop.Measure(derived?.Cores ?? cores);
        return (derived ?? new ComputePeak(cores, 0, 0, 0, "measured only: the clock or the vector design is unknown")) with { Measured = measured };
    }

    /// <summary>The peak of <paramref name="cores"/> cores of <paramref name="cpu"/>, or null when the clock or the vector units are unknown.</summary>
    public static ComputePeak? Derive(CpuInfo cpu, int cores)
    {
        if (cpu.Mhz <= 0 || cores < 1) return null;
        var f = cpu.Flags;
        (int flop, string basis)? design = cpu.Vendor switch
        {
            // Zen 1 and Zen+ (family 17h below model 30h): two 128-bit FMA pipes; a 256-bit FMA runs as two halves.
            "AuthenticAMD" when cpu.Family == 0x17 && cpu.ModelNumber < 0x30 => (16, "AMD Zen 1 / Zen+: 2 FMA pipes x 4 float32 lanes (128-bit) x 2"),
            // Zen 2-4 (families 17h from model 30h, 19h): two 256-bit FMA pipes; AVX-512 on Zen 4 runs as two 256-bit halves.
            "AuthenticAMD" when cpu.Family == 0x19 || (cpu.Family == 0x17 && f.Contains("avx2")) => (32, "AMD Zen 2-4: 2 FMA pipes x 8 float32 lanes (256-bit) x 2"),
            "AuthenticAMD" when cpu.Family >= 0x1A && f.Contains("avx512f") => (64, "AMD Zen 5: 2 FMA pipes x 16 float32 lanes (512-bit) x 2"),
            "GenuineIntel" when f.Contains("avx512f") => (64, "Intel with AVX-512: 2 FMA units x 16 float32 lanes x 2 (Xeons with one 512-bit FMA unit reach half)"),
            _ when f.Contains("avx2") && f.Contains("fma") => (32, "AVX2 with FMA: 2 FMA units x 8 float32 lanes x 2"),
            _ when f.Contains("avx") => (16, "AVX without FMA: 8-lane add + 8-lane multiply"),
            _ when f.Contains("sse2") => (8, "SSE2: 4-lane add + 4-lane multiply"),
            _ => null,
        };
        if (design is not { } d) return null;
        double ghz = cpu.Mhz / 1000;
        return new ComputePeak(cores, ghz, d.flop, cores * ghz * d.flop, d.basis);
    }
}
