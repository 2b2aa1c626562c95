using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Leakage.IO;

namespace Leakage.Scale;

/// <summary>Who holds a work unit: the claim file's content.</summary>
/// <param name="Unit">The unit's id.</param>
/// <param name="Host">Host name of the worker.</param>
/// <param name="Pid">Its process id.</param>
/// <param name="Since">When it claimed the unit (UTC).</param>
/// <param name="Heartbeat">When the claim was last refreshed (UTC; the claim file's write time).</param>
/// <param name="Token">Unique per claim, so a worker releases only its own.</param>
public sealed record ClaimInfo(string Unit, string Host, int Pid, DateTime Since, DateTime Heartbeat, string Token)
{
    /// <summary>"host pid 1234 since 01:02:03Z".</summary>
    public override string ToString() => $"{Host} pid {Pid} since {Since:yyyy-MM-dd HH:mm:ss}Z";
}

/// <summary>A unit recorded as finished.</summary>
public sealed record DoneInfo(string Unit, string Fingerprint, string Host, int Pid, DateTime Finished, double Seconds);

/// <summary>
/// The work units of one artifact family (the chunks of D_rand, say), shared by every worker on a
/// run folder, on one machine or many (a shared file system): a folder <c>units/</c> holding
/// <list type="bullet">
/// <item><c>plan.json</c>: every unit id with the fingerprint of the settings that define it;</item>
/// <item><c>&lt;id&gt;.planned</c>: a unit added to the plan one at a time (<see cref="AddToPlan"/>), one exclusive-create file each;</item>
/// <item><c>&lt;id&gt;.claim</c>: created exclusively (O_EXCL) by the worker computing the unit, with its host,
/// process id and start time as JSON, refreshed while it works and removed when it is done;</item>
/// <item><c>&lt;id&gt;.done</c>: written atomically when the unit's artifact is committed (the artifact itself
/// carries the checksums, see <see cref="Artifacts"/>).</item>
/// </list>
/// A claim whose process is gone (same host, process not running) or that has not been refreshed
/// for <see cref="StaleAfter"/> (a dead machine, a hung worker) is taken over, with a log line.
/// </summary>
public sealed class UnitBoard
{
    public const string FolderName = "units";
    public const string PlanFile = "plan.json";
    public const string ClaimSuffix = ".claim";
    public const string DoneSuffix = ".done";
    public const string PlannedSuffix = ".planned";

    /// <summary>Default for <see cref="StaleAfter"/>: claims are refreshed every quarter of it.</summary>
    public static readonly TimeSpan DefaultStaleAfter = TimeSpan.FromMinutes(10);

    readonly Action<string> _log;

    /// <param name="owner">The artifact family's folder; the board lives in <c>owner/units</c>.</param>
    /// <param name="log">Receives the take-over lines.</param>
    /// <param name="staleAfter">A claim not refreshed for this long is taken over (default 10 minutes).</param>
    public UnitBoard(string owner, Action<string>? log = null, TimeSpan? staleAfter = null)
    {
        Owner = Path.GetFullPath(owner);
        Folder = Path.Combine(Owner, FolderName);
        _log = log ?? (_ => { });
        StaleAfter = staleAfter ?? DefaultStaleAfter;
        if (StaleAfter <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(staleAfter), "must be positive");
    }

    /// <summary>The artifact family's folder.</summary>
    public string Owner { get; }
    /// <summary>The board's folder (<c>Owner/units</c>).</summary>
    public string Folder { get; }
    /// <summary>A claim not refreshed for this long counts as abandoned.</summary>
    public TimeSpan StaleAfter { get; }

    string ClaimPath(string unit) => Path.Combine(Folder, Check(unit) + ClaimSuffix);
    string DonePath(string unit) => Path.Combine(Folder, Check(unit) + DoneSuffix);

    static string Check(string unit)
    {
        if (string.IsNullOrWhiteSpace(unit) || unit.IndexOfAny(['/', '\\', ':']) >= 0 || unit.StartsWith('.'))
            throw new ArgumentException($"Unit id '{unit}' must be a plain file name (no slashes, not starting with '.').", nameof(unit));
        return unit;
    }

