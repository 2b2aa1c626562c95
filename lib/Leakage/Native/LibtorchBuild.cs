using System.Runtime.InteropServices;

namespace Leakage.Native;

/// <summary>
/// libtorch's own account of the kernels it runs: the oneDNN version it was built with and the CPU
/// capability ATen dispatches its vectorised kernels to on this machine (<c>at::get_mkldnn_version</c>,
/// <c>at::get_cpu_capability</c>; what <c>torch.__config__.show()</c> prints in Python). TorchSharp binds
/// neither and libtorch_cpu does not export oneDNN's C API, so the two C++ functions are called directly.
/// </summary>
public static class LibtorchBuild
{
    const string Library = "libtorch_cpu.so";
    static readonly Lazy<string?> OneDnnValue = new(() => CallStringFunction("_ZN2at18get_mkldnn_versionB5cxx11Ev"));
    static readonly Lazy<string?> CpuCapabilityValue = new(() => CallStringFunction("_ZN2at18get_cpu_capabilityB5cxx11Ev"));

    /// <summary>oneDNN's version as libtorch reports it, e.g. "Intel(R) MKL-DNN v3.7.1 (Git Hash ...)"; null where it cannot be read.</summary>
    public static string? OneDnn => OneDnnValue.Value;

    /// <summary>The instruction set ATen's own CPU kernels use here ("DEFAULT", "AVX2", "AVX512"; ATEN_CPU_CAPABILITY lowers it); null where it cannot be read.</summary>
    public static string? CpuCapability => CpuCapabilityValue.Value;

    /// <summary>
    /// Calls a C++ function of libtorch_cpu that takes nothing and returns a libstdc++ <c>std::string</c>.
    /// On x86-64 Linux (System V, Itanium C++ ABI) such a function takes a hidden pointer to the 32 bytes
    /// of the result (data pointer, length, 16-byte inline buffer) in its first argument register; other
    /// platforms pass it elsewhere, so they get null. The string's heap block, if any, is left to the
    /// process (each value is read once).
    /// </summary>
    static unsafe string? CallStringFunction(string symbol)
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64) return null;
        try
        {
            TorchNative.Ensure();
            _ = TorchSharp.torch.get_num_threads(); // loads libtorch if nothing has yet
            var path = LoadedPath(Library);
            if (path is null || !NativeLibrary.TryLoad(path, out var handle)) return null;
            if (!NativeLibrary.TryGetExport(handle, symbol, out var function)) return null;
            var result = stackalloc byte[32];
            ((delegate* unmanaged<byte*, void>)function)(result);
            var data = *(byte**)result;
            var length = *(long*)(result + 8);
            return length is < 0 or > 4096 ? null : Marshal.PtrToStringUTF8((IntPtr)data, (int)length);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>The file of a shared library this process has mapped (/proc/self/maps), or null.</summary>
    static string? LoadedPath(string fileName)
    {
        const string maps = "/proc/self/maps";
        if (!File.Exists(maps)) return null;
        foreach (var line in File.ReadLines(maps))
        {
            int slash = line.IndexOf('/');
            if (slash >= 0 && line.EndsWith("/" + fileName, StringComparison.Ordinal)) return line[slash..];
        }
        return null;
    }
}
