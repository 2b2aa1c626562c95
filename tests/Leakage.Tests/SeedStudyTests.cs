using System.Text.Json.Nodes;
using Leakage.Experiment;
using Leakage.Tests.Support;

namespace Leakage.Tests;

public class SeedStudyTests
{
    /// <summary>A run's results; <paramref name="transferDdet"/> is recorded only when given (a transfer step the run has not reached).</summary>
    static RunResultsRecord Results(double standard, double drand, double? transferDdet = null)
    {
        var r = new JsonObject
        {
            ["standardModel"] = new JsonObject { ["testAccuracy"] = standard },
            ["leakage"] = new JsonObject { ["drand"] = drand, ["controls"] = new JsonObject { ["cleanD"] = new JsonObject { ["accuracy"] = 0.4 } } },
        };
        if (transferDdet is double d) r["transfer"] = new JsonObject { ["ddet"] = d };
        return ResultsUpgrade.Read(r);
    }

    static readonly ExperimentSettings Quick = Profiles.Get("quick");

    [Fact]
    public void Mean_sample_standard_deviation_min_and_max_are_exact()
    {
        var study = SeedStudy.Aggregate(Quick, [(0, "seed-0", Results(0.50, 0.2)), (1, "seed-1", Results(0.60, 0.3)), (2, "seed-2", Results(0.70, 0.1))]);
        var s = study["standardModel.testAccuracy"]!;
        Assert.Equal(3, s.Count);
        Assert.Equal(0.6, s.Mean, 12);
        Assert.Equal(0.1, s.StandardDeviation, 12); // sqrt((0.01 + 0 + 0.01) / 2)
        Assert.Equal(0.5, s.Min);
        Assert.Equal(0.7, s.Max);
        Assert.Equal([0L, 1L, 2L], s.Seeds);
        var leak = study["leakage.drand"]!;
        Assert.Equal(0.2, leak.Mean, 12);
        Assert.Equal(0.1, leak.StandardDeviation, 12);
        Assert.Equal(0.0, study["leakage.controls.cleanD.accuracy"]!.StandardDeviation, 12);
    }

    [Fact]
    public void A_number_missing_from_some_runs_is_aggregated_over_the_runs_that_have_it()
    {
        var study = SeedStudy.Aggregate(Quick, [(0, "a", Results(0.5, 0.2, transferDdet: 0.05)), (1, "b", Results(0.6, 0.3))]);
        var det = study["transfer.ddet"]!;
        Assert.Equal(1, det.Count);
        Assert.Equal([0L], det.Seeds);
        Assert.True(double.IsNaN(det.StandardDeviation), "one value has no spread");
        Assert.Null(study["transfer.drand"]);
        var json = study.ToJson();
        Assert.Null(json["statistics"]!["transfer.ddet"]!["standardDeviation"]); // undefined, not zero
        Assert.Equal(0.55, (double)json["statistics"]!["standardModel.testAccuracy"]!["mean"]!, 12);
        Assert.False(json["settings"]!.AsObject().ContainsKey("seed"));
    }

    [Fact]
    public void The_leakage_controls_rows_get_a_seed_spread_under_the_keys_compare_reads()
    {
        // The two recorded cpu runs stand in for two seeds: they differ in the leakage-only rows only.
        var docs = Path.Combine(RepositoryRoot.Find(AppContext.BaseDirectory)!, "docs", "results");
        var gaussian = ResultsFile.Load(Path.Combine(docs, "cpu-2026-12-07-gaussian", "results.json"));
        var keller = ResultsFile.Load(Path.Combine(docs, "cpu", "results.json"));
        var study = SeedStudy.Aggregate(Profiles.Get("cpu"), [(0, "seed-0", gaussian), (1, "seed-1", keller)]);

        var key = "controls.drandLeakageOnly.transferAccuracy";
        var leakageOnly = study[key]!;
        double a = gaussian.Controls!.Row(ControlKind.DRandLeakageOnly)!.TransferAccuracy!.Value, b = keller.Controls!.Row(ControlKind.DRandLeakageOnly)!.TransferAccuracy!.Value;
        Assert.Equal(2, leakageOnly.Count);
        Assert.Equal(Math.Abs(a - b) / Math.Sqrt(2), leakageOnly.StandardDeviation, 12);
        Assert.Equal(0.0, study["controls.drand.probe"]!.StandardDeviation, 12);
        Assert.Equal(StepCatalog.ControlHeadlines.Count, study.Statistics.Count(s => s.Headline.Key.StartsWith("controls.", StringComparison.Ordinal)));

        // compare takes that spread as the row's noise instead of its test points.
        var c = RunComparison.Compare(gaussian, keller, study.ToJson());
        var row = c.Rows.Single(r => r.Headline.Key == key);
        Assert.Equal(leakageOnly.StandardDeviation, row.SeedSd!.Value, 12);
        Assert.Equal(row.SeedHalfWidth, row.Noise);
        Assert.Contains(key, study.ToJson()["statistics"]!.AsObject().Select(p => p.Key));
        Assert.Contains("control D_rand leak-only: trained on it, clean test accuracy", study.ToMarkdown());
    }

    [Theory]
    [InlineData("0,1,2", new long[] { 0, 1, 2 })]
    [InlineData(" 3 , 1 ", new long[] { 3, 1 })]
    [InlineData("0-3,10", new long[] { 0, 1, 2, 3, 10 })]
    public void Seed_lists_accept_numbers_and_ranges_in_order(string text, long[] expected) =>
        Assert.Equal(expected, SeedStudy.ParseSeeds(text));

    [Theory]
    [InlineData("", "No seeds")]
    [InlineData("0,x", "'x' is not a non-negative whole number")]
    [InlineData("-1", "'-1' is not a non-negative whole number")]
    [InlineData("4-2", "'4-2' is not a range")]
    [InlineData("1,2,1", "1 given more than once")]
    public void Bad_seed_lists_are_refused_saying_what_is_wrong(string text, string expected)
    {
        var e = Assert.Throws<ArgumentException>(() => SeedStudy.ParseSeeds(text));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void A_study_runs_each_seed_in_its_own_folder_with_only_the_seed_changed_and_writes_the_summary_after_each()
    {
        using var dir = new TempDir();
        var calls = new List<(long Seed, string Folder)>();
        var study = SeedStudy.Run(Quick with { Attack = Quick.Attack with { Steps = 3 } }, [4, 2], dir.Path, (s, folder) =>
        {
            calls.Add((s.Seed, folder));
            Assert.Equal(3, s.Attack.Steps);
            if (calls.Count == 2) // the first seed's summary is already on disk
                Assert.Equal([4L], JsonNode.Parse(File.ReadAllText(dir[SeedStudy.FileName]))!["seeds"]!.AsArray().Select(n => (long)n!));
            return Results(0.5 + s.Seed / 100.0, 0.2);
        });

        Assert.Equal([(4L, dir["seed-4"]), (2L, dir["seed-2"])], calls);
        Assert.Equal([4L, 2L], study.Seeds);
        Assert.Equal(0.53, study["standardModel.testAccuracy"]!.Mean, 12);
        var json = JsonNode.Parse(File.ReadAllText(dir[SeedStudy.FileName]))!;
        Assert.Equal("seed-2", (string?)json["runs"]![1]!["folder"]);
        Assert.Contains("| standard model, clean test accuracy | 53.00 | 1.41 | 52.00 | 54.00 | 2 |", File.ReadAllText(dir[SeedStudy.TableFileName]));
    }
}