    // ------------------------------------------------------------------ plan

    /// <summary>A short fingerprint (16 hex digits of SHA-256) of a unit's defining settings.</summary>
    public static string FingerprintOf(string settingsJson) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(settingsJson)))[..16];

    /// <summary>Records the units of this family and the fingerprint of their settings (for <c>status</c>).</summary>
    public void Plan(string title, IReadOnlyList<string> units, string fingerprint)
    {
        foreach (var u in units) Check(u);
        var node = new JsonObject
        {
            ["title"] = title,
            ["fingerprint"] = fingerprint,
            ["units"] = new JsonArray(units.Select(u => (JsonNode?)u).ToArray()),
        };
        var path = Path.Combine(Folder, PlanFile);
        var text = node.ToJsonString(Artifacts.Json);
        try { if (File.Exists(path) && File.ReadAllText(path) == text) return; }
        catch (IOException) { }
        AtomicFile.WriteAllText(path, text);
    }

    /// <summary>
    /// Adds <paramref name="unit"/> to the plan (for <c>status</c>) if it is not listed yet. Race-free:
    /// each added unit is its own file <c>&lt;id&gt;.planned</c>, created exclusively, so workers adding units
    /// at the same instant never drop one another's (no read-modify-write of <c>plan.json</c>).
    /// </summary>
    public void AddToPlan(string title, string unit)
    {
        Check(unit);
        AtomicFile.CreateFolder(Folder);
        var planPath = Path.Combine(Folder, PlanFile);
        // The family's title for status; every writer writes the same content, and only while there is none.
        if (!File.Exists(planPath))
        {
            var empty = new JsonObject { ["title"] = title, ["fingerprint"] = "", ["units"] = new JsonArray() };
            try
            {
                using var fs = new FileStream(planPath, FileMode.CreateNew, FileAccess.Write, FileShare.Read);
                fs.Write(Encoding.UTF8.GetBytes(empty.ToJsonString(Artifacts.Json)));
            }
            catch (IOException) when (File.Exists(planPath)) { }
        }
        var planned = Path.Combine(Folder, unit + PlannedSuffix);
        if (File.Exists(planned)) return;
        try { using var _ = new FileStream(planned, FileMode.CreateNew, FileAccess.Write, FileShare.Read); }
        catch (IOException) when (File.Exists(planned)) { }
    }

    /// <summary>
    /// The plan, or null when none was written: the units of <c>plan.json</c> in their order, then
    /// those added by <see cref="AddToPlan"/> in the order they were added.
    /// </summary>
    public (string Title, string Fingerprint, IReadOnlyList<string> Units)? ReadPlan()
    {
        var path = Path.Combine(Folder, PlanFile);
        JsonNode? node;
        try { node = JsonNode.Parse(File.ReadAllText(path)); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException) { return null; }
        if (node?["units"] is not JsonArray listed) return null;
        var units = listed.Select(u => (string?)u ?? "").Where(u => u.Length > 0).ToList();
        var seen = units.ToHashSet(StringComparer.Ordinal);
        try
        {
            foreach (var (file, _) in new DirectoryInfo(Folder).EnumerateFiles("*" + PlannedSuffix)
                         .Select(f => (f.Name, f.LastWriteTimeUtc)).OrderBy(f => f.LastWriteTimeUtc).ThenBy(f => f.Name, StringComparer.Ordinal))
            {
                var unit = file[..^PlannedSuffix.Length];
                if (seen.Add(unit)) units.Add(unit);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return ((string?)node["title"] ?? Path.GetFileName(Owner), (string?)node["fingerprint"] ?? "", units);
    }

    // ------------------------------------------------------------------ claims

    /// <summary>
    /// Claims <paramref name="unit"/> for this process, taking over an abandoned claim (logged).
    /// Returns null when a live worker holds it (<paramref name="holder"/> says who).
    /// Dispose the claim when the unit is done (or failed) to release it.
    /// </summary>
    public UnitClaim? TryClaim(string unit, out ClaimInfo? holder)
    {
        AtomicFile.CreateFolder(Folder);
        var path = ClaimPath(unit);
        for (int attempt = 0; attempt < 8; attempt++)
        {
            var token = Guid.NewGuid().ToString("N");
            var now = DateTime.UtcNow;
            var info = new ClaimInfo(unit, Writer.Host, Writer.Pid, now, now, token);
            try
            {
                using (var fs = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read))
                {
                    fs.Write(Encoding.UTF8.GetBytes(ToJson(info)));
                    fs.Flush(flushToDisk: true);
                }
                holder = null;
                return new UnitClaim(this, path, info);
            }
            catch (IOException) when (File.Exists(path) || attempt < 7)
            {
                if (!File.Exists(path)) continue;   // released between our attempt and the check
            }

            var current = ReadClaim(path);
            // Created this instant: its worker is still writing the content.
            for (int i = 0; i < 50 && current is null && File.Exists(path); i++)
            {
                Thread.Sleep(10);
                current = ReadClaim(path);
            }
            if (current is null && !File.Exists(path)) continue;       // released meanwhile: try again
            var why = Abandoned(current, path);
            if (why is null) { holder = current; return null; }
            // Take over: move the abandoned claim aside (only one worker can), then create ours.
            var aside = $"{path}.{Guid.NewGuid():N}.stale";
            try { File.Move(path, aside); }
            catch (Exception e) when (e is FileNotFoundException or IOException) { continue; }
            var moved = ReadClaim(aside);
            if (moved is not null && current is not null && moved.Token != current.Token)
            {
                // A fresh claim replaced the abandoned one between our read and the move: put it back.
                try { File.Move(aside, path); } catch (IOException) { }
                holder = moved;
                return null;
            }
            try { File.Delete(aside); } catch (IOException) { }
            _log($"Taking over work unit {Describe(unit)}: {(current is null ? "an unreadable claim" : $"claimed by {current}")}, {why}.");
        }
        holder = ReadClaim(path);
        return null;
    }

    /// <summary>Who holds <paramref name="unit"/> now, or null when nobody does.</summary>
    public ClaimInfo? Holder(string unit) => ReadClaim(ClaimPath(unit));

    /// <summary>Why the claim counts as abandoned, or null while its worker is alive.</summary>
    public string? Abandoned(ClaimInfo? claim, string? path = null)
    {
        DateTime heartbeat;
        if (claim is null)
        {
            // Unreadable: either being written this instant or damaged; judged by its age.
            try { heartbeat = File.GetLastWriteTimeUtc(path!); } catch (IOException) { return null; }
            var age0 = DateTime.UtcNow - heartbeat;
            return age0 > StaleAfter ? $"unreadable and unchanged for {Minutes(age0)}" : null;
        }
        if (Writer.IsAlive(claim.Host, claim.Pid) == false) return $"process {claim.Pid} no longer runs on {claim.Host}";
        var age = DateTime.UtcNow - claim.Heartbeat;
        return age > StaleAfter ? $"not refreshed for {Minutes(age)} (limit {Minutes(StaleAfter)})" : null;
    }

    static string Minutes(TimeSpan t) => t.TotalMinutes >= 1 ? $"{t.TotalMinutes:0.#} min" : $"{t.TotalSeconds:0} s";

    string Describe(string unit) => $"{Path.GetFileName(Owner)}/{unit}";

    internal static string ToJson(ClaimInfo c) => new JsonObject
    {
        ["unit"] = c.Unit,
        ["host"] = c.Host,
        ["pid"] = c.Pid,
        ["since"] = c.Since.ToString("o", CultureInfo.InvariantCulture),
        ["token"] = c.Token,
    }.ToJsonString(Artifacts.Json);

    /// <summary>Reads a claim file (its write time is the heartbeat); null when absent or unreadable.</summary>
    public static ClaimInfo? ReadClaim(string path)
    {
        try
        {
            var text = File.ReadAllText(path);
            var heartbeat = File.GetLastWriteTimeUtc(path);
            var node = JsonNode.Parse(text);
            if (node is null) return null;
            var since = DateTime.Parse((string?)node["since"] ?? "", CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);
            return new ClaimInfo((string?)node["unit"] ?? "", (string?)node["host"] ?? "", (int?)node["pid"] ?? 0,
                since, heartbeat, (string?)node["token"] ?? "");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or FormatException or InvalidOperationException)
        {
            return null;
        }
    }

    internal void Release(string path, ClaimInfo info)
    {
        var current = ReadClaim(path);
        if (current is null || current.Token != info.Token) return;   // taken over meanwhile: not ours to remove
        try { File.Delete(path); } catch (IOException) { }
    }

    // ------------------------------------------------------------------ done

    /// <summary>Records <paramref name="unit"/> as finished (after its artifact was committed).</summary>
    public void MarkDone(string unit, string fingerprint, double seconds) =>
        AtomicFile.WriteAllText(DonePath(unit), new JsonObject
        {
            ["unit"] = unit,
            ["fingerprint"] = fingerprint,
            ["host"] = Writer.Host,
            ["pid"] = Writer.Pid,
            ["finished"] = DateTime.UtcNow.ToString("o", CultureInfo.InvariantCulture),
            ["seconds"] = seconds,
        }.ToJsonString(Artifacts.Json));

    /// <summary>The done record of <paramref name="unit"/>, or null.</summary>
    public DoneInfo? Done(string unit)
    {
        try
        {
            var node = JsonNode.Parse(File.ReadAllText(DonePath(unit)));
            if (node is null) return null;
            return new DoneInfo(unit, (string?)node["fingerprint"] ?? "", (string?)node["host"] ?? "", (int?)node["pid"] ?? 0,
                DateTime.Parse((string?)node["finished"] ?? "", CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal),
                (double?)node["seconds"] ?? 0);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or FormatException or InvalidOperationException)
        {
            return null;
        }
    }

    // ------------------------------------------------------------------ waiting

    /// <summary>
    /// Waits while a live worker holds <paramref name="unit"/>: returns true once
    /// <paramref name="isDone"/> holds, false when the claim is released or abandoned without the
    /// unit being done (the caller then claims and computes it).
    /// </summary>
    public bool WaitWhileHeld(string unit, Func<bool> isDone, TimeSpan poll, CancellationToken ct = default)
    {
        while (true)
        {
            if (isDone()) return true;
            var path = ClaimPath(unit);
            var holder = ReadClaim(path);
            if (holder is null && !File.Exists(path)) return isDone();
            if (Abandoned(holder, path) is not null) return isDone();
            if (ct.WaitHandle.WaitOne(poll)) ct.ThrowIfCancellationRequested();
        }
    }
}

