using System.Text.Json;
using System.Text.Json.Nodes;
using Leakage.IO;

namespace Leakage.Reporting;

/// <summary>
/// Strips outputs from notebooks so that committed notebooks stay small and diff cleanly: every
/// code cell gets <c>"outputs": []</c> and <c>"execution_count": null</c>. Works on the JSON
/// directly and leaves everything else (metadata, sources, cell ids) untouched.
/// </summary>
public static partial class NotebookCleaner
{
    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Whether the notebook has any output or execution count.</summary>
    public static bool HasOutputs(string path) => CodeCells(Load(path), path).Any(HasOutput);

    /// <summary>Removes outputs and execution counts; rewrites the file (atomically) only when something changed.</summary>
    /// <returns>True when the file was changed.</returns>
    public static bool Strip(string path)
    {
        var root = Load(path);
        bool changed = false;
        foreach (var cell in CodeCells(root, path))
        {
            if (!HasOutput(cell)) continue;
            cell["outputs"] = new JsonArray();
            cell["execution_count"] = null;
            changed = true;
        }
        if (changed) AtomicFile.WriteAllText(path, root.ToJsonString(Indented) + "\n");
        return changed;
    }

    /// <summary>
    /// Keeps only the final snapshot of each progress bar (<see cref="Leakage.Interactive.ProgressBar"/>)
    /// among a cell's outputs: a headless kernel records every update of a display as an output of its
    /// own. Rewrites the file (atomically) only when something changed.
    /// </summary>
    /// <returns>The number of outputs removed.</returns>
    public static int KeepFinalProgress(string path)
    {
        var root = Load(path);
        int removed = 0;
        foreach (var cell in CodeCells(root, path))
        {
            if (cell["outputs"] is not JsonArray outputs) continue;
            var ids = outputs.Select(ProgressId).ToList();
            var last = new Dictionary<string, int>(StringComparer.Ordinal);
            for (int i = 0; i < ids.Count; i++) if (ids[i] is { } id) last[id] = i;
            for (int i = outputs.Count - 1; i >= 0; i--)
                if (ids[i] is { } id && last[id] != i) { outputs.RemoveAt(i); removed++; }
        }
        if (removed > 0) AtomicFile.WriteAllText(path, root.ToJsonString(Indented) + "\n");
        return removed;
    }

    static string? ProgressId(JsonNode? output)
    {
        var html = output?["data"]?["text/html"] switch
        {
            JsonValue v when v.TryGetValue<string>(out var text) => text,
            JsonArray lines => string.Concat(lines.Select(l => (string?)l)),
            _ => null,
        };
        if (html is null) return null;
        var m = ProgressAttribute().Match(html);
        return m.Success ? m.Groups[1].Value : null;
    }

    [System.Text.RegularExpressions.GeneratedRegex(Leakage.Interactive.ProgressBar.IdAttribute + "=\"([^\"]+)\"")]
    private static partial System.Text.RegularExpressions.Regex ProgressAttribute();

    /// <summary>Strips every .ipynb in <paramref name="directory"/> (not recursive); returns the files changed.</summary>
    public static IReadOnlyList<string> StripAll(string directory) =>
        Directory.EnumerateFiles(directory, "*.ipynb").Order(StringComparer.Ordinal).Where(Strip).ToList();

    static bool HasOutput(JsonObject cell) =>
        cell["outputs"] is JsonArray { Count: > 0 } || cell["execution_count"] is JsonValue;

    static JsonObject Load(string path) => JsonFile.ReadObject(path, "a notebook is one");

    static IEnumerable<JsonObject> CodeCells(JsonObject root, string path)
    {
        if (root["cells"] is not JsonArray cells) throw new InvalidDataException($"{path}: no \"cells\" array; is it a notebook?");
        return cells.OfType<JsonObject>().Where(c => (string?)c["cell_type"] == "code");
    }
}
