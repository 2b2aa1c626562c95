using System.Text.Json;
using Json.Schema;

namespace Leakage.Cli.Tests.Support;

/// <summary>docs/results.schema.json, and validation of a results.json against it.</summary>
public static class ResultsSchema
{
    static readonly Lazy<JsonSchema> Schema = new(() => JsonSchema.FromText(File.ReadAllText(RepoFile("docs", "results.schema.json"))));

    /// <summary>A file of the repository (found above the test assembly).</summary>
    public static string RepoFile(params string[] parts)
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Leakage.Notebooks.sln"))) return Path.Combine([d.FullName, .. parts]);
        throw new DirectoryNotFoundException("Leakage.Notebooks.sln not found above the test assembly.");
    }

    /// <summary>The schema's complaints about <paramref name="resultsPath"/>, one line each ("where: what"); empty when it is valid.</summary>
    public static IReadOnlyList<string> Errors(string resultsPath)
    {
        var results = Schema.Value.Evaluate(JsonDocument.Parse(File.ReadAllText(resultsPath)).RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
        if (results.IsValid) return [];
        return (results.Details ?? []).Where(d => d.Errors is { Count: > 0 })
            .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}")).DefaultIfEmpty("invalid (no details)").ToList();
    }
}
