using System.Text.Json.Nodes;
using Leakage.Cli.Tests.Support;

namespace Leakage.Cli.Tests;

public class DeterminismTests
{
    [Fact]
    public async Task Two_processes_with_the_same_seed_and_settings_write_the_same_results()
    {
        var runs = await Task.WhenAll(TestRuns.Reference, TestRuns.ReferenceAgain);
        Results.AssertSame(runs[0], runs[1], tolerance: 1e-6);
    }

    [Fact]
    public async Task The_seeds_command_runs_each_seed_in_its_own_folder_reusing_what_is_there_and_reports_mean_spread_and_range()
    {
        using var dir = new TempDir();
        var study = dir["study"];
        TempDir.Copy(await TestRuns.Reference, Path.Combine(study, "seed-0")); // seed 0 is already done

        var outcome = await CliProcess.RunAsync(TestRuns.Seeds(study, "0,1"), TestRuns.Cache);

        Assert.True(outcome.ExitCode == 0, outcome.ToString());
        Assert.Contains("Standard model: reusing " + Path.Combine(study, "seed-0", "standard"), outcome.Stdout);
        Assert.Contains("Standard model: training", outcome.Stdout); // seed 1
        Results.AssertSame(await TestRuns.Reference, Path.Combine(study, "seed-0"));

        var seeds = JsonNode.Parse(File.ReadAllText(Path.Combine(study, "seeds.json")))!;
        Assert.Equal([0L, 1L], seeds["seeds"]!.AsArray().Select(s => (long)s!));
        var r0 = Results.Read(Path.Combine(study, "seed-0"));
        var r1 = Results.Read(Path.Combine(study, "seed-1"));
        Assert.Equal(1L, (long)r1["settings"]!["seed"]!);
        foreach (var key in new[] { "standardModel.testAccuracy", "transfer.drand", "transfer.ddet", "robustModel.spec2",
                                    "leakage.drand", "leakage.ddet", "leakage.controls.cleanD.accuracy", "leakage.controls.drandRandomFeatures.accuracy" })
        {
            double a = At(r0, key), b = At(r1, key);
            var s = seeds["statistics"]![key] ?? throw new Xunit.Sdk.XunitException($"seeds.json has no statistics for {key}");
            Assert.Equal(2, (int)s["count"]!);
            Assert.Equal((a + b) / 2, (double)s["mean"]!, 12);
            Assert.Equal(Math.Abs(a - b) / Math.Sqrt(2), (double)s["standardDeviation"]!, 12); // sample sd of two values
            Assert.Equal(Math.Min(a, b), (double)s["min"]!, 12);
            Assert.Equal(Math.Max(a, b), (double)s["max"]!, 12);
        }
        var table = File.ReadAllText(Path.Combine(study, "seeds.md"));
        Assert.Contains("| measure | mean | std. dev. | min | max | n |", table);
        Assert.Contains("leakage probe on D_rand", table);
        Assert.Contains("std. dev.", outcome.Stdout);
    }

    static double At(JsonObject results, string key)
    {
        JsonNode? n = results;
        foreach (var part in key.Split('.')) n = n?[part];
        return (double)n!;
    }
}
