using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Leakage.IO;

/// <summary>
/// A cached artifact is a folder holding its files and a <c>metadata.json</c> that records the kind,
/// the settings that made it and a SHA-256 checksum and size per file. <c>metadata.json</c> is
/// written last and atomically, so its presence marks a complete artifact. On reload the settings
/// must match exactly and every checksum must verify; otherwise the artifact is not used
/// (the caller recomputes it and logs the reason).
/// </summary>
public static class Artifacts
{
    public const string MetadataFile = "metadata.json";
    /// <summary>Bumped when the on-disk layout of artifacts changes; older artifacts are recomputed.</summary>
    public const int FormatVersion = 1;

    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    /// <summary>Canonical JSON form of a settings object (records, anonymous objects or JsonNode).</summary>
    public static JsonNode ToNode(object settings) =>
        settings as JsonNode ?? JsonSerializer.SerializeToNode(settings, settings.GetType(), Json)
        ?? throw new ArgumentException("settings serialised to null");

    /// <summary>
    /// Checks that <paramref name="dir"/> holds a complete, intact artifact of <paramref name="kind"/>
    /// made with <paramref name="settings"/>. <paramref name="reason"/> says why not.
    /// Set <paramref name="verifyChecksums"/> to false only for a quick existence probe.
    /// </summary>
    public static bool TryValidate(string dir, string kind, object settings, out string reason, bool verifyChecksums = true)
    {
        try { return Check(dir, kind, settings, out reason, verifyChecksums); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            // Removed while being read: a concurrent writer is replacing this artifact.
            reason = $"{dir} changed while it was read ({e.Message})";
            return false;
        }
    }

    static bool Check(string dir, string kind, object settings, out string reason, bool verifyChecksums)
    {
        var metaPath = Path.Combine(dir, MetadataFile);
        if (!File.Exists(metaPath)) { reason = $"no {MetadataFile} in {dir}"; return false; }
        JsonNode? meta;
        try { meta = JsonNode.Parse(File.ReadAllText(metaPath)); }
        catch (JsonException e) { reason = $"{metaPath} is not valid JSON ({e.Message})"; return false; }
        if (meta is null) { reason = $"{metaPath} is empty"; return false; }
        if ((int?)meta["formatVersion"] != FormatVersion) { reason = $"{metaPath}: artifact format {(int?)meta["formatVersion"]}, expected {FormatVersion}"; return false; }
        if ((string?)meta["kind"] != kind) { reason = $"{metaPath}: kind '{(string?)meta["kind"]}', expected '{kind}'"; return false; }
        var diff = Diff(meta["settings"], ToNode(settings), "");
        if (diff != null) { reason = $"settings differ: {diff}"; return false; }
        if (meta["files"] is not JsonObject files) { reason = $"{metaPath}: no file list"; return false; }
        foreach (var (name, node) in files)
        {
            var path = Path.Combine(dir, name);
            if (!File.Exists(path)) { reason = $"file {path} is missing"; return false; }
            long size = (long?)node?["size"] ?? -1;
            var actual = new FileInfo(path).Length;
            if (actual != size) { reason = $"file {path} has {actual} bytes, metadata says {size} (truncated or replaced)"; return false; }
            if (verifyChecksums)
            {
                var sha = Sha256(path);
                if (!string.Equals(sha, (string?)node?["sha256"], StringComparison.OrdinalIgnoreCase))
                { reason = $"file {path} fails its checksum (corrupt)"; return false; }
            }
        }
        reason = "";
        return true;
    }

    /// <summary>Like <see cref="TryValidate"/> but throws <see cref="InvalidDataException"/> with the reason.</summary>
    public static void Validate(string dir, string kind, object settings)
    {
        if (!TryValidate(dir, kind, settings, out var reason))
            throw new InvalidDataException($"Artifact {dir} cannot be used: {reason}");
    }

