using System.Text.Json.Nodes;

namespace Leakage.Cli.Tests.Support;

/// <summary>Reads and compares results.json files.</summary>
public static class Results
{
    public static JsonObject Read(string runFolder) =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(runFolder, "results.json")))!.AsObject();

    /// <summary>Every leaf of the results as (dotted path, value), except timings (the "seconds" section).</summary>
    public static IEnumerable<(string Path, JsonNode? Value)> Leaves(JsonNode? node, string path = "")
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (k, v) in o)
                {
                    if (path.Length == 0 && k == "seconds") continue;
                    foreach (var leaf in Leaves(v, path.Length == 0 ? k : $"{path}.{k}")) yield return leaf;
                }
                break;
            case JsonArray a:
                for (int i = 0; i < a.Count; i++)
                    foreach (var leaf in Leaves(a[i], $"{path}[{i}]")) yield return leaf;
                break;
            default:
                yield return (path, node);
                break;
        }
    }

    /// <summary>Every string of the results that is a machine path (rooted, a drive, or under ~), as "path: text".</summary>
    public static IReadOnlyList<string> MachinePaths(JsonNode? results) =>
        Leaves(results).Where(l => l.Value is JsonValue v && v.TryGetValue<string>(out _)).Select(l => (l.Path, Text: l.Value!.GetValue<string>()))
            .Where(l => Path.IsPathRooted(l.Text) || (l.Text.Length > 2 && l.Text[1] == ':' && l.Text[2] is '\\' or '/') || l.Text.StartsWith('~'))
            .Select(l => $"{l.Path}: {l.Text}").ToList();

    /// <summary>
    /// Asserts that two runs report the same results: the same keys, numbers equal to
    /// <paramref name="tolerance"/>, everything else identical. Timings are ignored.
    /// </summary>
    public static void AssertSame(string expectedFolder, string actualFolder, double tolerance = 1e-6)
    {
        var expected = Leaves(Read(expectedFolder)).ToDictionary(l => l.Path, l => l.Value);
        var actual = Leaves(Read(actualFolder)).ToDictionary(l => l.Path, l => l.Value);
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        Assert.Contains("leakage.drand", expected.Keys); // a complete run, not an empty file
        int numbers = 0;
        foreach (var (path, e) in expected)
        {
            var a = actual[path];
            if (e is JsonValue ev && ev.TryGetValue<double>(out var x) && a is JsonValue av && av.TryGetValue<double>(out var y))
            {
                numbers++;
                Assert.True(Math.Abs(x - y) <= tolerance, $"{path}: {x:R} in {expectedFolder} but {y:R} in {actualFolder}");
            }
            else
                Assert.True(e?.ToJsonString() == a?.ToJsonString(), $"{path}: {e?.ToJsonString()} in {expectedFolder} but {a?.ToJsonString()} in {actualFolder}");
        }
        Assert.True(numbers > 50, $"only {numbers} numbers compared");
    }
}
