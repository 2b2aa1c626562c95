using System.Reflection;
using System.Runtime.InteropServices;
using SkiaSharp;

namespace Leakage.Interactive;

/// <summary>
/// Lets SkiaSharp find its native library when this library is loaded with <c>#r</c> into a
/// notebook kernel. Console apps and test hosts resolve <c>libSkiaSharp</c> from their deps.json;
/// a kernel has no deps.json for us and only probes its own folders and the folder of
/// SkiaSharp.dll, not <c>runtimes/&lt;rid&gt;/native</c> below it. A DllImport resolver on the
/// SkiaSharp assembly fills that gap; where the default lookup works it is never consulted.
/// </summary>
static class SkiaNative
{
    static int _installed;

    public static void Ensure()
    {
        if (Interlocked.Exchange(ref _installed, 1) == 1) return;
        try
        {
            NativeLibrary.SetDllImportResolver(typeof(SKImageInfo).Assembly, Resolve);
        }
        catch (InvalidOperationException)
        {
            // Someone (SkiaSharp itself, or the host) already set a resolver: theirs wins.
        }
    }

    static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (!name.Contains("SkiaSharp", StringComparison.OrdinalIgnoreCase)) return IntPtr.Zero;
        // Default lookup first, so normal hosts behave exactly as without the resolver.
        if (NativeLibrary.TryLoad(name, assembly, searchPath, out var handle)) return handle;
        var dir = Path.GetDirectoryName(assembly.Location);
        if (string.IsNullOrEmpty(dir)) return IntPtr.Zero;
        var file = OperatingSystem.IsWindows() ? $"{name}.dll" : OperatingSystem.IsMacOS() ? $"{name}.dylib" : $"{name}.so";
        var path = Path.Combine(dir, "runtimes", RuntimeInformation.RuntimeIdentifier, "native", file);
        if (!File.Exists(path))
            path = Path.Combine(dir, "runtimes", FallbackRid(), "native", file);
        return File.Exists(path) && NativeLibrary.TryLoad(path, out handle) ? handle : IntPtr.Zero;
    }

    static string FallbackRid()
    {
        var os = OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : "linux";
        var arch = RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
        return $"{os}-{arch}";
    }
}
