namespace Leakage.IO;

/// <summary>
/// Writes files so that a reader (or a resumed run) sees either the old content or the complete
/// new content, never a torn file: data goes to a temporary file in the same folder, is flushed to
/// disk, and is then renamed over the target.
/// </summary>
public static class AtomicFile
{
    /// <summary>Writes <paramref name="path"/> atomically through <paramref name="write"/>.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        var tmp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}{TempSuffix}");
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                write(fs);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            TryDelete(tmp);
            throw;
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

    /// <summary>Ending of the temporary files <see cref="Write"/> creates: <c>.&lt;name&gt;.&lt;pid&gt;.&lt;guid&gt;.tmp</c>.</summary>
    public const string TempSuffix = ".tmp";

    /// <summary>
    /// Deletes temporary files left in <paramref name="dir"/> (and its subfolders when
    /// <paramref name="recursive"/>) by writers that were killed mid-write: files named like
    /// <see cref="Write"/>'s temporaries whose process is no longer running. Files of live
    /// processes (a concurrent writer) are left alone. Returns the paths removed.
    /// </summary>
    public static IReadOnlyList<string> RemoveOrphans(string dir, bool recursive = true)
    {
        var removed = new List<string>();
        if (!Directory.Exists(dir)) return removed;
        var files = Directory.EnumerateFiles(dir, "." + "*" + TempSuffix, recursive ? SearchOption.AllDirectories : SearchOption.TopDirectoryOnly);
        foreach (var file in files.ToList())
        {
            if (WriterProcess(Path.GetFileName(file)) is not int pid || IsRunning(pid)) continue;
            TryDelete(file);
            if (!File.Exists(file)) removed.Add(file);
        }
        return removed;
    }

    /// <summary>The writer's process id encoded in a temporary file name, or null when the name is not one of ours.</summary>
    static int? WriterProcess(string name)
    {
        // .<target name>.<pid>.<32 hex digits>.tmp
        var parts = name.Split('.');
        if (parts.Length < 5 || parts[0].Length != 0 || parts[^1] != TempSuffix[1..]) return null;
        if (parts[^2].Length != 32 || !Guid.TryParseExact(parts[^2], "N", out _)) return null;
        return int.TryParse(parts[^3], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var pid) ? pid : null;
    }

    static bool IsRunning(int pid)
    {
        if (pid == Environment.ProcessId) return true;
        try
        {
            using var p = System.Diagnostics.Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException) { return false; }
        catch (InvalidOperationException) { return false; }
    }

    static void TryDelete(string p)
    {
        try { if (File.Exists(p)) File.Delete(p); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
