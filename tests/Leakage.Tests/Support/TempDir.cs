namespace Leakage.Tests.Support;

/// <summary>A temporary folder deleted on dispose.</summary>
public sealed class TempDir : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "leakage-tests", Guid.NewGuid().ToString("N")[..12]);
    public TempDir() => Directory.CreateDirectory(Path);
    public string this[string relative] => System.IO.Path.Combine(Path, relative);
    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>Locations relative to the repository.</summary>
public static class Repo
{
    /// <summary>The folder holding Leakage.Notebooks.sln.</summary>
    public static string Root { get; } = FindRoot();

    static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
            if (File.Exists(System.IO.Path.Combine(d.FullName, "Leakage.Notebooks.sln"))) return d.FullName;
        throw new InvalidOperationException("repository root not found above " + AppContext.BaseDirectory);
    }

    /// <summary>The shared CIFAR-10 JPEG copy next to the repository, or null when absent.</summary>
    public static string? SharedCifarJpg()
    {
        var env = Environment.GetEnvironmentVariable("LEAKAGE_SHARED_CIFAR");
        var p = !string.IsNullOrWhiteSpace(env) ? env : System.IO.Path.GetFullPath(System.IO.Path.Combine(Root, "..", "shared", "data", "cifar10-jpg"));
        return Directory.Exists(System.IO.Path.Combine(p, "train")) ? p : null;
    }
}