    /// <summary>
    /// Records the artifact as complete: checksums every listed file (relative to
    /// <paramref name="dir"/>) and writes <c>metadata.json</c> atomically.
    /// <para>
    /// Several processes may write the same artifact at once (workers on one run folder). A commit
    /// never mixes their files: when a listed file that this thread wrote with
    /// <see cref="AtomicFile"/> is gone (a concurrent writer removed the folder, see
    /// <see cref="Delete"/>) or now holds another writer's bytes, nothing is written and the result
    /// is false; the artifact stays incomplete unless a writer whose files are all its own commits
    /// it, and an incomplete artifact is recomputed, never used. A file missing for any other reason
    /// (never written) is an error.
    /// </para>
    /// </summary>
    public static bool Commit(string dir, string kind, object settings, IEnumerable<string> files, JsonObject? extra = null)
    {
        var fileNodes = new JsonObject();
        var listed = files.ToList();
        foreach (var f in listed)
        {
            var path = Path.Combine(dir, f);
            var mine = AtomicFile.WrittenHere(path);
            string sha;
            long size;
            try
            {
                size = new FileInfo(path).Length;
                sha = Sha256(path);
            }
            catch (Exception e) when ((e is FileNotFoundException or DirectoryNotFoundException) && mine is not null)
            {
                return false;
            }
            if (mine is not null && !string.Equals(mine, sha, StringComparison.Ordinal)) return false;
            fileNodes[f] = new JsonObject { ["size"] = size, ["sha256"] = sha };
        }
        foreach (var f in listed) AtomicFile.Forget(Path.Combine(dir, f));
        var meta = new JsonObject
        {
            ["formatVersion"] = FormatVersion,
            ["kind"] = kind,
            ["created"] = DateTime.UtcNow.ToString("o"),
            ["settings"] = ToNode(settings).DeepClone(),
            ["files"] = fileNodes,
        };
        if (extra != null) meta["extra"] = extra.DeepClone();
        var text = meta.ToJsonString(Json);
        // Not into a recreated folder: if a concurrent writer removed it, the listed files went with it.
        if (!AtomicFile.TryWriteInto(Path.Combine(dir, MetadataFile), s => s.Write(System.Text.Encoding.UTF8.GetBytes(text))))
            return false;
        return true;
    }

    /// <summary>Reads the "extra" block that <see cref="Commit"/> stored, if any (null when the artifact vanished meanwhile).</summary>
    public static JsonObject? ReadExtra(string dir)
    {
        try { return JsonNode.Parse(File.ReadAllText(Path.Combine(dir, MetadataFile)))?["extra"] as JsonObject; }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException) { return null; }
    }

    /// <summary>Ending of the folders <see cref="Delete"/> moves aside before removing them.</summary>
    public const string DeletedSuffix = AtomicFile.DeletedSuffix;

    /// <summary>
    /// Removes the metadata first (so a crash mid-way leaves an incomplete artifact), then moves the
    /// folder aside under a name unique to this writer and removes it there: other processes see
    /// the folder complete or gone, never half-deleted, and a concurrent writer's next write
    /// recreates it (<see cref="AtomicFile.Write"/>). Safe to call when the folder is already gone.
    /// </summary>
    public static void Delete(string dir)
    {
        var full = Path.GetFullPath(dir).TrimEnd(Path.DirectorySeparatorChar);
        var meta = Path.Combine(full, MetadataFile);
        try { if (File.Exists(meta)) File.Delete(meta); }
        catch (DirectoryNotFoundException) { }
        if (!Directory.Exists(full)) return;
        var aside = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Writer.Pid}@{Writer.Host}.{Guid.NewGuid():N}{DeletedSuffix}");
        try { Directory.Move(full, aside); }
        catch (DirectoryNotFoundException) { return; }            // removed by another process meanwhile
        catch (IOException) when (!Directory.Exists(full)) { return; }
        // A concurrent writer may still rename its file into the moved folder while we empty it.
        for (int attempt = 1; ; attempt++)
        {
            try { Directory.Delete(aside, recursive: true); return; }
            catch (IOException) when (attempt < 20) { Thread.Sleep(attempt); }
            catch (IOException) { return; }   // left for AtomicFile.RemoveOrphans once this process ends
        }
    }


    public static string Sha256(string path)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        return Convert.ToHexStringLower(SHA256.HashData(fs));
    }

    /// <summary>First difference between two JSON trees as "path: old -> new", or null when equal.</summary>
    public static string? Diff(JsonNode? stored, JsonNode? wanted, string path)
    {
        string P(string p) => p.Length == 0 ? "(root)" : p;
        if (stored is JsonObject a && wanted is JsonObject b)
        {
            foreach (var key in a.Select(kv => kv.Key).Union(b.Select(kv => kv.Key)).Order(StringComparer.Ordinal))
            {
                var d = Diff(a[key], b[key], path.Length == 0 ? key : $"{path}.{key}");
                if (d != null) return d;
            }
            return null;
        }
        if (stored is JsonArray x && wanted is JsonArray y)
        {
            if (x.Count != y.Count) return $"{P(path)}: {x.ToJsonString()} -> {y.ToJsonString()}";
            for (int i = 0; i < x.Count; i++)
            {
                var d = Diff(x[i], y[i], $"{path}[{i}]");
                if (d != null) return d;
            }
            return null;
        }
        var sa = stored?.ToJsonString() ?? "null";
        var sb = wanted?.ToJsonString() ?? "null";
        return sa == sb ? null : $"{P(path)}: {sa} -> {sb}";
    }
}
