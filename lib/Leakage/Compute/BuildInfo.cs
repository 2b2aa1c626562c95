namespace Leakage.Compute;

/// <summary>Facts fixed at build time.</summary>
public static class BuildInfo
{
    /// <summary>"cpu" or "cuda": the value of the TorchBackend build property.</summary>
    public static string TorchBackend =>
        typeof(BuildInfo).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
            .OfType<System.Reflection.AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "TorchBackend")?.Value ?? "cpu";
}
