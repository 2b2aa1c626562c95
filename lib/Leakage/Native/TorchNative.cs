using System.Reflection;
using System.Runtime.InteropServices;

namespace Leakage.Native;

/// <summary>
/// Makes TorchSharp's native library loadable on Linux systems whose libstdc++ predates GCC 13.
/// <para>
/// libLibTorchSharp.so (TorchSharp 0.107, libtorch 2.10) needs <c>GLIBCXX_3.4.32</c>, and the only
/// symbol it takes from that version is <c>std::ios_base_library_init()</c>. Where the system's
/// libstdc++ lacks the version, <see cref="Ensure"/>:
/// (1) loads a one-function shim that exports the symbol under that version, globally;
/// (2) marks the version-need entry weak in the copy of libLibTorchSharp.so that this process will
/// load (our build output, never the NuGet cache), writing it atomically;
/// (3) loads that copy, so TorchSharp's own lookup by name finds it already loaded.
/// Everywhere else (Windows, macOS, newer Linux) it does nothing.
/// </para>
/// On Linux it then installs <see cref="ScalarQuarantine"/>.
/// Call it before the first use of <c>TorchSharp.torch</c>; every entry point of this library does.
/// </summary>
public static class TorchNative
{
    public const string NeededVersion = "GLIBCXX_3.4.32";
    const string Symbol = "_ZSt21ios_base_library_initv";
    const string ShimRelativePath = "native-compat/libleakage_glibcxx_compat.so";
    const string LibName = "libLibTorchSharp.so";

    static readonly object Gate = new();
    static string? _status;

    /// <summary>What <see cref="Ensure"/> did, for logs and the setup notebook.</summary>
    public static string Status => _status ?? "not initialised";

    /// <summary>Idempotent; thread-safe. Throws <see cref="InvalidOperationException"/> with a fix when it cannot help.</summary>
    public static void Ensure()
    {
        if (_status != null) return;
        lock (Gate)
        {
            if (_status != null) return;
            _status = EnsureCore();
        }
    }

    static string EnsureCore()
    {
        ConfigureOpenMp();
        // Process-wide, like the OpenMP policy: every training, attack and probe loop reuses its freed blocks.
        NativeHeap.Configure();
        var glibcxx = EnsureGlibcxx();
        return $"{glibcxx}; {ScalarQuarantine.Install(OperatingSystem.IsLinux() ? FindTorchSharpNative() : null)}";
    }

    static string EnsureGlibcxx()
    {
        if (!OperatingSystem.IsLinux()) return "not needed (not Linux)";
        if (SystemLibStdCxxHasVersion()) return $"not needed (system libstdc++ has {NeededVersion})";

        var shim = FindShim() ?? throw new InvalidOperationException(
            $"This system's libstdc++ lacks {NeededVersion}, which TorchSharp's native library needs, and the " +
            $"compatibility shim ({ShimRelativePath}) was not found next to Leakage.dll. It is built by " +
            "'dotnet build' when g++ is installed: run 'sudo apt-get install g++' (or your distribution's " +
            "equivalent) and rebuild.");
        var lib = FindTorchSharpNative() ?? throw new InvalidOperationException(
            $"Could not find {LibName} next to TorchSharp.dll ({TorchSharpDir()}). Reference the Leakage " +
            "library from its build output (which carries runtimes/<rid>/native), not TorchSharp from the NuGet cache.");

        if (Dl.Open(shim, Dl.RTLD_NOW | Dl.RTLD_GLOBAL) == IntPtr.Zero)
            throw new InvalidOperationException($"Could not load the compatibility shim {shim}: {Dl.Error()}");
        int patched = PatchInPlace(lib);
        NativeLibrary.Load(lib);
        return $"applied: shim {shim}; {(patched > 0 ? "patched" : "already weak")} {lib}";
    }

    /// <summary>
    /// libtorch's OpenMP threads spin while waiting for work by default. When the cores are shared
    /// (a notebook kernel, parallel test hosts, other jobs) spinning threads starve the ones doing
    /// work: measured here, 2-thread robust-linear training took 93-142 s spinning and 11 s passive.
    /// So unless the user chose a policy, set OMP_WAIT_POLICY=PASSIVE before libtorch loads. libgomp
    /// reads it with getenv when it loads, so it must reach the C environment: on Unix
    /// <see cref="Environment.SetEnvironmentVariable(string, string?)"/> changes only .NET's copy.
    /// </summary>
    static void ConfigureOpenMp()
    {
        const string name = "OMP_WAIT_POLICY";
        // .NET's copy starts as the C environment, so a policy exported by the user is seen here, and
        // one set in-process (a notebook cell before the first torch call) is carried to the C side.
        var policy = Environment.GetEnvironmentVariable(name);
        if (string.IsNullOrEmpty(policy)) Environment.SetEnvironmentVariable(name, policy = "PASSIVE");
        if (!OperatingSystem.IsWindows() && NativeEnvironment(name) != policy) Dl.SetEnv(name, policy);
    }

    /// <summary>
    /// A variable of the C environment (libc getenv): what native libraries such as libtorch's
    /// OpenMP runtime see, which on Unix can differ from <see cref="Environment.GetEnvironmentVariable(string)"/>.
    /// Null when unset. Unix only.
    /// </summary>
    public static string? NativeEnvironment(string name)
    {
        if (OperatingSystem.IsWindows()) throw new PlatformNotSupportedException("The C environment is read on Unix only.");
        return Marshal.PtrToStringAnsi(Dl.GetEnv(name));
    }

