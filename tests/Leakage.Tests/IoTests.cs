using System.Text.Json.Nodes;
using Leakage.IO;
using Leakage.Tests.Support;
using static TorchSharp.torch;

namespace Leakage.Tests;

public class IoTests
{
    sealed record Settings(double Eps, int Steps, string Kind);

    [Theory]
    [InlineData("{ not json", "is not valid JSON (")]
    [InlineData("[1, 2]", "is not a JSON object")]
    [InlineData("null", "is not a JSON object")]
    public void A_json_file_that_is_not_an_object_fails_with_one_line_naming_it_and_the_advice(string text, string expected)
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["f.json"], text);
        var message = Assert.Throws<InvalidDataException>(() => JsonFile.ReadObject(dir["f.json"], "delete it to start over")).Message;
        Assert.StartsWith(dir["f.json"] + " " + expected, message);
        Assert.EndsWith("; delete it to start over.", message);
        Assert.DoesNotContain('\n', message);
        Assert.Throws<FileNotFoundException>(() => JsonFile.ReadObject(dir["missing.json"]));
        File.WriteAllText(dir["meta.json"], """{ "kind": "demo" }""");
        Assert.Equal($"{dir["meta.json"]} has no settings object.", Assert.Throws<InvalidDataException>(() => JsonFile.StoredSettings(dir["meta.json"])).Message);
    }

    [Fact]
    public void A_results_json_that_is_not_an_object_is_refused_and_kept_rather_than_started_over()
    {
        using var dir = new TempDir();
        var results = new Leakage.Experiment.ResultsFile(dir.Path);
        File.WriteAllText(results.Path, "[\"someone's notes\"]");
        var message = Assert.Throws<InvalidDataException>(() => results.Set("standard.accuracy", 0.84)).Message;
        Assert.StartsWith(results.Path + " is not a JSON object", message);
        Assert.Equal("[\"someone's notes\"]", File.ReadAllText(results.Path));
    }

    [Fact]
    public void An_artifact_with_matching_settings_and_intact_files_validates()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["a.txt"], "hello");
        Artifacts.Commit(dir.Path, "demo", new Settings(0.5, 10, "rand"), ["a.txt"]);
        Assert.True(Artifacts.TryValidate(dir.Path, "demo", new Settings(0.5, 10, "rand"), out var reason), reason);
    }

    [Fact]
    public void An_artifact_made_with_other_settings_is_not_reused_and_the_reason_names_the_setting()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["a.txt"], "hello");
        Artifacts.Commit(dir.Path, "demo", new Settings(0.5, 10, "rand"), ["a.txt"]);
        Assert.False(Artifacts.TryValidate(dir.Path, "demo", new Settings(0.5, 20, "rand"), out var reason));
        Assert.Contains("steps: 10 -> 20", reason);
        Assert.False(Artifacts.TryValidate(dir.Path, "other", new Settings(0.5, 10, "rand"), out reason));
        Assert.Contains("kind", reason);
    }

    [Fact]
    public void A_corrupt_or_truncated_artifact_file_fails_validation()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["a.txt"], "hello world");
        Artifacts.Commit(dir.Path, "demo", new Settings(1, 1, "x"), ["a.txt"]);
        File.WriteAllText(dir["a.txt"], "hellO world");
        Assert.False(Artifacts.TryValidate(dir.Path, "demo", new Settings(1, 1, "x"), out var reason));
        Assert.Contains("checksum", reason);
        File.WriteAllText(dir["a.txt"], "hello");
        Assert.False(Artifacts.TryValidate(dir.Path, "demo", new Settings(1, 1, "x"), out reason));
        Assert.Contains("truncated", reason);
        File.Delete(dir["a.txt"]);
        Assert.False(Artifacts.TryValidate(dir.Path, "demo", new Settings(1, 1, "x"), out reason));
        Assert.Contains("missing", reason);
    }

    [Fact]
    public void An_artifact_without_metadata_is_incomplete()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["a.txt"], "hello");
        Assert.False(Artifacts.TryValidate(dir.Path, "demo", new Settings(1, 1, "x"), out var reason));
        Assert.Contains("metadata.json", reason);
        File.WriteAllText(dir[Artifacts.MetadataFile], "{ not json");
        Assert.False(Artifacts.TryValidate(dir.Path, "demo", new Settings(1, 1, "x"), out reason));
        Assert.Contains("not valid JSON", reason);
    }

    [Fact]
    public void Settings_differences_are_reported_by_path()
    {
        var a = JsonNode.Parse("""{"x":{"y":[1,2,3]},"z":"a"}""");
        var b = JsonNode.Parse("""{"x":{"y":[1,5,3]},"z":"a"}""");
        Assert.Equal("x.y[1]: 2 -> 5", Artifacts.Diff(a, b, ""));
        Assert.Null(Artifacts.Diff(a, a!.DeepClone(), ""));
    }

    [Fact]
    public void An_atomic_write_that_fails_leaves_the_old_file_and_no_temporary_files()
    {
        using var dir = new TempDir();
        var path = dir["results.json"];
        AtomicFile.WriteAllText(path, "old");
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, s =>
        {
            s.Write("new partial"u8);
            throw new InvalidOperationException("crash mid-write");
        }));
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void Tensors_round_trip_through_files_and_a_truncated_file_is_refused()
    {
        using var dir = new TempDir();
        using var t = arange(24, dtype: ScalarType.Float32).reshape(2, 3, 4);
        TensorFile.Save(dir["t.bin"], t);
        using (var back = TensorFile.Load(dir["t.bin"]))
            Assert.True(back.eq(t).all().item<bool>());
        var bytes = File.ReadAllBytes(dir["t.bin"]);
        File.WriteAllBytes(dir["t.bin"], bytes[..^7]);
        var e = Assert.Throws<InvalidDataException>(() => TensorFile.Load(dir["t.bin"]));
        Assert.Contains(dir["t.bin"], e.Message);
    }
}
