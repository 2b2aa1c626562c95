using System.Text.Json;
using System.Text.Json.Nodes;

namespace Leakage.IO;

/// <summary>Reads a JSON file that must hold an object, failing with one line that names the file.</summary>
public static class JsonFile
{
    /// <summary>
    /// The object in <paramref name="path"/>. <paramref name="advice"/> (what the user can do, e.g.
    /// "delete it to start over") ends the message when the file is not a JSON object.
    /// </summary>
    /// <exception cref="FileNotFoundException">There is no such file.</exception>
    /// <exception cref="InvalidDataException">It is not valid JSON, or not a JSON object; the message names the file.</exception>
    public static JsonObject ReadObject(string path, string? advice = null)
    {
        string tail = advice is null ? "." : $"; {advice}.";
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file.", path);
        JsonNode? node;
        try { node = JsonNode.Parse(File.ReadAllText(path)); }
        catch (JsonException e) { throw new InvalidDataException($"{path} is not valid JSON ({e.Message}){tail}", e); }
        return node as JsonObject ?? throw new InvalidDataException($"{path} is not a JSON object{tail}");
    }

    /// <summary>The <c>settings</c> object of an artifact's <c>metadata.json</c> (<see cref="Artifacts.MetadataFile"/>).</summary>
    /// <exception cref="InvalidDataException">The file is not valid JSON or has no settings object.</exception>
    public static JsonObject StoredSettings(string metadataPath) =>
        ReadObject(metadataPath)["settings"] as JsonObject ?? throw new InvalidDataException($"{metadataPath} has no settings object.");
}
