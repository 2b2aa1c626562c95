using Leakage.Cli.Tests.Support;
using Leakage.Experiment;

namespace Leakage.Cli.Tests;

/// <summary><c>compare</c>: the recorded runs against each other, and the exit code a script can check.</summary>
public class CompareTests
{
    static readonly string Docs = Path.Combine(RepositoryRoot.Find(AppContext.BaseDirectory)!, "docs", "results");

    [Fact]
    public async Task A_run_against_itself_is_within_noise_and_two_different_commands_are_not()
    {
        using var dir = new TempDir();
        var same = await CliProcess.RunAsync(["compare", Path.Combine(Docs, "cpu-2026-12-01"), Path.Combine(Docs, "cpu-2026-12-01", "results.json"), "--out", dir["same"]], dir.Path, TimeSpan.FromMinutes(2));
        Assert.True(same.ExitCode == 0, same.ToString());
        Assert.Contains("Same settings", same.Stdout);
        Assert.Contains("Every headline number is within noise.", same.Stdout);
        Assert.True(File.Exists(Path.Combine(dir["same"], "comparison.json")) && File.Exists(Path.Combine(dir["same"], "comparison.md")));

        // 12 against 24 epochs of the standard model: the setting is named and attack success moved beyond noise.
        var different = await CliProcess.RunAsync(["compare", Path.Combine(Docs, "cpu-2026-11-30"), Path.Combine(Docs, "cpu-2026-12-01")], dir.Path, TimeSpan.FromMinutes(2));
        Assert.True(different.ExitCode == 1, different.ToString());
        Assert.Contains("settings.standard.epochs: 12 -> 24", different.Stdout);
        Assert.Contains("| targeted PGD success, D_rand | 63.98% | 69.42% | +5.45 |", different.Stdout);
    }

    [Fact]
    public async Task A_run_that_has_not_finished_exits_1_naming_what_it_lacks()
    {
        using var dir = new TempDir();
        var partial = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(Docs, "cpu-2026-12-01", "results.json")))!.AsObject();
        foreach (var key in new[] { "transfer", "transferDetails", "robustModel", "leakage", "leakageControls", "beyond" })
            partial.Remove(key);
        File.WriteAllText(dir["partial.json"], partial.ToJsonString());
        var outcome = await CliProcess.RunAsync(["compare", Path.Combine(Docs, "cpu-2026-12-01"), dir["partial.json"]], dir.Path, TimeSpan.FromMinutes(2));
        Assert.True(outcome.ExitCode == 1, outcome.ToString());
        Assert.Contains("Not in the compared run", outcome.Stdout);
        Assert.Contains("trained on D_rand, clean test accuracy", outcome.Stdout);
        Assert.Contains("lacks", outcome.Stdout);
    }

    [Fact]
    public async Task A_missing_results_file_is_one_line_naming_it()
    {
        using var dir = new TempDir();
        var missing = dir["nowhere.json"];
        var outcome = await CliProcess.RunAsync(["compare", Path.Combine(Docs, "cpu-2026-12-01"), missing], dir.Path, TimeSpan.FromMinutes(2));
        Assert.Equal(1, outcome.ExitCode);
        var line = Assert.Single(outcome.ErrorLines);
        Assert.StartsWith("error: ", line);
        Assert.Contains(missing, line);
    }
}
