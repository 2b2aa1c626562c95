using System.Runtime.InteropServices;

namespace Leakage.Native;

/// <summary>
/// Keeps TorchSharp's native Scalars alive until no call can still be reading them.
/// <para>
/// TorchSharp 0.107 frees a c10::Scalar in the finalizer of its managed <c>Scalar</c>, which holds the
/// pointer as a bare IntPtr, so a temporary Scalar can be freed by a garbage collection on another thread
/// while libtorch is still reading it. TorchSharp makes such temporaries itself: <c>a + b</c> on tensors
/// passes an implicit alpha of 1, <c>square()</c> a power of 2, batch norm adds 1 to its counter.
/// Measured on 2 cores beside a thread that collects: 40 failures ("Expected false to be true", from
/// c10::Scalar::toFloat) in 300,000 <c>(x + x) + x</c>; none with this quarantine. The failures seen in
/// our parallel test runs ("toFloat", "Unknown scalar type") are this.
/// </para>
/// <para>
/// The fix cannot be made in managed code (the finalizer is TorchSharp's), so a small native library
/// (Native/scalar_quarantine.cpp, built by <c>dotnet build</c> where g++ is installed) exports
/// <c>THSTorch_dispose_scalar</c> and frees each pointer only after 65,536 later releases; every other
/// symbol resolves to libLibTorchSharp.so, its dependency. <see cref="Install"/> points TorchSharp's
/// P/Invokes at it. Tensors have the same finalizer, but a tensor made inside a <c>torch.NewDisposeScope()</c>
/// is held by the scope until it ends, and the library runs every batch in one (delaying tensors' frees
/// would hold their memory). Our own code never makes temporary Scalars either (analyzer LK0001,
/// <see cref="Scalars"/>), so on systems without the library only TorchSharp's internal ones remain.
/// </para>
/// </summary>
public static class ScalarQuarantine
{
    const string RelativePath = "native-compat/libleakage_scalar_quarantine.so";
    const string TorchSharpLibrary = "LibTorchSharp";

    static IntPtr _handle;

    /// <summary>Whether TorchSharp's Scalars go through the quarantine in this process.</summary>
    public static bool Active => _handle != IntPtr.Zero;

    /// <summary>Scalars handed to the quarantine, and those it has freed (for tests and logs); zeros when not active.</summary>
    public static (ulong Received, ulong Released) Counts => Active
        ? (Counter("leakage_scalar_quarantine_received"), Counter("leakage_scalar_quarantine_released"))
        : (0, 0);

    /// <summary>
    /// Loads <paramref name="torchSharpNative"/> (the libLibTorchSharp.so this process uses) and the
    /// quarantine, and resolves TorchSharp's native calls through it. Call once, before TorchSharp's first
    /// native call (<see cref="TorchNative.Ensure"/> does). Returns what it did, for
    /// <see cref="TorchNative.Status"/>; never throws: without the quarantine TorchSharp works as shipped.
    /// </summary>
    internal static string Install(string? torchSharpNative)
    {
        if (!OperatingSystem.IsLinux()) return "scalar quarantine not built (not Linux)";
        var path = TorchNative.FindBeside(RelativePath);
        if (path is null) return $"scalar quarantine not found ({RelativePath}; dotnet build makes it where g++ is installed)";
        if (torchSharpNative is null) return "scalar quarantine not loaded (libLibTorchSharp.so not found)";
        try
        {
            // The quarantine names libLibTorchSharp.so as a dependency: the loader takes the copy already loaded.
            NativeLibrary.Load(torchSharpNative);
            var handle = NativeLibrary.Load(path);
            NativeLibrary.SetDllImportResolver(typeof(TorchSharp.torch).Assembly,
                (name, _, _) => name == TorchSharpLibrary ? handle : IntPtr.Zero);
            _handle = handle;
            return "scalar quarantine on";
        }
        catch (Exception e) when (e is DllNotFoundException or BadImageFormatException or InvalidOperationException)
        {
            return $"scalar quarantine off ({e.Message.Split('\n')[0]})";
        }
    }

    static unsafe ulong Counter(string export) =>
        ((delegate* unmanaged<nuint>)NativeLibrary.GetExport(_handle, export))();
}
