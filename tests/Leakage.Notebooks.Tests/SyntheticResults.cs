using System.Text.Json.Nodes;
using Leakage.Experiment;
using Leakage.Robust;
using static TorchSharp.torch;

namespace Leakage.Notebooks.Tests;

/// <summary>A run folder's results.json and robust_linear/ artifact with made-up values, for report tests that need no experiment.</summary>
static class SyntheticResults
{
    /// <summary>Writes <c>results.json</c> and <c>robust_linear/</c> into <paramref name="runDirectory"/>; returns the results path.</summary>
    public static string Write(string runDirectory)
    {
        Directory.CreateDirectory(runDirectory);
        using (var g = new Generator(4, CPU))
        using (var w = randn([10, 3072], generator: g).mul(0.01))
        using (var b = zeros(10))
        using (var c = LinearClassifier.FromWeights(w, b))
            c.Save(Path.Combine(runDirectory, "robust_linear"), new { synthetic = true });
        var results = new JsonObject
        {
            ["profile"] = "quick",
            ["standardModel"] = new JsonObject { ["testAccuracy"] = 0.8123 },
            ["transfer"] = new JsonObject { ["drand"] = 0.4567, ["ddet"] = 0.2345 },
            ["robustModel"] = new JsonObject
            {
                ["spec2"] = 0.85,
                ["radiusUnits"] = "normalised",
                ["gamma"] = new JsonArray(Enumerable.Range(0, 10).Select(i => (JsonNode)(0.1 + 0.01 * i)).ToArray()),
                ["otherUnits"] = new JsonObject
                {
                    ["spec2"] = 0.95,
                    ["radiusUnits"] = "pixel",
                    ["gamma"] = new JsonArray(Enumerable.Range(0, 10).Select(i => (JsonNode)(0.2 + 0.01 * i)).ToArray()),
                },
            },
            ["leakage"] = new JsonObject
            {
                ["drand"] = 0.2222, ["ddet"] = 0.0777,
                ["intervals"] = new JsonObject { ["drand"] = new JsonArray(0.2011, 0.2433), ["ddet"] = new JsonArray(0.0655, 0.0899), ["level"] = 0.95 },
            },
            ["leakageControls"] = new JsonObject
            {
                ["drandClean"] = new JsonObject { ["accuracy"] = 0.3111, ["lo"] = 0.2900, ["hi"] = 0.3300 },
                ["ddetClean"] = new JsonObject { ["accuracy"] = 0.0500, ["lo"] = 0.0400, ["hi"] = 0.0600 },
            },
        };
        var path = Path.Combine(runDirectory, ResultsFile.FileName);
        File.WriteAllText(path, results.ToJsonString());
        return path;
    }

    /// <summary>A <c>leakage.comparisons.*</c> entry as the leakage step writes it (<see cref="ComparisonResult"/>).</summary>
    public static JsonNode Comparison(string name, double probe, double @null, double lo, double hi) =>
        ResultsJson.Node(new ComparisonResult(name, probe, name + " (clean originals)", @null, probe - @null, [lo, hi],
            "training images with their target draws (resampled within each class) and test points", 0.01, "McNemar exact, two-sided, on per-point correctness",
            new Discordant(40, 10), [lo, hi], lo > 0, true, 20, true, 20));
}
