using System.Runtime.CompilerServices;
using Leakage.Native;

namespace Leakage.Notebooks.Tests;

static class TestSetup
{
    /// <summary>Runs when the test assembly loads, before any test touches TorchSharp.</summary>
    [ModuleInitializer]
    internal static void Init()
    {
        TorchNative.Ensure();
        TorchSharp.torch.set_num_threads(1);
    }
}

/// <summary>Paths of the repository this test assembly was built from.</summary>
static class Repo
{
    /// <summary>The folder holding Leakage.Notebooks.sln, found from the test binaries upwards.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>The sample notebooks of this test project.</summary>
    public static string TestNotebooks => Path.Combine(Root, "tests", "Leakage.Notebooks.Tests", "notebooks");

    /// <summary>The notebook series.</summary>
    public static string Notebooks => Path.Combine(Root, "notebooks");

    /// <summary>The Leakage.Interactive build output that notebooks load with #r.</summary>
    public static string InteractiveBuild => Path.Combine(Root, "lib", "Leakage.Interactive", "bin", "Release", "net10.0", "Leakage.Interactive.dll");

    static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Leakage.Notebooks.sln"))) return dir.FullName;
        throw new InvalidOperationException($"No Leakage.Notebooks.sln above {AppContext.BaseDirectory}.");
    }
}

/// <summary>A temporary folder removed at the end of a test.</summary>
sealed class TempDir : IDisposable
{
    public TempDir() => Directory.CreateDirectory(Path);
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "leakage-nbtests-" + Guid.NewGuid().ToString("N")[..10]);
    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
