using Leakage.Cli.Tests.Support;

namespace Leakage.Cli.Tests;

/// <summary>results.json as written by runs follows docs/results.schema.json, which is generated from the records.</summary>
public class ResultsSchemaTests
{
    /// <summary>Set to 1 to rewrite docs/results.schema.json from the records instead of checking it.</summary>
    public const string WriteVariable = "LEAKAGE_WRITE_SCHEMA";

    [Fact]
    public void The_committed_schema_is_the_one_generated_from_the_records()
    {
        var path = ResultsSchema.RepoFile(Leakage.Experiment.ResultsSchema.RepositoryPath);
        var generated = Leakage.Experiment.ResultsSchema.Text();
        if (Environment.GetEnvironmentVariable(WriteVariable) == "1") File.WriteAllText(path, generated);
        Assert.True(File.ReadAllText(path).ReplaceLineEndings("\n") == generated,
            $"{path} is not the schema the records generate; rerun this test with {WriteVariable}=1 to rewrite it (docs/architecture.md).");
    }

    /// <summary>Every results.json recorded under docs/.</summary>
    public static TheoryData<string> Recorded()
    {
        var docs = ResultsSchema.RepoFile("docs");
        var data = new TheoryData<string>();
        foreach (var f in Directory.EnumerateFiles(docs, "results.json", SearchOption.AllDirectories).Order()) data.Add(Path.GetRelativePath(docs, f));
        return data;
    }

    [Theory]
    [MemberData(nameof(Recorded))]
    public void Every_recorded_run_follows_the_schema(string relative)
    {
        var path = ResultsSchema.RepoFile("docs", relative);
        var errors = ResultsSchema.Errors(path);
        Assert.True(errors.Count == 0, $"{path}:\n{string.Join("\n", errors)}");
    }

    [Fact]
    public void The_choice_settings_and_profiles_are_the_schemas_enums()
    {
        var schema = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(ResultsSchema.RepoFile(Leakage.Experiment.ResultsSchema.RepositoryPath)))!;
        var settings = schema["properties"]!["settings"]!["properties"]!;
        foreach (var (key, valid) in Leakage.Experiment.Choices.Valid)
        {
            var parts = key.Split('.');
            var node = parts.Skip(1).Aggregate(settings[parts[0]]!, (n, part) => n["properties"]![part]!);
            var names = node["enum"]!.AsArray().Select(v => (string?)v).OfType<string>();
            Assert.Equal(valid, names);
        }
        Assert.Equal(Leakage.Experiment.Profiles.Names, schema["properties"]!["profile"]!["enum"]!.AsArray().Select(v => (string)v!));
    }

    [Fact]
    public async Task The_results_of_a_run_follow_the_schema()
    {
        var path = Path.Combine(await TestRuns.Reference, "results.json");
        var errors = ResultsSchema.Errors(path);
        Assert.True(errors.Count == 0, $"{path}:\n{string.Join("\n", errors)}");
    }

    [Fact]
    public void The_recorded_cpu_results_follow_the_schema()
    {
        var path = ResultsSchema.RepoFile("docs", "results", "cpu", "results.json");
        var errors = ResultsSchema.Errors(path);
        Assert.True(errors.Count == 0, $"{path}:\n{string.Join("\n", errors)}");
    }

    [Fact]
    public void The_results_of_a_run_on_imported_checkpoints_follow_the_schema()
    {
        using var dir = new TempDir();
        SyntheticData.WriteMinimalImageFolder(dir["data"], perClass: 3);
        string Fixture(string file) => ResultsSchema.RepoFile("tests", "Leakage.Tests", "Fixtures", "checkpoints", file);
        var settings = Leakage.Experiment.SettingsOverrides.Apply(Leakage.Experiment.Profiles.Get("quick"),
            ["device=cpu", "threads=1", $"standard.checkpoint={Fixture("tv_resnet18.pt")}", "attack.steps=1", "attack.chunkSize=30",
             "beyond.nonlinear=true", $"beyond.nonlinearCheckpoint={Fixture("madry_resnet50.pt")}",
             "probe.bootstrap=10", "probe.nullDraws=2", "probe.trainingResamples=0", "probe.maxIterations=30"]);
        using (var run = Leakage.Experiment.ExperimentRun.Open(settings, dir["data"], dir["run"]))
            run.NonlinearFeatures();
        var path = Path.Combine(dir["run"], "results.json");
        var errors = ResultsSchema.Errors(path);
        Assert.True(errors.Count == 0, $"{path}:\n{string.Join("\n", errors)}");
        var text = File.ReadAllText(path);
        Assert.Contains("\"checkpoint\"", text);
        // Both checkpoints were given by absolute paths: results.json names them by file name and content.
        var results = System.Text.Json.Nodes.JsonNode.Parse(text)!;
        Assert.Empty(Results.MachinePaths(results));
        Assert.Equal("data", (string?)results["data"]!["source"]); // the absolute data folder, by its name
        Assert.DoesNotContain(Path.GetDirectoryName(Fixture("tv_resnet18.pt"))!, results.ToJsonString());
        Assert.StartsWith("tv_resnet18.pt sha256:", (string?)results["settings"]!["standard"]!["checkpoint"]);
        Assert.StartsWith("madry_resnet50.pt sha256:", (string?)results["settings"]!["beyond"]!["nonlinearCheckpoint"]);
        Assert.Equal("madry_resnet50.pt", (string?)results["beyond"]!["nonlinear"]!["checkpoint"]!["path"]);
    }

    [Fact]
    public void A_results_file_with_a_misnamed_or_out_of_range_value_breaks_the_schema()
    {
        using var dir = new TempDir();
        var text = File.ReadAllText(ResultsSchema.RepoFile("docs", "results", "cpu", "results.json"));
        var node = System.Text.Json.Nodes.JsonNode.Parse(text)!;
        node["leakage"]!["drand"] = 1.5;                                   // an accuracy above 1
        node["standardModel"]!["testAcc"] = 0.5;                           // a key no step writes
        var path = dir["results.json"];
        File.WriteAllText(path, node.ToJsonString());
        var errors = ResultsSchema.Errors(path);
        Assert.Contains(errors, e => e.Contains("/leakage/drand"));
        Assert.Contains(errors, e => e.Contains("/standardModel"));
    }
}
