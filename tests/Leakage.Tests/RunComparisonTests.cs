using System.Text.Json.Nodes;
using Leakage.Experiment;

namespace Leakage.Tests;

public class RunComparisonTests
{
    static RunResultsRecord Results(double standard, double drand, double success, int epochs = 24, double standardSeconds = 800) => ResultsUpgrade.Read(Node(standard, drand, success, epochs, standardSeconds));

    static JsonObject Node(double standard, double drand, double success, int epochs = 24, double standardSeconds = 800) => new()
    {
        ["settings"] = new JsonObject { ["profile"] = "cpu", ["standard"] = new JsonObject { ["epochs"] = epochs } },
        ["data"] = new JsonObject { ["train"] = 50000, ["test"] = 10000 },
        ["seconds"] = new JsonObject { ["standardModel"] = standardSeconds },
        ["standardModel"] = new JsonObject { ["testAccuracy"] = standard },
        ["adversarial"] = new JsonObject { ["drand"] = new JsonObject { ["images"] = 50000, ["attackSuccess"] = success } },
        ["transfer"] = new JsonObject { ["drand"] = drand },
    };

    [Fact]
    public void A_rerun_is_within_noise_when_each_difference_is_inside_the_binomial_interval_of_its_points()
    {
        var c = RunComparison.Compare(Results(0.844, 0.135, 0.694), Results(0.840, 0.142, 0.690, standardSeconds: 400));

        Assert.Empty(c.SettingsDifferences);
        var standard = c.Rows.Single(r => r.Headline.Key == "standardModel.testAccuracy");
        Assert.Equal(10000, standard.Points);
        // 1.96 sqrt((0.844 * 0.156 + 0.840 * 0.160) / 10,000) = 1.01 points.
        Assert.Equal(0.0101, standard.PointsHalfWidth, 4);
        Assert.True(standard.WithinNoise);
        // Attack success is a fraction of the 50,000 attacked images, so its yardstick is narrower.
        var success = c.Rows.Single(r => r.Headline.Key == "adversarial.drand.attackSuccess");
        Assert.Equal(50000, success.Points);
        Assert.True(success.PointsHalfWidth < standard.PointsHalfWidth);
        // Transfer moved by 0.7 points, inside its 0.96-point interval; only numbers both runs report are rows.
        Assert.True(c.AllWithinNoise);
        Assert.DoesNotContain(c.Rows, r => r.Headline.Key.StartsWith("leakage", StringComparison.Ordinal));
        var (step, a, b) = Assert.Single(c.Seconds);
        Assert.Equal(("standardModel", 800.0, 400.0), (step.Key, a, b));
    }

    [Fact]
    public void A_difference_beyond_the_noise_and_a_different_setting_are_reported()
    {
        var c = RunComparison.Compare(Results(0.844, 0.135, 0.694), Results(0.821, 0.160, 0.640, epochs: 12));

        Assert.Equal(["settings.standard.epochs: 24 -> 12"], c.SettingsDifferences);
        Assert.False(c.AllWithinNoise);
        Assert.False(c.Rows.Single(r => r.Headline.Key == "transfer.drand").WithinNoise);
        var markdown = c.ToMarkdown();
        Assert.Contains("Settings differ (1): settings.standard.epochs: 24 -> 12", markdown);
        Assert.Contains("| trained on D_rand, clean test accuracy | 13.50% | 16.00% | +2.50 | 0.98 (10,000 points) | **no** |", markdown);
        Assert.False(c.ToJson()["allWithinNoise"]!.GetValue<bool>());
    }

    [Fact]
    public void A_seed_study_replaces_the_points_yardstick_with_the_spread_of_whole_runs()
    {
        var seeds = new JsonObject { ["statistics"] = new JsonObject { ["transfer.drand"] = new JsonObject { ["standardDeviation"] = 0.012 } } };
        var c = RunComparison.Compare(Results(0.844, 0.135, 0.694), Results(0.844, 0.160, 0.694), seeds);

        var transfer = c.Rows.Single(r => r.Headline.Key == "transfer.drand");
        // 1.96 sqrt(2) 1.2 points = 3.3 points: 2.5 points apart is within the spread of two runs.
        Assert.Equal(0.0333, transfer.SeedHalfWidth!.Value, 4);
        Assert.True(transfer.WithinNoise);
        Assert.False(transfer.Difference <= transfer.PointsHalfWidth, "the points alone would call it a difference");
        Assert.Null(c.Rows.Single(r => r.Headline.Key == "standardModel.testAccuracy").SeedSd);
    }

