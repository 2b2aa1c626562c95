namespace Leakage.Interactive;

/// <summary>
/// Paths as notebook outputs and the report show them: relative to the repository where they lie
/// inside it (<c>runs/quick/standard</c>, <c>../shared/data/cifar10-jpg</c> beside it), else named by
/// the variable that chose them (<c>$LEAKAGE_OUT/standard</c>, <c>$LEAKAGE_DATA</c>), else under
/// <c>~</c>; so outputs kept in git or mailed as a report carry no machine's folder layout.
/// </summary>
public sealed class DisplayPaths
{
    readonly List<(string Prefix, string Shown)> _roots = [];

    /// <summary>
    /// Paths relative to <paramref name="repositoryRoot"/> (and its parent), with the run folder named
    /// <c>$LEAKAGE_OUT</c> where it lies outside the repository and the data folder <c>$LEAKAGE_DATA</c>
    /// where it lies outside the repository's parent.
    /// </summary>
    public DisplayPaths(string repositoryRoot, string? outDirectory = null, string? dataDirectory = null, string? home = null)
    {
        var root = Full(repositoryRoot);
        // The run folder is named by its variable wherever it lies outside the repository: a temporary
        // run folder beside a clone (both under /tmp) would otherwise be shown as ../tmpXYZ. The data
        // folder keeps its place beside the repository (../shared/data/...), where it is a stable name.
        if (outDirectory is { Length: > 0 } && !Inside(Full(outDirectory), root))
            _roots.Add((Full(outDirectory), "$" + NotebookSettings.OutVariable));
        if (dataDirectory is { Length: > 0 } && !Inside(Full(dataDirectory), Path.GetDirectoryName(root) ?? root))
            _roots.Add((Full(dataDirectory), "$" + NotebookSettings.DataVariable));
        _roots.Add((root, "."));
        if (Path.GetDirectoryName(root) is { Length: > 1 } parent) _roots.Add((parent, ".."));
        home ??= Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        if (home is { Length: > 1 }) _roots.Add((Full(home), "~"));
        // Longest prefix first, so a run folder inside the repository is shown from the repository.
        _roots.Sort((a, b) => b.Prefix.Length.CompareTo(a.Prefix.Length));
    }

    /// <summary>The paths of the running notebook (set by <see cref="NotebookSetup.Init"/>); null before.</summary>
    public static DisplayPaths? Current { get; internal set; }

    /// <summary><paramref name="path"/> as it is shown (see the class summary); unchanged when under none of the roots.</summary>
    public string Show(string path)
    {
        if (string.IsNullOrEmpty(path) || !Path.IsPathFullyQualified(path)) return path;
        var full = Full(path);
        foreach (var (prefix, shown) in _roots)
        {
            if (full == prefix) return shown;
            if (Inside(full, prefix))
            {
                var rest = full[(prefix.Length + 1)..];
                return shown == "." ? rest : $"{shown}/{rest}";
            }
        }
        return path;
    }

    /// <summary>Every absolute path under one of the roots inside <paramref name="text"/> (a log line, a message) replaced by its shown form.</summary>
    public string ShowIn(string text)
    {
        if (string.IsNullOrEmpty(text)) return text;
        foreach (var (prefix, shown) in _roots)
        {
            text = text.Replace(prefix + Path.DirectorySeparatorChar, shown == "." ? "" : shown + "/", StringComparison.Ordinal);
            text = ReplaceWhole(text, prefix, shown);
        }
        return text;
    }

    /// <summary>Shortens with <see cref="Current"/> when a notebook set it up; otherwise returns <paramref name="text"/>.</summary>
    public static string InText(string text) => Current?.ShowIn(text) ?? text;

    static string ReplaceWhole(string text, string prefix, string shown)
    {
        // The folder itself, not a longer name that starts with it ("/runs/quick" in "/runs/quick-2").
        int i = 0;
        while ((i = text.IndexOf(prefix, i, StringComparison.Ordinal)) >= 0)
        {
            int end = i + prefix.Length;
            if (end == text.Length || !(char.IsLetterOrDigit(text[end]) || text[end] is '-' or '_' or '.'))
            {
                text = text[..i] + shown + text[end..];
                i += shown.Length;
            }
            else i = end;
        }
        return text;
    }

    static bool Inside(string path, string folder) =>
        path.Length > folder.Length && path.StartsWith(folder, StringComparison.Ordinal) && path[folder.Length] == Path.DirectorySeparatorChar;

    static string Full(string path) => Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
}
