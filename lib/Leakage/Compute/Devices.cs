using Leakage.Native;
using TorchSharp;

namespace Leakage.Compute;

/// <summary>Which device to run on: the one place the choice is made.</summary>
public enum DeviceKind { Auto, Cpu, Cuda }

/// <summary>Picks the torch device once; everything else receives it.</summary>
public static class Devices
{
    /// <summary>Valid spellings, for error messages and help text.</summary>
    public static readonly string[] Choices = ["auto", "cpu", "cuda"];

    public static DeviceKind Parse(string value) => value.Trim().ToLowerInvariant() switch
    {
        "auto" => DeviceKind.Auto,
        "cpu" => DeviceKind.Cpu,
        "cuda" or "gpu" => DeviceKind.Cuda,
        _ => throw new ArgumentException($"Unknown device '{value}'. Valid choices: {string.Join(", ", Choices)}."),
    };

    /// <summary>True when this build's libtorch has CUDA and a GPU is visible.</summary>
    public static bool CudaAvailable()
    {
        TorchNative.Ensure();
        try { return torch.cuda.is_available(); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or NotSupportedException) { return false; }
    }

    /// <summary>
    /// Resolves a choice to a device. <c>auto</c> takes CUDA when available, else CPU;
    /// <c>cuda</c> without CUDA is an error that says how to get it.
    /// </summary>
    public static torch.Device Select(DeviceKind kind)
    {
        TorchNative.Ensure();
        return kind switch
        {
            DeviceKind.Cpu => torch.CPU,
            DeviceKind.Auto => CudaAvailable() ? torch.CUDA : torch.CPU,
            DeviceKind.Cuda => CudaAvailable() ? torch.CUDA : throw new InvalidOperationException(
                "Device 'cuda' was requested but CUDA is not available: " +
                (BuiltWithCuda
                    ? "no NVIDIA GPU/driver is visible to libtorch. Check 'nvidia-smi', or use --device cpu."
                    : "this build uses the CPU backend (TorchSharp-cpu). Rebuild with 'dotnet build -c Release -p:TorchBackend=cuda' on a machine with an NVIDIA GPU, or use --device cpu.")),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
    }

    /// <summary>Parses and resolves in one step.</summary>
    public static torch.Device Select(string choice) => Select(Parse(choice));

    /// <summary>Whether the TorchSharp package this build references is a CUDA one.</summary>
    public static bool BuiltWithCuda =>
        AppDomain.CurrentDomain.GetAssemblies().Any(a => a.GetName().Name?.StartsWith("TorchSharp-cuda", StringComparison.OrdinalIgnoreCase) == true)
        || BuildInfo.TorchBackend == "cuda";

    /// <summary>Sets the number of CPU threads libtorch uses (0 keeps libtorch's default).</summary>
    public static void SetThreads(int threads)
    {
        TorchNative.Ensure();
        if (threads > 0) torch.set_num_threads(threads);
    }

    /// <summary>One line describing the runtime, for logs and notebooks.</summary>
    public static string Describe(torch.Device device) =>
        $"device {device.type}{(device.type == DeviceType.CUDA ? $" ({torch.cuda.device_count()} GPU)" : "")}, " +
        $"TorchSharp {typeof(torch).Assembly.GetName().Version}, libtorch {torch.__version__}, " +
        $"{torch.get_num_threads()} threads, backend build '{BuildInfo.TorchBackend}'";
}
