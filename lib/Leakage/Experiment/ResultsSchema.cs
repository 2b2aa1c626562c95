using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Schema;

namespace Leakage.Experiment;

/// <summary>A results member that is a fraction in [0, 1] (an accuracy, a share, a p-value).</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class FractionAttribute : Attribute;

/// <summary>A results member that holds one of the names of a choice setting (<see cref="Choices.Valid"/>).</summary>
/// <param name="setting">The choice setting's dotted key, e.g. <c>robust.units</c>.</param>
[AttributeUsage(AttributeTargets.Property)]
public sealed class ChoiceOfAttribute(string setting) : Attribute
{
    /// <summary>The choice setting's dotted key.</summary>
    public string Setting { get; } = setting;
}

/// <summary>
/// <c>docs/results.schema.json</c>, generated from <see cref="RunResultsRecord"/> with
/// <see cref="JsonSchemaExporter"/>: every record closed to members it does not have, counts not
/// negative, <see cref="FractionAttribute"/> members in [0, 1], and the names of the choice settings
/// (<see cref="Choices"/>, <see cref="Profiles.Names"/>) as enums. Tests check that the committed file
/// is this one and that every recorded run follows it.
/// </summary>
public static class ResultsSchema
{
    /// <summary>The schema's file in the repository, relative to its root.</summary>
    public static readonly string RepositoryPath = Path.Combine("docs", "results.schema.json");

    /// <summary>The schema as a JSON document.</summary>
    public static JsonObject Generate()
    {
        var options = new JsonSchemaExporterOptions { TransformSchemaNode = Transform, TreatNullObliviousAsNonNullable = true };
        var body = ResultsJsonContext.Default.RunResultsRecord.GetJsonSchemaAsNode(options).AsObject();
        var schema = new JsonObject
        {
            ["$schema"] = "https://json-schema.org/draft/2020-12/schema",
            ["$id"] = "https://github.com/leakage-notebooks/results.schema.json",
            ["title"] = "results.json of a Leakage.Notebooks run",
            ["description"] = "Generated from RunResultsRecord (lib/Leakage/Experiment/RunResultsRecord.cs) by ResultsSchema; do not edit. " +
                              "A section appears once its step has run. Accuracies and fractions are in [0, 1]; seconds are compute times.",
        };
        foreach (var (key, value) in body.ToList())
        {
            body.Remove(key);
            schema[key] = value;
        }
        schema["type"] = "object"; // the file itself is never null
        schema["required"] = new JsonArray(RunResultsRecord.PathOf(nameof(RunResultsRecord.Profile)), RunResultsRecord.PathOf(nameof(RunResultsRecord.Settings)));
        return schema;
    }

    /// <summary>The schema as the committed file holds it (indented, LF line ends, a final newline).</summary>
    public static string Text() => Generate().ToJsonString(new JsonSerializerOptions
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    }).ReplaceLineEndings("\n") + "\n";

    static JsonNode Transform(JsonSchemaExporterContext context, JsonNode schema)
    {
        if (schema is not JsonObject node) return schema;
        var info = context.TypeInfo;
        var type = Nullable.GetUnderlyingType(info.Type) ?? info.Type;
        // A number is a JSON number: the named literals (NaN, Infinity) the serialiser could read are never written.
        if (type == typeof(double) || type == typeof(float))
            node = new JsonObject { ["type"] = Nullable.GetUnderlyingType(info.Type) is null ? "number" : new JsonArray("number", "null") };
        if (info.Kind == System.Text.Json.Serialization.Metadata.JsonTypeInfoKind.Object && node.ContainsKey("properties"))
        {
            node["additionalProperties"] = false;
            // Optional in the file: runs written by earlier versions lack members added since (readers that need a whole section check it).
            node.Remove("required");
        }
        if (type == typeof(int) || type == typeof(long)) node["minimum"] = 0;
        if (context.IsDictionaryValue() && type == typeof(double)) node["minimum"] = 0;
        var attributes = context.PropertyInfo?.AttributeProvider;
        if (attributes?.IsDefined(typeof(FractionAttribute), true) == true)
        {
            var target = node;
            target["minimum"] = 0;
            target["maximum"] = 1;
        }
        if (attributes?.GetCustomAttributes(typeof(ChoiceOfAttribute), true).OfType<ChoiceOfAttribute>().FirstOrDefault() is { } choice)
            return Enum(Choices.Valid[choice.Setting], nullable: node["type"] is JsonArray);
        var path = PropertyPath(context);
        if (path is ["profile"] or ["settings", "profile"]) return Enum(Profiles.Names, nullable: false);
        if (path is ["settings", .. var setting] && Choices.Valid.TryGetValue(string.Join('.', setting), out var valid))
            return Enum(valid, Choices.Optional.Contains(string.Join('.', setting)));
        return node;
    }

    static JsonObject Enum(IEnumerable<string> names, bool nullable) =>
        new() { ["enum"] = new JsonArray([.. names.Select(n => (JsonNode?)n), .. nullable ? new JsonNode?[] { null } : []]) };

    /// <summary>The property names from the root to the node (the schema path without its keywords).</summary>
    static string[] PropertyPath(JsonSchemaExporterContext context)
    {
        var path = context.Path;
        var names = new List<string>();
        for (int i = 0; i + 1 < path.Length; i++)
            if (path[i] == "properties") names.Add(path[++i]);
        return [.. names];
    }

    static bool IsDictionaryValue(this JsonSchemaExporterContext context) =>
        context.Path.Length > 0 && context.Path[^1] == "additionalProperties";
}
