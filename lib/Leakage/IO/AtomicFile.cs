namespace Leakage.IO;

/// <summary>
/// Writes files so that a reader (or a resumed run) sees either the old content or the complete
/// new content, never a torn file: data goes to a temporary file in the same folder, unique to the
/// writer (host, process and a fresh GUID), is flushed to disk, and is then renamed over the target.
/// <para>
/// Several processes, on one machine or on many sharing the folder, may write the same target: each
/// renames its own complete file, so the target is always one writer's complete content. When a
/// concurrent writer removes the folder itself (an artifact being rewritten, see
/// <see cref="Artifacts.Delete"/>), the write is redone in the recreated folder instead of failing on
/// its vanished temporary file.
/// </para>
/// </summary>
public static class AtomicFile
{
    /// <summary>How often a write is redone when its folder is removed under it by a concurrent writer.</summary>
    const int Attempts = 50;

    /// <summary>
    /// Writes <paramref name="path"/> atomically through <paramref name="write"/>. <paramref name="write"/>
    /// may be called more than once (with a fresh stream) when a concurrent writer removed the folder.
    /// </summary>
    public static void Write(string path, Action<Stream> write) => WriteCore(path, write, recreateFolder: true);

    /// <summary>
    /// Like <see cref="Write"/> into an existing folder: returns false (writing nothing) instead of
    /// recreating the folder when it is gone or a concurrent writer removes it meanwhile.
    /// </summary>
    internal static bool TryWriteInto(string path, Action<Stream> write) => WriteCore(path, write, recreateFolder: false);

