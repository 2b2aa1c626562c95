using Leakage.Cli.Tests.Support;

namespace Leakage.Cli.Tests;

/// <summary>Every step, the leakage probes included, is cached in the run folder and reused when nothing it depends on changed.</summary>
public class StepCacheTests
{
    [Fact]
    public async Task Running_again_reuses_every_step_including_the_leakage_probes_and_reports_the_same_results()
    {
        using var dir = new TempDir();
        var run = dir["run"];
        TempDir.Copy(await TestRuns.Reference, run);

        var outcome = await CliProcess.RunAsync(TestRuns.Experiment(run), TestRuns.Cache);

        Assert.True(outcome.ExitCode == 0, outcome.ToString());
        var log = outcome.Stdout;
        Assert.Contains("Standard model: reusing", log);
        Assert.Contains("Reusing the D_rand data set", log);
        Assert.Contains("Reusing the D_det data set", log);
        Assert.Contains("Transfer model on D_rand: reusing", log);
        Assert.Contains("Transfer model on D_det: reusing", log);
        Assert.Contains("Loaded robust linear classifier", log);
        Assert.Contains($"Leakage probes: reusing {Path.Combine(run, "leakage")}", log);
        Assert.DoesNotContain("training (", log);
        Assert.DoesNotContain("Leakage probes: fitting", log);
        Results.AssertSame(await TestRuns.Reference, run, tolerance: 0);
    }

    [Fact]
    public async Task Changing_a_probe_setting_refits_only_the_leakage_probes_and_the_log_says_why()
    {
        using var dir = new TempDir();
        var run = dir["run"];
        TempDir.Copy(await TestRuns.Reference, run);

        var outcome = await CliProcess.RunAsync(TestRuns.Experiment(run, "probe.bootstrap=60"), TestRuns.Cache);

        Assert.True(outcome.ExitCode == 0, outcome.ToString());
        var log = outcome.Stdout;
        Assert.Contains("Standard model: reusing", log);
        Assert.Contains("Transfer model on D_det: reusing", log);
        Assert.Contains("Leakage probes: fitting (settings differ: probe.bootstrap: 50 -> 60)", log);
        Assert.Equal(60, (int)Results.Read(run)["leakage"]!["intervals"]!["resamples"]!);
    }
}