    static JsonObject WithControls(JsonObject run, double leakageOnly, string pattern)
    {
        static JsonObject Row(string kind, string set, bool attacked, double transfer) => new()
        {
            ["kind"] = kind, ["set"] = set, ["rule"] = "random", ["attacked"] = attacked, ["images"] = 10000,
            ["attackSuccess"] = attacked ? 0.96 : 0.10, ["transferAccuracy"] = transfer, ["transferTrainAccuracy"] = 1.0,
        };
        run["controls"] = new JsonObject
        {
            ["trainImages"] = 10000, ["trainSplit"] = 50000, ["testImages"] = 10000, ["patternNorm"] = 0.5, ["pattern"] = pattern,
            ["rows"] = new JsonArray(Row("drand", "D_rand", true, 0.227), Row("drandLeakageOnly", "leakage-only D_rand rule", false, leakageOnly)),
        };
        return run;
    }

    [Fact]
    public void The_controls_rows_both_runs_have_are_compared_by_kind_on_the_test_images()
    {
        var gaussian = ResultsUpgrade.Read(WithControls(Node(0.892, 0.38, 0.96), 0.098, "gaussian"));
        var keller = ResultsUpgrade.Read(WithControls(Node(0.892, 0.38, 0.96), 0.585, "tiled"));
        var c = RunComparison.Compare(gaussian, keller);

        var attacked = c.Rows.Single(r => r.Headline.Key == "controls.drand.transferAccuracy");
        Assert.Equal((0.227, 0.227, 10000), (attacked.Reference, attacked.Other, attacked.Points));
        Assert.True(attacked.WithinNoise);
        var leakageOnly = c.Rows.Single(r => r.Headline.Key == "controls.drandLeakageOnly.transferAccuracy");
        Assert.Equal(0.487, leakageOnly.Difference, 6);
        Assert.False(leakageOnly.WithinNoise);
        Assert.Contains("| control D_rand leak-only: trained on it, clean test accuracy | 9.80% | 58.50% | +48.70 |", c.ToMarkdown());
        // Rows without a probe, and kinds neither run has, are not compared; a run without controls has no control rows.
        Assert.DoesNotContain(c.Rows, r => r.Headline.Key.EndsWith(".probe", StringComparison.Ordinal) || r.Headline.Key.StartsWith("controls.ddet", StringComparison.Ordinal));
        Assert.DoesNotContain(RunComparison.Compare(gaussian, Results(0.892, 0.38, 0.96)).Rows, r => r.Headline.Key.StartsWith("controls.", StringComparison.Ordinal));
        Assert.Equal(2 * Enum.GetValues<ControlKind>().Length, StepCatalog.ControlHeadlines.Select(h => h.Key).Distinct().Count());
    }

    [Fact]
    public void An_unfinished_compared_run_is_incomplete_and_names_what_it_lacks_while_controls_left_off_are_only_named()
    {
        // A rerun stopped before its transfer step: what it has agrees, but it is not an agreement.
        var unfinished = Node(0.844, 0.135, 0.694);
        unfinished.Remove("transfer");
        var c = RunComparison.Compare(Results(0.844, 0.135, 0.694), ResultsUpgrade.Read(unfinished));
        Assert.True(c.AllWithinNoise);
        Assert.Equal(["transfer.drand"], c.Missing.Select(h => h.Key));
        Assert.False(c.Complete);
        Assert.False(c.Agrees);
        Assert.Contains("**Not in the compared run (1; its steps have not finished, or failed):** trained on D_rand, clean test accuracy.", c.ToMarkdown());
        Assert.Equal(["transfer.drand"], c.ToJson()["missing"]!.AsArray().Select(k => k!.GetValue<string>()));

        // The reference ran the leakage controls and the rerun did not ask for them: named, not held against it.
        var withControls = WithControls(Node(0.892, 0.38, 0.96), 0.585, "tiled");
        withControls["settings"]!["controls"] = new JsonObject { ["enabled"] = true };
        var plain = RunComparison.Compare(ResultsUpgrade.Read(withControls), Results(0.892, 0.38, 0.96));
        Assert.Empty(plain.Missing);
        Assert.True(plain.Agrees);
        Assert.Equal(["controls.drand.transferAccuracy", "controls.drandLeakageOnly.transferAccuracy"], plain.NotRun.Select(h => h.Key).Order());
        Assert.Contains("Not compared (2; steps the compared run's settings leave off)", plain.ToMarkdown());

        // A rerun that asked for the controls and has not reached them is missing them.
        var asked = Node(0.892, 0.38, 0.96);
        asked["settings"]!["controls"] = new JsonObject { ["enabled"] = true };
        var pending = RunComparison.Compare(ResultsUpgrade.Read(withControls), ResultsUpgrade.Read(asked));
        Assert.Equal(2, pending.Missing.Count);
        Assert.False(pending.Agrees);
    }

