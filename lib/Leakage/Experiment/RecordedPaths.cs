using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Leakage.Checkpoints;
using Leakage.IO;
using Leakage.Released;

namespace Leakage.Experiment;

/// <summary>
/// How results.json names a file or folder the user gave (<c>standard.checkpoint</c>,
/// <c>beyond.nonlinearCheckpoint</c>, <c>beyond.releasedData</c>): never by a machine path. Inside the
/// run folder, by its path relative to it (<c>imports/model.pt</c>); elsewhere, by its name and a
/// fingerprint of its content (<c>model.pt sha256:3f2a...</c>), so that a moved file is the same
/// input and a changed one is another. The run itself keeps using the path as given.
/// </summary>
public static class RecordedPaths
{
    /// <summary>What separates a name from its fingerprint: <c>model.pt sha256:3f2a...</c>.</summary>
    public const string FingerprintPrefix = " sha256:";

    /// <summary>
    /// <paramref name="path"/> relative to <paramref name="runFolder"/> (with <c>/</c>) when it lies
    /// inside it, else its file or folder name; null when inside is asked for and it is not.
    /// </summary>
    static string? Inside(string path, string runFolder)
    {
        var relative = Path.GetRelativePath(Path.GetFullPath(runFolder), Path.GetFullPath(path));
        bool outside = Path.IsPathRooted(relative) || relative == ".." || relative.StartsWith(".." + Path.DirectorySeparatorChar, StringComparison.Ordinal);
        return outside ? null : relative.Replace(Path.DirectorySeparatorChar, '/');
    }

    /// <summary>The name of <paramref name="path"/>: relative to <paramref name="runFolder"/> when inside it, else its last part.</summary>
    public static string Name(string path, string runFolder)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentException.ThrowIfNullOrWhiteSpace(runFolder);
        return Inside(path, runFolder) ?? Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(path)));
    }

    /// <summary>
    /// <paramref name="path"/> as results.json records it: relative to <paramref name="runFolder"/> when
    /// inside it, else its name and <paramref name="sha256"/> of its content (asked for only then; null
    /// when there is nothing to read: the name is followed by "(not found)").
    /// </summary>
    public static string Of(string path, string runFolder, Func<string?> sha256)
    {
        ArgumentNullException.ThrowIfNull(sha256);
        return Inside(path, runFolder) ?? Name(path, runFolder) + (sha256() is { } sha ? FingerprintPrefix + sha : " (not found)");
    }

    /// <summary>
    /// <paramref name="settings"/> as results.json records them: the checkpoints and the released-data
    /// folder named by <see cref="Of"/>, every other setting as it is.
    /// </summary>
    /// <param name="settings">The run's settings.</param>
    /// <param name="runFolder">The run folder.</param>
    /// <param name="standard">The imported standard checkpoint (its SHA-256 is already known), if any.</param>
    /// <param name="robust">The imported robust checkpoint of the nonlinear extension, if any.</param>
    public static ExperimentSettings Settings(ExperimentSettings settings, string runFolder, CheckpointInfo? standard = null, CheckpointInfo? robust = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var (s, b) = (settings.Standard, settings.Beyond);
        return settings with
        {
            Standard = s.Checkpoint is { } c ? s with { Checkpoint = Of(c, runFolder, () => standard?.Sha256 ?? FileSha256(c)) } : s,
            Beyond = b with
            {
                NonlinearCheckpoint = b.NonlinearCheckpoint is { } n ? Of(n, runFolder, () => robust?.Sha256 ?? FileSha256(n)) : null,
                ReleasedData = b.ReleasedData is { } r ? Of(r, runFolder, () => ReleasedSha256(r)) : null,
            },
        };
    }

    /// <summary>SHA-256 of a file's bytes, remembered per path, size and time of last write (a released set is 600 MB).</summary>
    static string? FileSha256(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) return null;
        var key = (info.FullName, info.Length, info.LastWriteTimeUtc);
        return Hashes.GetOrAdd(key, _ => Artifacts.Sha256(info.FullName));
    }

    static readonly ConcurrentDictionary<(string, long, DateTime), string> Hashes = new();

    /// <summary>
    /// SHA-256 over the released data sets found under <paramref name="root"/> (<see cref="ReleasedDatasets.Discover"/>):
    /// each set's folder name with the SHA-256 of its images and labels files.
    /// </summary>
    static string? ReleasedSha256(string root)
    {
        if (!Directory.Exists(root)) return null;
        var text = new StringBuilder();
        foreach (var set in ReleasedDatasets.Discover(root))
            foreach (var file in new[] { ReleasedDatasets.ImagesFile, ReleasedDatasets.LabelsFile })
                text.Append(set.Name).Append('/').Append(file).Append(' ').Append(FileSha256(Path.Combine(set.Path, file)) ?? "missing").Append('\n');
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }
}
