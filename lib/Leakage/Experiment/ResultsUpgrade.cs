using System.Collections;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;

namespace Leakage.Experiment;

/// <summary>
/// Reading results.json into <see cref="RunResultsRecord"/>: the one upgrader that brings a file
/// written by an earlier version to the record's shape (the only place that looks into the file by
/// key), then the source-generated context that also writes it. A value of the wrong type is named
/// by its path and the type the record expects, in one line.
/// </summary>
public static class ResultsUpgrade
{
    /// <summary>
    /// Brings <paramref name="results"/> to the current shape, in place: <c>beyond.released</c> as a
    /// list of sets (it was an object with a <c>root</c> folder and one entry per set), and each entry
    /// of <c>beyond.nonlinear.probes</c> with its kind (<c>view</c>, <c>set</c>), which earlier files
    /// left to its name.
    /// </summary>
    /// <exception cref="InvalidDataException">A nonlinear probe of an earlier file has a name no probe kind makes.</exception>
    public static JsonObject Upgrade(JsonObject results)
    {
        ArgumentNullException.ThrowIfNull(results);
        var beyondKey = RunResultsRecord.PathOf(nameof(RunResultsRecord.Beyond));
        var releasedKey = RunResultsRecord.PathOf(nameof(BeyondSection.Released));
        if (results[beyondKey] is JsonObject beyond && beyond[releasedKey] is JsonObject old)
            beyond[releasedKey] = new JsonArray(old.Where(kv => kv.Value is JsonObject)
                .Select(kv => (JsonNode)new JsonObject { ["set"] = kv.Key, ["probe"] = kv.Value!.DeepClone() }).ToArray());
        var nonlinearKey = RunResultsRecord.PathOf(nameof(BeyondSection.Nonlinear));
        var probesKey = RunResultsRecord.PathOf(nameof(NonlinearResult.Probes));
        if (results[beyondKey]?[nonlinearKey]?[probesKey] is JsonArray probes)
            for (int i = 0; i < probes.Count; i++)
                if (probes[i] is JsonObject entry && entry[RunResultsRecord.PathOf(nameof(NonlinearProbeResult.View))] is null)
                    probes[i] = WithKind(entry);
        return results;
    }

    /// <summary>A nonlinear probe entry of an earlier file with the kind its name was made from, first, as the record writes it.</summary>
    static JsonObject WithKind(JsonObject entry)
    {
        var name = entry[RunResultsRecord.PathOf(nameof(NonlinearProbeResult.Name))]?.GetValue<string>();
        var kind = NonlinearProbeKind.All.Cast<NonlinearProbeKind?>().FirstOrDefault(k => k!.Value.Name == name)
            ?? throw new InvalidDataException($"beyond.nonlinear.probes: '{name}' is not the name of a nonlinear probe ({string.Join("; ", NonlinearProbeKind.All)}).");
        var upgraded = new JsonObject
        {
            [RunResultsRecord.PathOf(nameof(NonlinearProbeResult.View))] = ResultsJson.Node(kind.View),
            [RunResultsRecord.PathOf(nameof(NonlinearProbeResult.Set))] = ResultsJson.Node(kind.Set),
        };
        foreach (var (key, value) in entry) upgraded[key] = value?.DeepClone();
        return upgraded;
    }

    /// <summary>The record of <paramref name="results"/> (a results.json's content, upgraded first).</summary>
    /// <param name="results">The file's content; left as it is (a copy is upgraded).</param>
    /// <param name="source">The file, named in errors.</param>
    /// <exception cref="InvalidDataException">A value does not have the type the record expects; the message names the file, the path and the type.</exception>
    public static RunResultsRecord Read(JsonObject results, string source = ResultsFile.FileName)
    {
        ArgumentNullException.ThrowIfNull(results);
        var upgraded = Upgrade(results.DeepClone().AsObject());
        try { return upgraded.Deserialize(ResultsJsonContext.Default.RunResultsRecord) ?? new RunResultsRecord(); }
        catch (JsonException e)
        {
            var path = (e.Path ?? "$").TrimStart('$').TrimStart('.');
            throw new InvalidDataException($"{source}: {path} is not {Expected(path)} ({e.Message})", e);
        }
    }

    /// <summary>
    /// Checks that <paramref name="section"/> (read at <paramref name="path"/>) is whole: every member
    /// the record does not mark nullable is present, at any depth.
    /// </summary>
    /// <exception cref="InvalidDataException">A member is missing; the message names the file and its path.</exception>
    public static T Whole<T>(T section, string path, string source) where T : class
    {
        ArgumentNullException.ThrowIfNull(section);
        if (FirstMissing(section, ResultsJsonContext.Default.GetTypeInfo(typeof(T))!, path) is { } missing)
            throw new InvalidDataException($"{source}: {missing} is missing.");
        return section;
    }

    static string? FirstMissing(object value, JsonTypeInfo info, string path)
    {
        if (info.Kind == JsonTypeInfoKind.Enumerable && value is IEnumerable items && info.ElementType is { } element)
        {
            int i = 0;
            foreach (var item in items)
            {
                if (item is not null && Info(element) is { } e && FirstMissing(item, e, $"{path}[{i}]") is { } m) return m;
                i++;
            }
            return null;
        }
        if (info.Kind != JsonTypeInfoKind.Object) return null;
        foreach (var p in info.Properties)
        {
            if (p.Get is null) continue;
            var v = p.Get(value);
            var at = $"{path}.{p.Name}";
            if (v is null)
            {
                if (!p.IsGetNullable && !p.PropertyType.IsValueType) return at;
                continue;
            }
            if (Info(p.PropertyType) is { } child && FirstMissing(v, child, at) is { } m) return m;
        }
        return null;
    }

    static JsonTypeInfo? Info(Type t) => t.IsPrimitive || t == typeof(string) ? null : ResultsJsonContext.Default.GetTypeInfo(t);

    /// <summary>What the record expects at <paramref name="path"/> (dotted, with [n] for items), in words.</summary>
    static string Expected(string path)
    {
        Type? type = typeof(RunResultsRecord);
        foreach (var raw in path.Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            var name = raw.Split('[')[0];
            var info = type is null ? null : ResultsJsonContext.Default.GetTypeInfo(type);
            type = info?.Kind switch
            {
                JsonTypeInfoKind.Object => info.Properties.FirstOrDefault(p => p.Name == name)?.PropertyType,
                JsonTypeInfoKind.Dictionary => info.ElementType,
                _ => null,
            };
            for (int depth = raw.Count(c => c == '['); depth > 0 && type is not null; depth--)
                type = ResultsJsonContext.Default.GetTypeInfo(type)?.ElementType;
        }
        type = type is null ? null : Nullable.GetUnderlyingType(type) ?? type;
        return type switch
        {
            null => "of the expected type",
            _ when type == typeof(string) => "a string",
            _ when type == typeof(bool) => "true or false",
            _ when type.IsPrimitive || type == typeof(decimal) => "a number",
            _ when type.IsEnum => "one of " + string.Join(", ", Enum.GetNames(type)),
            _ when ResultsJsonContext.Default.GetTypeInfo(type)?.Kind == JsonTypeInfoKind.Enumerable => "an array",
            _ => "an object",
        };
    }
}
