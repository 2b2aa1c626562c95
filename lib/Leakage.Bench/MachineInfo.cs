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
/// <param name="OmpWaitPolicy">OMP_WAIT_POLICY in effect (the library sets PASSIVE unless the user chose one).</param>
public sealed record MachineInfo(
    string Cpu, int LogicalCores, string Os, string Dotnet, string TorchSharp, string Libtorch,
    string Backend, string Device, int Threads, string OmpWaitPolicy)
{
    /// <summary>Describes this process as it is now (call after the thread count is set).</summary>
    public static MachineInfo Collect(torch.Device device)
    {
        TorchNative.Ensure();
        var tsAssembly = typeof(torch).Assembly;
        var tsVersion = tsAssembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
                        ?? tsAssembly.GetName().Version?.ToString() ?? "unknown";
        return new MachineInfo(
            CpuModel(),
            Environment.ProcessorCount,
            RuntimeInformation.OSDescription,
            RuntimeInformation.FrameworkDescription,
            tsVersion.Split('+')[0],
            torch.__version__,
            BuildInfo.TorchBackend,
            device.type.ToString().ToLowerInvariant(),
            torch.get_num_threads(),
            Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") ?? "");
    }

    static string CpuModel()
    {
        const string cpuinfo = "/proc/cpuinfo";
        if (OperatingSystem.IsLinux() && File.Exists(cpuinfo))
        {
            foreach (var line in File.ReadLines(cpuinfo))
            {
                if (!line.StartsWith("model name", StringComparison.Ordinal)) continue;
                int colon = line.IndexOf(':');
                if (colon >= 0) return line[(colon + 1)..].Trim();
            }
        }
        return RuntimeInformation.ProcessArchitecture.ToString();
    }
}
