using Leakage.IO;

namespace Leakage.Scale;

/// <summary>State of one work unit in a run folder.</summary>
public enum UnitState { Done, Claimed, Abandoned, Missing }

/// <summary>One work unit as <c>status</c> shows it.</summary>
/// <param name="Id">Board (folder relative to the run folder) and unit name, e.g. <c>d_rand/chunk-00003</c>.</param>
/// <param name="State">Done, claimed by a live worker, claimed by a worker that is gone, or missing.</param>
/// <param name="Claim">The claim, when there is one.</param>
/// <param name="Done">The done record, when there is one.</param>
/// <param name="Note">Why a claim counts as abandoned.</param>
public sealed record UnitStatus(string Id, UnitState State, ClaimInfo? Claim, DoneInfo? Done, string? Note);

/// <summary>
/// Reads every work-unit board (<see cref="UnitBoard"/>) under a run folder: which units are done,
/// which are claimed (by whom, since when) and which are missing. A done record counts only when
/// it carries the fingerprint of the board's current plan (units of older settings are missing).
/// </summary>
public static class RunStatus
{
    /// <summary>The units of every board under <paramref name="runFolder"/>, in board then unit order.</summary>
    public static IReadOnlyList<UnitStatus> Read(string runFolder, TimeSpan? staleAfter = null)
    {
        if (!Directory.Exists(runFolder))
            throw new DirectoryNotFoundException($"Run folder {runFolder} does not exist.");
        var root = Path.GetFullPath(runFolder);
        var rows = new List<UnitStatus>();
        var boards = Directory.EnumerateFiles(root, UnitBoard.PlanFile, new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true })
            .Select(Path.GetDirectoryName)
            .Where(d => Path.GetFileName(d) == UnitBoard.FolderName)
            .Select(d => Path.GetDirectoryName(d!)!)
            .Where(d => !Path.GetFileName(d).StartsWith('.'))
            .Order(StringComparer.Ordinal)
            .ToList();
        foreach (var owner in boards)
        {
            var board = new UnitBoard(owner, staleAfter: staleAfter);
            if (board.ReadPlan() is not var (_, fingerprint, units)) continue;
            var prefix = Path.GetRelativePath(root, owner).Replace('\\', '/');
            foreach (var unit in units)
            {
                var id = prefix == "." ? unit : $"{prefix}/{unit}";
                var done = board.Done(unit);
                if (done is not null && done.Fingerprint == fingerprint)
                {
                    rows.Add(new UnitStatus(id, UnitState.Done, null, done, null));
                    continue;
                }
                var claim = board.Holder(unit);
                if (claim is null) { rows.Add(new UnitStatus(id, UnitState.Missing, null, null, null)); continue; }
                var why = board.Abandoned(claim);
                rows.Add(new UnitStatus(id, why is null ? UnitState.Claimed : UnitState.Abandoned, claim, null, why));
            }
        }
        return rows;
    }

    /// <summary>Artifacts committed directly under the run folder (models, data sets): folder and kind.</summary>
    public static IReadOnlyList<(string Folder, string Kind)> Artifacts(string runFolder)
    {
        var root = Path.GetFullPath(runFolder);
        var list = new List<(string, string)>();
        foreach (var meta in Directory.EnumerateFiles(root, IO.Artifacts.MetadataFile, new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, MaxRecursionDepth = 3 }))
        {
            var dir = Path.GetDirectoryName(meta)!;
            var rel = Path.GetRelativePath(root, dir).Replace('\\', '/');
            if (rel.Split('/').Any(p => p.StartsWith('.') || p == "chunks")) continue;
            string kind;
            try { kind = (string?)System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(meta))?["kind"] ?? "?"; }
            catch (Exception e) when (e is IOException or System.Text.Json.JsonException) { kind = "unreadable"; }
            list.Add((rel, kind));
        }
        return list.Order().ToList();
    }
}
