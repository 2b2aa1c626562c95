using System.Text.Json.Nodes;
using Leakage.Cli.Tests.Support;

namespace Leakage.Cli.Tests;

/// <summary>The leakage step of a complete run: what its probes train on and score, and the statistics it records.</summary>
public class LeakageResultsTests
{
    static double D(JsonNode? n) => (double)n!;

    /// <summary>
    /// The probes train on the relabelled set's targets and are scored on the clean test set's true
    /// labels. With D_det's targets (class + 1) on the clean originals the probe learns the shift and
    /// falls below chance, far below the clean-D probe; trained on the original labels instead it
    /// would score like clean D.
    /// </summary>
    [Fact]
    public async Task Probes_train_on_the_targets_and_score_the_true_test_labels()
    {
        var results = Results.Read(await TestRuns.Reference);
        var leakage = results["leakage"]!;
        double cleanD = D(leakage["controls"]!["cleanD"]!["accuracy"]);
        Assert.True(cleanD > 0.5, $"the synthetic classes should be readable from C's features (clean D {cleanD})");
        double ddetNull = D(results["leakageControls"]!["ddetClean"]!["accuracy"]);
        Assert.True(ddetNull < 0.1, $"clean images with D_det labels scored {ddetNull}: not trained on the shifted targets, or not scored on the true labels");
        Assert.True(D(leakage["ddet"]) < cleanD - 0.3, $"D_det probe {D(leakage["ddet"])} against clean D {cleanD}");
        Assert.True(D(leakage["drand"]) < cleanD - 0.2, $"D_rand probe {D(leakage["drand"])} against clean D {cleanD}");
    }

    [Fact]
    public async Task The_summary_leads_with_each_probe_against_its_null_and_the_verdict_that_results_json_gives()
    {
        var run = await TestRuns.Reference;
        var results = Results.Read(run);
        var output = TestRuns.OutputOf(run);
        var answer = output.IndexOf("Did robust features leak?", StringComparison.Ordinal);
        Assert.True(answer >= 0 && answer < output.IndexOf("All results", StringComparison.Ordinal), $"the answer comes first:\n{output}");
        var expected = Leakage.Experiment.RunAnswer.Of(Leakage.Experiment.ResultsUpgrade.Read(results));
        Assert.Equal(2, expected.Leakage.Count);
        foreach (var row in expected.Leakage)
        {
            // In the answer's table (the headline table below may wrap a label onto a line that starts with the set's name).
            var line = output[answer..output.IndexOf("All results", StringComparison.Ordinal)].Split('\n').Single(l => l.Contains($"│ {row.Set} ", StringComparison.Ordinal));
            Assert.Contains($"{row.Probe:P2}", line);
            Assert.Contains($"{row.Null:P2}", line);
            Assert.Contains(row.Verdict, line);
            Assert.Contains(row.ExcessText.Split(' ')[0], line);
        }
        Assert.Contains("Profile quick", output);
        Assert.DoesNotContain("0, r = 1", output);
    }

