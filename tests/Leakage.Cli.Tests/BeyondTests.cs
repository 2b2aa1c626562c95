using System.Text.Json.Nodes;
using Leakage.Cli.Tests.Support;

namespace Leakage.Cli.Tests;

/// <summary>The extensions beyond Goh's comment, switched on from the command line on top of a finished run.</summary>
public class BeyondTests
{
    static string ReleasedFixture()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
        {
            var p = Path.Combine(d.FullName, "tests", "Leakage.Tests", "Fixtures", "released", "zip");
            if (Directory.Exists(p)) return p;
        }
        throw new DirectoryNotFoundException("released-data fixture not found");
    }

    static double D(JsonNode? n) => (double)n!;

    [Fact]
    public async Task The_extension_flags_add_nonlinear_features_a_radius_sweep_probe_seeds_and_released_data_to_the_results()
    {
        using var dir = new TempDir();
        var run = dir["run"];
        TempDir.Copy(await TestRuns.Reference, run);
        var args = TestRuns.Experiment(run, "beyond.nonlinearEpochs=2", "beyond.nonlinearPgdSteps=2").ToList();
        args.AddRange(["--nonlinear", "--sweep", "0.1,0.5", "--probe-seeds", "2", "--released", ReleasedFixture()]);

        var outcome = await CliProcess.RunAsync(args, TestRuns.Cache);

        Assert.True(outcome.ExitCode == 0, outcome.ToString());
        Assert.Contains("Standard model: reusing", outcome.Stdout); // the main steps are not redone
        var beyond = Results.Read(run)["beyond"]!;
        var schemaErrors = ResultsSchema.Errors(Path.Combine(run, "results.json"));
        Assert.True(schemaErrors.Count == 0, string.Join("\n", schemaErrors)); // the extensions' sections follow docs/results.schema.json

        var nl = beyond["nonlinear"]!;
        Assert.InRange(D(nl["cleanAccuracy"]), 0.0, 1.0);
        Assert.True(D(nl["robustAccuracy"]) <= D(nl["cleanAccuracy"]) + 1e-9, "PGD can only lower accuracy (keep-best attack, correct points stay)");
        var probes = nl["probes"]!.AsArray();
        Assert.Contains(probes, p => ((string?)p!["name"])!.StartsWith("D_rand, robust CNN logits"));
        Assert.Contains(probes, p => ((string?)p!["name"])!.StartsWith("clean images, D_det labels"));
        Assert.All(probes, p => Assert.InRange(D(p!["accuracy"]), D(p["lo"]) - 1e-12, D(p["hi"]) + 1e-12));

        var sweep = beyond["radiusSweep"]!.AsArray();
        Assert.Equal([0.1, 0.5], sweep.Select(p => D(p!["radius"])));
        Assert.All(sweep, p => Assert.Equal(10, p!["gamma"]!.AsArray().Count));
        // A larger training radius costs clean accuracy and leaves fewer points certified at their own radius.
        Assert.True(D(sweep[1]!["spec2"]) <= D(sweep[0]!["spec2"]), "Spec 2 at radius 0.5 exceeds Spec 2 at 0.1");

        var seeds = beyond["probeSeeds"]!;
        var values = seeds["drand"]!["values"]!.AsArray().Select(D).ToList();
        Assert.Equal(2, values.Count);
        Assert.InRange(D(seeds["drand"]!["mean"]), values.Min(), values.Max());

        // One entry per released set, named by its kind, as the record reads it.
        var released = Leakage.Experiment.ResultsFile.Load(Path.Combine(run, "results.json")).Beyond!.Released!.ToDictionary(s => s.Set, s => s.Probe);
        Assert.True(released.ContainsKey("DRand") && released.ContainsKey("DDet"), beyond["released"]!.ToJsonString());
        Assert.Equal(7, released["DRand"].NTrain); // the fixture's sizes (see Fixtures/released/README.md)
        Assert.Equal(3, released["DDet"].NTrain);

        // --released took an absolute folder; results.json names it by its name and content, never by a machine path.
        var all = Results.Read(run);
        Assert.Empty(Results.MachinePaths(all));
        Assert.DoesNotContain(Path.GetDirectoryName(ReleasedFixture())!, all.ToJsonString());
        Assert.Matches("^zip sha256:[0-9a-f]{64}$", (string?)all["settings"]!["beyond"]!["releasedData"]);
        Assert.All(probes, p => Assert.True(p!["view"] is not null && p["set"] is not null, $"{p["name"]}: written without its kind"));
    }
}