    [Fact]
    public void A_results_file_without_its_point_counts_is_refused_naming_the_missing_key()
    {
        var broken = Node(0.844, 0.135, 0.694);
        broken["data"]!.AsObject().Remove("test");
        var e = Assert.Throws<ArgumentException>(() => RunComparison.Compare(ResultsUpgrade.Read(broken), Results(0.844, 0.135, 0.694)));
        Assert.Contains("data.test", e.Message);
    }

    [Fact]
    public void The_recorded_runs_compare_and_name_the_one_setting_that_differs()
    {
        var docs = Path.Combine(RepositoryRoot.Find(AppContext.BaseDirectory)!, "docs", "results");
        var c = RunComparison.Compare(Path.Combine(docs, "cpu-2026-11-30", "results.json"), Path.Combine(docs, "cpu-2026-12-01", "results.json"));

        Assert.Contains(c.SettingsDifferences, d => d.StartsWith("settings.standard.epochs: 12 -> 24", StringComparison.Ordinal));
        Assert.All(new[] { "standardModel.testAccuracy", "adversarial.drand.attackSuccess", "transfer.drand", "leakage.drand", "robustModel.spec2" },
            key => Assert.Contains(c.Rows, r => r.Headline.Key == key));
        Assert.All(c.Rows, r => Assert.InRange(r.Reference, 0, 1));
        // 24 epochs of the standard model raised attack success by 5.4 points on 50,000 images: far beyond the points' noise.
        var success = c.Rows.Single(r => r.Headline.Key == "adversarial.drand.attackSuccess");
        Assert.Equal(0.054, success.Difference, 3);
        Assert.False(success.WithinNoise);
    }

    [Fact]
    public void The_recorded_Keller_controls_change_only_the_leakage_only_rows_of_the_Gaussian_record()
    {
        var docs = Path.Combine(RepositoryRoot.Find(AppContext.BaseDirectory)!, "docs", "results");
        var c = RunComparison.Compare(Path.Combine(docs, "cpu-2026-12-07-gaussian", "results.json"), Path.Combine(docs, "cpu", "results.json"));

        Assert.Equal(["settings.controls.leakageOnly: absent -> \"keller\""], c.SettingsDifferences);
        static bool LeakageOnly(HeadlineDifference r) => r.Headline.Key.Contains("LeakageOnly.", StringComparison.Ordinal);
        // Every control row, with its transfer and its probe, and every headline of the main steps.
        Assert.Equal(StepCatalog.ControlHeadlines.Count, c.Rows.Count(r => r.Headline.Key.StartsWith("controls.", StringComparison.Ordinal)));
        Assert.All(c.Rows.Where(r => !LeakageOnly(r)), r => Assert.Equal(r.Reference, r.Other));
        // Leaving the images the model already classifies as their target clean: D_rand's leakage-only set from chance to above D_rand.
        var drand = c.Rows.Single(r => r.Headline.Key == "controls.drandLeakageOnly.transferAccuracy");
        Assert.InRange(drand.Reference, 0.08, 0.12);
        Assert.True(drand.Other > c.Rows.Single(r => r.Headline.Key == "controls.drand.transferAccuracy").Other);
        Assert.False(drand.WithinNoise);
    }

