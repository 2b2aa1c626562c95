using System.Text.Json.Nodes;
using Leakage.Cli.Tests.Support;

namespace Leakage.Cli.Tests;

/// <summary>Cached artifacts are reused only when their settings and checksums match; otherwise they are recomputed and the log says why.</summary>
public class StaleArtifactTests
{
    [Fact]
    public async Task Changing_one_setting_recomputes_the_artifacts_it_affects_and_the_log_says_why()
    {
        using var dir = new TempDir();
        var run = dir["run"];
        TempDir.Copy(await TestRuns.Reference, run);
        var oldTransfer = File.ReadAllText(Path.Combine(run, "transfer_rand", "metadata.json"));

        var outcome = await CliProcess.RunAsync(TestRuns.Experiment(run, "attack.steps=4"), TestRuns.Cache);

        Assert.True(outcome.ExitCode == 0, outcome.ToString());
        var log = outcome.Stdout;
        Assert.Contains("(attack.steps: 5 -> 4); results.json starts over", log);
        Assert.Contains("Standard model: reusing", log);                 // upstream of the change
        Assert.Contains("Loaded robust linear classifier", log);          // independent of the attack
        Assert.Contains($"Regenerating the D_rand data set in {Path.Combine(run, "d_rand")}: settings differ: steps: 5 -> 4", log);
        Assert.Contains($"Regenerating the D_det data set in {Path.Combine(run, "d_det")}: settings differ: steps: 5 -> 4", log);
        Assert.Contains("Transfer model on D_rand: training (settings differ: settings.adversarial:", log); // downstream: retrained
        Assert.Contains("Transfer model on D_det: training (settings differ: settings.adversarial:", log);
        Assert.NotEqual(oldTransfer, File.ReadAllText(Path.Combine(run, "transfer_rand", "metadata.json")));
        var results = Results.Read(run);
        Assert.Equal(4, (int)results["settings"]!["attack"]!["steps"]!);
        Assert.Equal(4, (int)results["adversarial"]!["drand"]!["steps"]!);
        Assert.Equal(4, (int)JsonNode.Parse(File.ReadAllText(Path.Combine(run, "d_rand", "metadata.json")))!["settings"]!["steps"]!);
        Assert.NotNull(results["leakage"]?["drand"]);
    }

    [Fact]
    public async Task A_corrupt_or_truncated_cached_artifact_is_detected_by_its_checksum_and_recomputed_never_used()
    {
        using var dir = new TempDir();
        var run = dir["run"];
        TempDir.Copy(await TestRuns.Reference, run);
        var weights = Path.Combine(run, "standard", "model.bin");
        var bytes = File.ReadAllBytes(weights);
        bytes[bytes.Length / 2] ^= 0x40; // same size, one bit flipped inside a weight
        File.WriteAllBytes(weights, bytes);
        var images = Path.Combine(run, "d_det", "images.bin");
        using (var fs = new FileStream(images, FileMode.Open)) fs.SetLength(fs.Length / 3);
        File.WriteAllText(Path.Combine(run, "d_rand", "timing.json"), "{ \"seconds\": 1"); // torn informational file: ignored
        File.WriteAllText(Path.Combine(run, "results.json"), "{ \"profile\": \"qu"); // torn summary: rebuilt from the cached steps

        var outcome = await CliProcess.RunAsync(TestRuns.Experiment(run), TestRuns.Cache);

        Assert.True(outcome.ExitCode == 0, outcome.ToString());
        Assert.Contains($"Standard model: training (file {weights} fails its checksum (corrupt))", outcome.Stdout);
        Assert.Contains($"Regenerating the D_det data set in {Path.Combine(run, "d_det")}: file {images} has", outcome.Stdout);
        Assert.Contains("(truncated or replaced)", outcome.Stdout);
        Assert.Contains($"{Path.Combine(run, "results.json")} is damaged (", outcome.Stdout);
        Assert.Contains("it starts over (cached steps are reused)", outcome.Stdout);
        // The retrained model is bit-identical, so everything that depends on it is still valid and reused.
        Assert.Contains("Reusing the D_rand data set", outcome.Stdout);
        Results.AssertSame(await TestRuns.Reference, run);
    }
}
