using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Leakage.Cli.Tests.Support;
using Leakage.IO;
using Leakage.Models;
using Leakage.Training;

namespace Leakage.Cli.Tests;

public class DivergenceTests
{
    [Fact]
    public async Task An_exploding_loss_stops_the_run_with_one_line_naming_the_step_and_the_setting_and_keeps_the_last_good_checkpoint()
    {
        using var dir = new TempDir();
        var run = dir["run"];
        // The learning rate warms up linearly over the first 24 of 120 epochs to 40: epoch 1 stays
        // below 1.7 (safe), and on this data the loss explodes well before the peak (near 14, epoch 9).
        var outcome = await CliProcess.RunAsync(TestRuns.Experiment(run, "standard.epochs=120", "standard.lr=40"), TestRuns.Cache);

        Assert.True(outcome.ExitCode == 1, outcome.ToString());
        var line = Assert.Single(outcome.ErrorLines);
        var m = Regex.Match(line,
            @"^error: Standard model: training diverged at epoch (\d+), step \d+/\d+: the loss .+ \(learning rate .+\)\. " +
            @"Lower the setting 'standard\.lr' \(now 40\), e\.g\. --set standard\.lr=4\. The last good checkpoint is kept in (\S+)\.$");
        Assert.True(m.Success, line);
        int failedEpoch = int.Parse(m.Groups[1].Value);
        var checkpoint = m.Groups[2].Value;
        Assert.Equal(Path.Combine(run, "checkpoints", "standard", $"epoch-{failedEpoch - 1:D4}"), checkpoint);
        Assert.False(File.Exists(Path.Combine(run, "standard", "metadata.json")), "no model is stored from a diverged training");

        // The checkpoint is intact (its checksums verify) and holds finite weights of the model.
        var meta = JsonNode.Parse(File.ReadAllText(Path.Combine(checkpoint, Artifacts.MetadataFile)))!;
        Assert.True(Artifacts.TryValidate(checkpoint, Trainer.CheckpointKind, meta["settings"]!, out var reason), reason);
        Assert.Equal(failedEpoch - 1, (int)meta["extra"]!["epoch"]!);
        using var model = ModelFactory.Create("small-cnn", seed: 0, width: 8);
        model.load(Path.Combine(checkpoint, "model.bin"), strict: true);
        Assert.All(model.parameters(), p => Assert.True(p.isfinite().all().item<bool>()));
    }
}