    /// <summary>True when the libstdc++.so.6 the loader resolves defines the needed version.</summary>
    public static bool SystemLibStdCxxHasVersion()
    {
        var h = Dl.Open("libstdc++.so.6", Dl.RTLD_NOW);
        if (h == IntPtr.Zero) return false;
        return Dl.VSym(h, Symbol, NeededVersion) != IntPtr.Zero;
    }

    /// <summary>
    /// Marks <see cref="NeededVersion"/> weak in <paramref name="path"/>, atomically, when it is not
    /// already; returns the number of entries changed.
    /// </summary>
    public static int PatchInPlace(string path)
    {
        var bytes = File.ReadAllBytes(path);
        int changed = ElfVersionNeeds.MarkWeak(bytes, NeededVersion, path);
        if (changed > 0)
        {
            var mode = OperatingSystem.IsWindows() ? default : File.GetUnixFileMode(path);
            // Native sits below IO (IO's tensor files need libtorch loaded), so it renames a temporary file itself.
            var temporary = $"{path}.{Environment.ProcessId}.tmp";
            File.WriteAllBytes(temporary, bytes);
            File.Move(temporary, path, overwrite: true);
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, mode);
        }
        return changed;
    }

    static string? FindShim() => FindBeside(ShimRelativePath);

    /// <summary>A file shipped next to Leakage.dll (the native-compat libraries), or null.</summary>
    internal static string? FindBeside(string relativePath)
    {
        foreach (var dir in new[] { Path.GetDirectoryName(typeof(TorchNative).Assembly.Location), AppContext.BaseDirectory })
        {
            if (string.IsNullOrEmpty(dir)) continue;
            var p = Path.Combine(dir, relativePath);
            if (File.Exists(p)) return p;
        }
        return null;
    }

    static string TorchSharpDir()
    {
        var asm = AppDomain.CurrentDomain.GetAssemblies().FirstOrDefault(a => a.GetName().Name == "TorchSharp")
                  ?? Assembly.Load("TorchSharp");
        return Path.GetDirectoryName(asm.Location) ?? AppContext.BaseDirectory;
    }

    /// <summary>The copy of libLibTorchSharp.so this process would load.</summary>
    static string? FindTorchSharpNative()
    {
        var dirs = new List<string>();
        // Console apps and test hosts: the native search directories from deps.json.
        if (AppContext.GetData("NATIVE_DLL_SEARCH_DIRECTORIES") is string searchDirs)
            dirs.AddRange(searchDirs.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries));
        // Notebook kernels (no deps.json): the build output that holds TorchSharp.dll.
        var tsDir = TorchSharpDir();
        var rid = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? "linux-arm64" : "linux-x64";
        dirs.Add(Path.Combine(tsDir, "runtimes", rid, "native"));
        dirs.Add(tsDir);
        foreach (var d in dirs)
        {
            var p = Path.Combine(d, LibName);
            // Only a copy that sits with libtorch (resolved through its $ORIGIN runpath) will work.
            if (File.Exists(p) && File.Exists(Path.Combine(d, "libtorch.so"))) return Path.GetFullPath(p);
        }
        return null;
    }

    static class Dl
    {
        public const int RTLD_NOW = 2, RTLD_GLOBAL = 0x100;

        [DllImport("libc.so.6", EntryPoint = "dlopen")] static extern IntPtr DlOpenC(string? file, int mode);
        [DllImport("libc.so.6", EntryPoint = "dlvsym")] static extern IntPtr DlVSymC(IntPtr h, string sym, string ver);
        [DllImport("libc.so.6", EntryPoint = "dlerror")] static extern IntPtr DlErrorC();
        // "libc.so.6", not "libc": on glibc systems libc.so is a linker script that dlopen cannot load.
        [DllImport("libc.so.6", EntryPoint = "setenv", SetLastError = true)] static extern int SetEnvC(string name, string value, int overwrite);
        [DllImport("libc.so.6", EntryPoint = "getenv")] public static extern IntPtr GetEnv(string name);

        /// <summary>setenv(name, value, 1); throws when libc refuses.</summary>
        public static void SetEnv(string name, string value)
        {
            if (SetEnvC(name, value, 1) != 0)
                throw new InvalidOperationException($"setenv({name}={value}) failed: {Marshal.GetLastPInvokeErrorMessage()}.");
        }
        [DllImport("libdl.so.2", EntryPoint = "dlopen")] static extern IntPtr DlOpenDl(string? file, int mode);
        [DllImport("libdl.so.2", EntryPoint = "dlvsym")] static extern IntPtr DlVSymDl(IntPtr h, string sym, string ver);
        [DllImport("libdl.so.2", EntryPoint = "dlerror")] static extern IntPtr DlErrorDl();

        // glibc >= 2.34 exports the dl* functions from libc.so.6; older ones from libdl.so.2.
        static bool _useLibDl;

        public static IntPtr Open(string file, int mode)
        {
            if (!_useLibDl)
                try { return DlOpenC(file, mode); } catch (EntryPointNotFoundException) { _useLibDl = true; }
            return DlOpenDl(file, mode);
        }

        public static IntPtr VSym(IntPtr h, string sym, string ver) => _useLibDl ? DlVSymDl(h, sym, ver) : DlVSymC(h, sym, ver);

        public static string Error()
        {
            var p = _useLibDl ? DlErrorDl() : DlErrorC();
            return p == IntPtr.Zero ? "unknown error" : Marshal.PtrToStringAnsi(p) ?? "unknown error";
        }
    }
}
