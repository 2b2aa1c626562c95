namespace Leakage.Experiment;

/// <summary>Finds the repository root: the nearest folder holding <see cref="SolutionFile"/>.</summary>
public static class RepositoryRoot
{
    /// <summary>Marker file of the repository root.</summary>
    public const string SolutionFile = "Leakage.Notebooks.sln";

    /// <summary>
    /// The nearest ancestor (inclusive) of the first of <paramref name="starts"/> that has one holding
    /// <see cref="SolutionFile"/>; null when none has (null or empty starts are skipped).
    /// </summary>
    public static string? Find(params string?[] starts)
    {
        foreach (var start in starts)
        {
            if (string.IsNullOrEmpty(start)) continue;
            for (var dir = new DirectoryInfo(Path.GetFullPath(start)); dir != null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, SolutionFile))) return dir.FullName;
        }
        return null;
    }
}