    [Fact]
    public async Task Each_probe_is_recorded_against_its_matched_null_with_interval_p_value_draws_and_convergence()
    {
        var results = Results.Read(await TestRuns.Reference);
        var comparisons = results["leakage"]!["comparisons"]!;
        foreach (var key in new[] { "drand", "ddet", "drandTargetNotLabel" })
        {
            var c = comparisons[key]!;
            Assert.Equal(D(c["accuracy"]) - D(c["nullAccuracy"]), D(c["excessOverNull"]), 12);
            var interval = c["excessInterval"]!.AsArray();
            Assert.True(D(interval[0]) <= D(c["excessOverNull"]) && D(c["excessOverNull"]) <= D(interval[1]), c.ToJsonString());
            Assert.InRange(D(c["pValue"]), 0.0, 1.0);
            Assert.NotNull(c["converged"]);
            Assert.Equal(10, (int)c["strata"]!); // resampled within the 10 classes
            // One variance behind interval, p-value and verdict; McNemar beside it, labelled as test points only.
            double se = D(c["excessSe"]), lo = D(interval[0]), hi = D(interval[1]), mc = D(c["intervalMonteCarloError"]);
            double excess = D(c["excessOverNull"]);
            Assert.Equal(se > 0 ? Leakage.Probes.StudentT.TwoSidedP(excess / se, D(c["excessDf"])) : excess == 0 ? 1 : 0, D(c["pValue"]), 9);
            Assert.Equal(lo > mc && lo > 0 ? "above" : hi < -mc && hi < 0 ? "below" : "undecided", (string?)c["verdict"]);
            Assert.InRange(D(c["mcnemarP"]), 0.0, 1.0);
            Assert.Contains("test points only, fits fixed", (string?)c["mcnemarCovers"]);
            var shift = c["featureShift"]!;
            Assert.True(D(shift["lower"]) <= D(shift["mean"]) && D(shift["mean"]) <= D(shift["upper"]), shift.ToJsonString());
        }
        // D_rand's targets are random: its interval covers fresh target draws; D_det's are class + 1: its interval
        // covers training images and test points, never "target draws".
        Assert.Contains("target draws", (string?)comparisons["drand"]!["intervalCovers"]);
        Assert.Contains("target draws", (string?)comparisons["drandTargetNotLabel"]!["intervalCovers"]);
        Assert.Contains("training images", (string?)comparisons["ddet"]!["intervalCovers"]);
        Assert.DoesNotContain("target draws", (string?)comparisons["ddet"]!["intervalCovers"]);
        Assert.Equal(20, comparisons["drand"]!["drawExcess"]!["values"]!.AsArray().Count);
        var adjusted = comparisons["drand"]!["drawAdjusted"]!;
        Assert.Equal(D(comparisons["drand"]!["nullDraws"]!["mean"]) + D(comparisons["drand"]!["excessOverNull"]), D(adjusted["accuracy"]), 12);
        Assert.True(D(adjusted["se"]) > 0);
        // The D_rand nulls over fresh target draws; D_det's targets are not random.
        var draws = comparisons["drand"]!["nullDraws"]!;
        Assert.Equal(20, (int)draws["k"]!);
        Assert.True(D(draws["min"]) <= D(draws["mean"]) && D(draws["mean"]) <= D(draws["max"]));
        Assert.NotNull(comparisons["drandTargetNotLabel"]!["nullDraws"]);
        Assert.Null(comparisons["ddet"]!["nullDraws"]);
        // Spec 1 for every feature and C at the attack's radius (pixel units), beside the C trained in pixel units.
        var robust = results["robustModel"]!;
        Assert.Equal(0.5, D(robust["atAttackRadius"]!["radius"]), 12);
        Assert.Equal("pixel", (string?)robust["pixelTrained"]!["radiusUnits"]);
    }

    [Fact]
    public async Task The_run_records_the_machine_and_threads_that_computed_it()
    {
        var results = Results.Read(await TestRuns.Reference);
        var provenance = results["provenance"]!;
        Assert.Equal(1, (int)provenance["threads"]!);                      // the reference run's --threads 1
        Assert.Equal("cpu", (string?)provenance["device"]);
        Assert.Matches(@"^\d+\.\d+", (string?)provenance["libtorch"]);
        Assert.False(string.IsNullOrWhiteSpace((string?)provenance["cpuModel"]));
        Assert.StartsWith("fp32", (string?)provenance["precision"]);
    }

    [Fact]
    public async Task The_fidelity_block_sets_the_run_beside_the_published_numbers()
    {
        var results = Results.Read(await TestRuns.Reference);
        var fidelity = results["fidelity"]!;
        Assert.InRange(D(fidelity["gammaPearson"]), -1.0, 1.0);
        Assert.True(D(fidelity["gammaMaxAbsDiff"]) >= 0);
        Assert.Equal(D(results["adversarial"]!["drand"]!["attackSuccess"]), D(fidelity["attackSuccess"]!["drand"]), 12);
        Assert.Equal(D(results["transfer"]!["ddet"]) - Leakage.Experiment.Published.TransferDDet.Value, D(fidelity["transferGap"]!["ddet"]), 12);
    }
}
