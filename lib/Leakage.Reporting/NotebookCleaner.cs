using System.Text.Json;
using System.Text.Json.Nodes;
using Leakage.IO;

namespace Leakage.Reporting;

/// <summary>
/// Strips outputs from notebooks so that committed notebooks stay small and diff cleanly: every
/// code cell gets <c>"outputs": []</c> and <c>"execution_count": null</c>. Works on the JSON
/// directly and leaves everything else (metadata, sources, cell ids) untouched.
/// </summary>
public static class NotebookCleaner
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

    /// <summary>Strips every .ipynb in <paramref name="directory"/> (not recursive); returns the files changed.</summary>
    public static IReadOnlyList<string> StripAll(string directory) =>
        Directory.EnumerateFiles(directory, "*.ipynb").Order(StringComparer.Ordinal).Where(Strip).ToList();

    static bool HasOutput(JsonObject cell) =>
        cell["outputs"] is JsonArray { Count: > 0 } || cell["execution_count"] is JsonValue;

    static JsonObject Load(string path)
    {
        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) as JsonObject
                   ?? throw new InvalidDataException($"{path}: a notebook must be a JSON object.");
        }
        catch (JsonException e) { throw new InvalidDataException($"{path} is not valid JSON: {e.Message}", e); }
    }

    static IEnumerable<JsonObject> CodeCells(JsonObject root, string path)
    {
        if (root["cells"] is not JsonArray cells) throw new InvalidDataException($"{path}: no \"cells\" array; is it a notebook?");
        return cells.OfType<JsonObject>().Where(c => (string?)c["cell_type"] == "code");
    }
}