/// <summary>
/// A held claim on a work unit. While held, the claim file is refreshed every quarter of
/// <see cref="UnitBoard.StaleAfter"/> so other workers see its worker is alive; disposing releases it.
/// The refresh runs on a thread of its own, not the thread pool, so that a pool busy with the unit's
/// own parallel work (or blocked callers) cannot delay it past the limit.
/// </summary>
public sealed class UnitClaim : IDisposable
{
    readonly UnitBoard _board;
    readonly string _path;
    readonly ManualResetEventSlim _stop = new();
    readonly Thread _heartbeat;
    int _disposed;

    internal UnitClaim(UnitBoard board, string path, ClaimInfo info)
    {
        _board = board;
        _path = path;
        Info = info;
        var period = TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerSecond / 10, board.StaleAfter.Ticks / 4));
        _heartbeat = new Thread(() => { while (!_stop.Wait(period)) Refresh(); }) { IsBackground = true, Name = $"claim {info.Unit}" };
        _heartbeat.Start();
    }

    /// <summary>The claim as recorded.</summary>
    public ClaimInfo Info { get; }

    /// <summary>Whether the claim file is still this claim (false after a take-over by another worker).</summary>
    public bool StillHeld => UnitBoard.ReadClaim(_path)?.Token == Info.Token;

    void Refresh()
    {
        try { if (StillHeld) File.SetLastWriteTimeUtc(_path, DateTime.UtcNow); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stop.Set();
        _heartbeat.Join();
        _stop.Dispose();
        _board.Release(_path, Info);
    }
}