    static bool WriteCore(string path, Action<Stream> write, bool recreateFolder)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        for (int attempt = 1; ; attempt++)
        {
            if (!recreateFolder && !Directory.Exists(dir)) return false;
            CreateFolder(dir);
            var tmp = TempPath(full);
            try
            {
                using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
                {
                    write(fs);
                    fs.Flush(flushToDisk: true);
                }
                var sha = Artifacts.Sha256(tmp);
                File.Move(tmp, full, overwrite: true);
                Written[(full, Environment.CurrentManagedThreadId)] = sha;
                return true;
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException && attempt < Attempts && !File.Exists(tmp))
            {
                if (!recreateFolder) return false;
                Thread.Sleep(attempt % 8);
                // The folder (with our temporary file) was removed by a concurrent writer: write again.
            }
            catch
            {
                TryDelete(tmp);
                throw;
            }
        }
    }

    /// <summary>
    /// SHA-256 of the files this process wrote, per writing thread, until an artifact commit forgets
    /// them: a commit can tell its own file from one a concurrent writer put in its place.
    /// </summary>
    static readonly System.Collections.Concurrent.ConcurrentDictionary<(string Path, int Thread), string> Written = new();

    /// <summary>
    /// The SHA-256 of <paramref name="path"/> as this thread last wrote it through <see cref="Write"/>
    /// (and no commit has forgotten it since), or null when it did not write it.
    /// </summary>
    public static string? WrittenHere(string path) =>
        Written.TryGetValue((Path.GetFullPath(path), Environment.CurrentManagedThreadId), out var sha) ? sha : null;

    /// <summary>Drops <paramref name="path"/> from the record kept for <see cref="WrittenHere"/>.</summary>
    public static void Forget(string path) => Written.TryRemove((Path.GetFullPath(path), Environment.CurrentManagedThreadId), out _);

    /// <summary>
    /// Creates <paramref name="dir"/> (and its parents) if needed. Unlike a bare
    /// <see cref="Directory.CreateDirectory(string)"/> it does not fail when a concurrent writer
    /// removes the folder at the same instant (see <see cref="Artifacts.Delete"/>).
    /// </summary>
    public static void CreateFolder(string dir)
    {
        for (int attempt = 1; ; attempt++)
        {
            try { Directory.CreateDirectory(dir); return; }
            catch (IOException) when (attempt < 10 && !File.Exists(dir)) { }
        }
    }

    /// <summary>Writes all bytes atomically.</summary>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        var copy = bytes.ToArray();
        Write(path, s => s.Write(copy));
    }

    /// <summary>Writes text (UTF-8, no BOM) atomically.</summary>
    public static void WriteAllText(string path, string text) =>
        Write(path, s => { using var w = new StreamWriter(s, new System.Text.UTF8Encoding(false), leaveOpen: true); w.Write(text); });

    /// <summary>Ending of the temporary files <see cref="Write"/> creates: <c>.&lt;name&gt;.&lt;pid&gt;@&lt;host&gt;.&lt;guid&gt;.tmp</c>.</summary>
    public const string TempSuffix = ".tmp";

    /// <summary>Ending of the folders <see cref="Artifacts.Delete"/> moves aside before removing them.</summary>
    public const string DeletedSuffix = ".deleted";

    /// <summary>
    /// Temporary files of writers on other hosts (which cannot be probed) count as orphans after this
    /// long without a change.
    /// </summary>
    public static readonly TimeSpan ForeignOrphanAge = TimeSpan.FromHours(24);

    /// <summary>A fresh temporary path next to <paramref name="full"/>, naming this writer.</summary>
    static string TempPath(string full) =>
        Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Writer.Pid}@{Writer.Host}.{Guid.NewGuid():N}{TempSuffix}");

    /// <summary>
    /// Deletes temporary files left in <paramref name="dir"/> (and its subfolders when
    /// <paramref name="recursive"/>) by writers that were killed mid-write: files named like
    /// <see cref="Write"/>'s temporaries whose process no longer runs on this host, or, for writers
    /// on other hosts, unchanged for <see cref="ForeignOrphanAge"/>. Files of live processes (a
    /// concurrent writer) are left alone. Folders that <see cref="Artifacts.Delete"/> moved aside but
    /// could not finish removing go the same way. Returns the paths removed.
    /// </summary>
    public static IReadOnlyList<string> RemoveOrphans(string dir, bool recursive = true)
    {
        var removed = new List<string>();
        if (!Directory.Exists(dir)) return removed;
        foreach (var file in List(() => Directory.EnumerateFiles(dir, "." + "*" + TempSuffix, Walk(recursive))))
        {
            if (ParseWriter(Path.GetFileName(file), TempSuffix) is not var (host, pid)) continue;
            if (!IsOrphan(host, pid, () => File.GetLastWriteTimeUtc(file))) continue;
            TryDelete(file);
            if (!File.Exists(file)) removed.Add(file);
        }
        foreach (var d in List(() => Directory.EnumerateDirectories(dir, "." + "*" + DeletedSuffix, Walk(recursive))))
        {
            if (ParseWriter(Path.GetFileName(d), DeletedSuffix) is not var (host, pid)) continue;
            if (!IsOrphan(host, pid, () => Directory.GetLastWriteTimeUtc(d))) continue;
            try { Directory.Delete(d, recursive: true); removed.Add(d); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return removed;
    }

    static EnumerationOptions Walk(bool recursive) => new()
    {
        RecurseSubdirectories = recursive, IgnoreInaccessible = true, AttributesToSkip = 0, MatchCasing = MatchCasing.CaseSensitive,
    };

    /// <summary>Lists a folder tree that other processes may be changing (a folder vanishing mid-walk restarts the walk).</summary>
    static List<string> List(Func<IEnumerable<string>> walk)
    {
        for (int attempt = 1; ; attempt++)
        {
            try { return walk().ToList(); }
            catch (DirectoryNotFoundException) when (attempt < 5) { }
        }
    }

    /// <summary>Whether a writer (host, pid) is gone: dead on this host, or silent for <see cref="ForeignOrphanAge"/> elsewhere.</summary>
    internal static bool IsOrphan(string? host, int pid, Func<DateTime> lastWrite)
    {
        if (host is null) return !Writer.IsRunningHere(pid);   // names without a host: written on this host
        if (Writer.IsAlive(host, pid) is bool alive) return !alive;
        try { return DateTime.UtcNow - lastWrite() > ForeignOrphanAge; }
        catch (IOException) { return false; }
    }

    /// <summary>
    /// The writer (host, process id) encoded in a temporary name <c>.&lt;target&gt;.&lt;pid&gt;[@&lt;host&gt;].&lt;guid&gt;&lt;suffix&gt;</c>,
    /// or null when the name is not one of ours. Host is null in names without one.
    /// </summary>
    internal static (string? Host, int Pid)? ParseWriter(string name, string suffix)
    {
        var parts = name.Split('.');
        if (parts.Length < 5 || parts[0].Length != 0 || "." + parts[^1] != suffix) return null;
        if (parts[^2].Length != 32 || !Guid.TryParseExact(parts[^2], "N", out _)) return null;
        var writer = parts[^3];
        var at = writer.IndexOf('@');
        var pidText = at < 0 ? writer : writer[..at];
        string? host = at < 0 ? null : writer[(at + 1)..];
        return int.TryParse(pidText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var pid)
            ? (host, pid) : null;
    }

    static void TryDelete(string p)
    {
        try { if (File.Exists(p)) File.Delete(p); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
