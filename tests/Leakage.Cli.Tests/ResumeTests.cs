using Leakage.Cli.Tests.Support;

namespace Leakage.Cli.Tests;

/// <summary>
/// A real run is killed (SIGKILL to its process tree) in the middle of a long step, the same command
/// is run again, and the final results.json must equal that of an uninterrupted run.
/// </summary>
public class ResumeTests
{
    [Fact]
    public async Task A_run_killed_during_model_training_resumes_from_its_last_epoch_checkpoint_and_ends_with_the_uninterrupted_results()
    {
        using var dir = new TempDir();
        var run = dir["run"];
        var args = TestRuns.Experiment(run);
        var checkpoints = Path.Combine(run, "checkpoints", "standard");
        await TestRuns.KillWhen(args, () => TestRuns.Committed(checkpoints, "epoch-*"), "an epoch checkpoint of the standard model");
        Assert.False(File.Exists(Path.Combine(run, "standard", "metadata.json")), "training had already finished when the run was killed");

        var second = await CliProcess.RunAsync(args, TestRuns.Cache);

        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Contains("Resuming training from " + checkpoints, second.Stdout);
        Results.AssertSame(await TestRuns.Reference, run);
        Assert.Empty(Directory.GetFiles(run, "*.tmp", SearchOption.AllDirectories));
        Assert.False(Directory.Exists(checkpoints), "checkpoints of a finished training are removed");
    }

    [Fact]
    public async Task A_run_killed_during_d_rand_generation_resumes_after_the_last_complete_chunk_and_ends_with_the_uninterrupted_results()
    {
        using var dir = new TempDir();
        var run = dir["run"];
        var args = TestRuns.Experiment(run);
        var chunks = Path.Combine(run, "d_rand", "chunks");
        await TestRuns.KillWhen(args, () => TestRuns.Committed(chunks, "chunk-*"), "a complete D_rand chunk");
        Assert.False(File.Exists(Path.Combine(run, "d_rand", "metadata.json")), "D_rand was already complete when the run was killed");

        var second = await CliProcess.RunAsync(args, TestRuns.Cache);

        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Contains("Standard model: reusing", second.Stdout);
        Assert.Matches(@"Resuming the D_rand data set in \S+: [1-9]\d* of 10 chunks were already complete", second.Stdout);
        Results.AssertSame(await TestRuns.Reference, run);
        Assert.Empty(Directory.GetFiles(run, "*.tmp", SearchOption.AllDirectories));
    }
}