    [Theory]
    [InlineData("cpu-rerun-2026-12-01")] // another machine (Zen 3 against run A's Zen 4), beside other jobs
    [InlineData("cpu-quiet-2026-12-01")] // an idle machine, with the vectorised probe objective
    public void The_recorded_reruns_of_run_A_reproduce_every_headline_exactly(string rerun)
    {
        var docs = Path.Combine(RepositoryRoot.Find(AppContext.BaseDirectory)!, "docs", "results");
        var c = RunComparison.Compare(Path.Combine(docs, "cpu-2026-12-01", "results.json"), Path.Combine(docs, rerun, "results.json"));

        Assert.Empty(c.SettingsDifferences);
        Assert.NotEmpty(c.Rows);
        Assert.All(c.Rows, r => Assert.Equal(r.Reference, r.Other)); // README: "to the last digit", not only within noise
    }

    [Fact]
    public void The_recorded_epoch_levers_cost_attack_success_and_leave_transfer_and_leakage_within_noise()
    {
        var docs = Path.Combine(RepositoryRoot.Find(AppContext.BaseDirectory)!, "docs", "results");
        var c = RunComparison.Compare(Path.Combine(docs, "cpu-2026-12-01", "results.json"), Path.Combine(docs, "cpu-levers-2026-12-01", "results.json"));

        Assert.Equal(2, c.SettingsDifferences.Count);
        HeadlineDifference Row(string key) => c.Rows.Single(r => r.Headline.Key == key);
        foreach (var key in new[] { "adversarial.drand.attackSuccess", "adversarial.ddet.attackSuccess" })
        {
            Assert.False(Row(key).WithinNoise);
            Assert.InRange(Row(key).Difference, -0.06, -0.03);
        }
        foreach (var key in new[] { "transfer.drand", "transfer.ddet", "leakage.drand", "leakage.ddet" })
            Assert.True(Row(key).WithinNoise, key);
    }
}

public class RunComparisonSeedStudyTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("leakage-compare-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    static JsonObject Run(double drand, string profile = "cpu") => new()
    {
        ["settings"] = new JsonObject { ["profile"] = profile },
        ["data"] = new JsonObject { ["train"] = 50000, ["test"] = 10000 },
        ["transfer"] = new JsonObject { ["drand"] = drand },
    };

    string Write(string folder, string name, JsonObject content)
    {
        var path = Path.Combine(dir, folder, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content.ToJsonString());
        return path;
    }

    static JsonObject Study(string profile, double sd) => new()
    {
        ["profile"] = profile,
        ["statistics"] = new JsonObject { ["transfer.drand"] = new JsonObject { ["standardDeviation"] = sd } },
    };

    [Fact]
    public void A_seed_study_beside_the_recorded_run_is_the_noise_by_default()
    {
        var reference = Write("cpu", "results.json", Run(0.380));
        var other = Write("rerun", "results.json", Run(0.405));
        // Without a study, 2.5 points on 10,000 test images is beyond the points' 1.35-point noise.
        var alone = RunComparison.Compare(reference, other);
        Assert.Null(alone.SeedStudy);
        Assert.False(alone.AllWithinNoise);
        Assert.Contains("Noise: the test points alone", alone.ToMarkdown());

        Write("cpu", RunComparison.SeedStudyFileName, Study("cpu", 0.012));
        var withStudy = RunComparison.Compare(reference, other);
        Assert.Equal("cpu/seeds.json", withStudy.SeedStudy);
        Assert.Equal(0.012, withStudy.Rows.Single().SeedSd);
        Assert.True(withStudy.AllWithinNoise); // 1.96 sqrt(2) 1.2 = 3.3 points
        Assert.Equal("cpu/seeds.json", withStudy.ToJson()["seedStudy"]!.GetValue<string>());
    }

    [Fact]
    public void A_seed_study_of_another_profile_is_refused_naming_both()
    {
        var reference = Write("cpu", "results.json", Run(0.380));
        var other = Write("rerun", "results.json", Run(0.385));
        var study = Write("quick", RunComparison.SeedStudyFileName, Study("quick", 0.05));
        var e = Assert.Throws<ArgumentException>(() => RunComparison.Compare(reference, other, study));
        Assert.Contains("'quick'", e.Message);
        Assert.Contains("'cpu'", e.Message);
    }
}
