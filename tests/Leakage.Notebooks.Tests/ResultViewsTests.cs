using System.Globalization;
using System.Text.Json.Nodes;
using Leakage.Experiment;
using Leakage.Interactive;
using Leakage.Probes;

namespace Leakage.Notebooks.Tests;

/// <summary>
/// The typed views the notebooks read a run's results through, on recorded runs kept in git
/// (docs/results): the values they show are the values in the file.
/// </summary>
public class ResultViewsTests
{
    static string Recorded(string run) => Path.Combine(Repo.Root, "docs", "results", run, ResultsFile.FileName);
    static JsonObject Json(string run) => JsonNode.Parse(File.ReadAllText(Recorded(run)))!.AsObject();
    static RunResultsRecord Record(JsonObject json) => ResultsUpgrade.Read(json);
    static double D(JsonNode? n) => (double)n!;
    static string Pct(double share, string format = "0.00") => (100 * share).ToString(format, CultureInfo.InvariantCulture);

    [Fact]
    public void The_leakage_view_reads_each_probe_its_null_and_their_comparison_from_results_json()
    {
        var json = Json("cpu-2026-12-01");
        var view = LeakageView.Read(Record(json), Recorded("cpu-2026-12-01"))!;
        var leakage = json["leakage"]!;
        Assert.Equal(D(leakage["drand"]), view.DRand.Accuracy);
        Assert.Equal(D(leakage["ddet"]), view.DDet.Accuracy);
        Assert.Equal(D(leakage["intervals"]!["drand"]![0]), view.DRand.Lo);
        Assert.Equal((string?)leakage["comparisons"]!["drand"]!["name"], view.DRand.Name);
        Assert.Equal((int)leakage["trainImages"]!["drand"]!, view.DRand.NTrain);
        Assert.Equal(D(json["leakageControls"]!["drandClean"]!["accuracy"]), view.DRandNull.Accuracy);
        Assert.Equal((string?)leakage["comparisons"]!["drand"]!["nullName"], view.DRandNull.Name);
        Assert.Equal(D(leakage["controls"]!["cleanD"]!["accuracy"]), view.CleanD.Accuracy);
        Assert.Equal(0.1, view.Chance.Accuracy);
        Assert.Equal((int)leakage["controls"]!["drandTargetNotLabel"]!["nTrain"]!, view.DRandTargetNotLabel.NTrain);

        var drand = leakage["comparisons"]!["drand"]!;
        Assert.Equal(D(drand["excessOverNull"]), view.Comparisons.DRand.Excess, 12);
        // A first-pass file (no mcnemarP): its pValue is McNemar's, read as such; the p-value of the interval's own
        // variance comes from its recorded interval, far larger than McNemar's (which holds the target draw fixed).
        Assert.Null(drand["mcnemarP"]);
        Assert.True(view.Comparisons.DRand.FirstPass);
        Assert.Equal(D(drand["pValue"]), view.Comparisons.DRand.McNemarP);
        Assert.Equal(ExcessUncertainty.FirstPass, view.Comparisons.DRand.Uncertainty.Source);
        Assert.True(view.Comparisons.DRand.PValue > 1e6 * view.Comparisons.DRand.McNemarP, view.Comparisons.DRand.ToString());
        Assert.Equal(D(drand["excessInterval"]![0]), view.Comparisons.DRand.ExcessInterval.Lo);
        Assert.Equal((int)drand["discordant"]!["probeOnly"]!, view.Comparisons.DRand.Paired.FirstOnly);
        Assert.Equal((int)drand["nullDraws"]!["k"]!, view.Comparisons.DRand.Draws!.K);
        Assert.Equal(D(drand["nullDraws"]!["sd"]), view.Comparisons.DRand.Draws.Sd, 12);
        // The verdicts the view recomputes agree with the ones the run recorded.
        foreach (var (key, c) in new[] { ("drand", view.Comparisons.DRand), ("ddet", view.Comparisons.DDet), ("drandTargetNotLabel", view.Comparisons.DRandTargetNotLabel) })
            Assert.Equal((bool)leakage["comparisons"]![key]!["above"]!, c.Above());
        Assert.Null(view.Comparisons.DDet.Draws);
        // Defect 6, also for first-pass files: D_det's targets are deterministic, so its interval covers no target draws.
        Assert.DoesNotContain("target draws", view.Comparisons.DDet.IntervalCovers);
        Assert.Contains("target draws", view.Comparisons.DRand.IntervalCovers);
    }

    [Fact]
    public void The_probe_table_shows_each_probe_and_its_null_with_the_values_of_the_file()
    {
        var json = Json("cpu-2026-12-01");
        var view = LeakageView.Read(Record(json), Recorded("cpu-2026-12-01"))!;
        var table = view.ToHtml().Markup;
        Assert.Contains("D_rand, robust features", table);
        Assert.Contains(Pct(D(json["leakage"]!["drand"])), table);
        Assert.Contains("clean images, D_rand labels", table);
        Assert.Contains(Pct(D(json["leakageControls"]!["drandClean"]!["accuracy"])), table);
        Assert.Contains(Published.Percent(Published.LeakageDRand), table);
        Assert.Equal(view.Entries.Count, table.Split("<tr>").Length - 2);   // one row per entry below the header

        var nulls = view.NullTable().Markup;
        Assert.Contains(Pct(D(json["leakage"]!["comparisons"]!["drand"]!["excessOverNull"])), nulls);
        Assert.Contains("above its clean-image null", nulls);                           // D_rand
        Assert.Contains("not distinguishable from its clean-image null", nulls);       // D_det
        var rows = view.NullRows();
        Assert.Equal(["D_rand", "D_rand, target ≠ label", "D_det"], rows.Select(r => r.Labels));
        Assert.Equal(100 * D(json["leakageControls"]!["ddetClean"]!["accuracy"]), rows[2].NullPercent, 9);
    }

    [Fact]
    public void The_reading_words_the_recorded_comparisons()
    {
        var json = Json("cpu-2026-12-01");
        var view = LeakageView.Read(Record(json), Recorded("cpu-2026-12-01"))!;
        var reading = view.Reading(D(json["adversarial"]!["drand"]!["targetEqualsLabel"]), (int)json["adversarial"]!["drand"]!["images"]!).Markup;
        Assert.Contains($"{view.DRand.Show()}: above chance, above its clean-image null {view.DRandNull.Show()}", reading);
        // The gap to Goh on the draw-adjusted scale: mean null over the draws plus the excess, with its standard error.
        var adjusted = view.Comparisons.DRand.DrawAdjusted!;
        Assert.Equal(view.Comparisons.DRand.Draws!.Mean + view.Comparisons.DRand.Excess, adjusted.Accuracy, 12);
        double gap = Published.LeakageDRand.Value - adjusted.Accuracy;
        Assert.Contains(FormattableString.Invariant($"{100 * gap:0.0} points below Goh"), reading);
        Assert.Contains(FormattableString.Invariant($"{Published.Percent(Published.LeakageDRand)}, {gap / adjusted.Se:0.0} standard errors"), reading);
        Assert.Contains(FormattableString.Invariant($"Goh: {100 * (Published.LeakageDRand.Value - 0.1):0.0} points"), reading);
        // The wording follows each comparison's verdict; in this first-pass file the recorded `above` keys follow the
        // first pass's rule (McNemar and interval) and the verdict is read from the recorded interval.
        var recorded = json["leakage"]!["comparisons"]!;
        Assert.True((bool)recorded["drand"]!["above"]!);
        Assert.Equal(ExcessUncertainty.Above, view.Comparisons.DRand.Verdict);
        Assert.Contains("Leakage: the D_rand probe is above its clean-image null.", reading);
        // D_rand with target ≠ label: recorded "above" with an interval end 0.0003 points above zero, a tenth of its
        // Monte-Carlo error: undecided.
        Assert.True((bool)recorded["drandTargetNotLabel"]!["above"]!);
        Assert.Equal(ExcessUncertainty.Undecided, view.Comparisons.DRandTargetNotLabel.Verdict);
        Assert.Contains("Undecided by accuracy: the target ≠ label excess interval touches zero", reading);
        Assert.False((bool)recorded["ddet"]!["above"]!);
        Assert.Contains(view.Comparisons.DDet.Verdict == ExcessUncertainty.Above
            ? "Leakage: the D_det probe is above its clean-image null."
            : "Undecided by accuracy: the D_det excess interval touches zero", reading);
        Assert.Contains(LeakageView.WhatTheExcessShows, reading);
        Assert.Contains("not recorded by this run", reading);   // a first-pass file has no feature shift
    }

    [Fact]
    public void A_comparison_written_by_this_version_reads_back_with_its_own_variance_verdict_shift_and_mcnemar()
    {
        var json = Json("cpu-2026-12-01");
        var first = LeakageView.Read(Record(json), Recorded("cpu-2026-12-01"))!.Comparisons.DRand;
        // The recorded D_rand comparison as this version writes it: excesses over fresh draws, a feature shift.
        double[] drawExcess = [0.041, 0.063, 0.049, 0.058, 0.037, 0.066, 0.052, 0.045, 0.060, 0.055];
        var c = first with
        {
            FirstPass = false,
            DrawExcesses = drawExcess,
            Draws = new Leakage.Probes.NullDraws(first.Draws!.Accuracies.Take(drawExcess.Length).ToList()),
            Uncertainty = ExcessUncertainty.OverDraws(first.Excess, drawExcess, 1e-5, 0.95, "fresh target draws (10, emulated) and test points"),
            Shift = new FeatureShift(0.12, 0.11, 0.13, 50_000),
        };
        var written = ResultsJson.Node(ComparisonResult.Of(c));
        Assert.Equal(c.McNemarP, D(written["mcnemarP"]));
        Assert.Equal(c.PValue, D(written["pValue"]));
        Assert.Equal(c.Verdict, (string?)written["verdict"]);
        Assert.Equal("test points only, fits fixed", ((string?)written["mcnemarCovers"])![^28..]);
        Assert.Equal(c.DrawAdjusted!.Accuracy, D(written["drawAdjusted"]!["accuracy"]), 12);
        json["leakage"]!["comparisons"]!["drand"] = written;
        var back = LeakageView.Read(Record(json), Recorded("cpu-2026-12-01"))!.Comparisons.DRand;
        Assert.False(back.FirstPass);
        Assert.Equal(c.McNemarP, back.McNemarP);
        Assert.Equal(c.PValue, back.PValue, 12);
        Assert.Equal(c.Verdict, back.Verdict);
        Assert.Equal(c.ExcessInterval.Lo, back.ExcessInterval.Lo, 12);
        Assert.Equal(c.ExcessInterval.Hi, back.ExcessInterval.Hi, 12);
        Assert.Equal(c.IntervalCovers, back.IntervalCovers);
        Assert.Equal(c.Shift, back.Shift);
        Assert.Equal(drawExcess, back.DrawExcesses);
        Assert.Equal(c.TrainingInterval, back.TrainingInterval);
        Assert.Equal(c.Above(), (bool)written["above"]!);
        Assert.Equal(c.Above(), back.Above());
    }

    [Fact]
    public void The_view_of_the_step_outcome_is_the_view_of_the_recorded_file_and_reads_its_controls_by_name()
    {
        var file = LeakageView.Read(Record(Json("cpu-2026-12-01")), Recorded("cpu-2026-12-01"))!;
        var controls = new LeakageProbeControls(file.CleanD, file.DRandRandomFeatures, file.DDetRandomFeatures, file.DRandTargetNotLabel, file.Chance, file.MajorityClass);
        var outcome = new LeakageOutcome(file.DRand, file.DDet, controls, 1.0) { Comparisons = file.Comparisons };
        Assert.Equal(file, LeakageView.Of(outcome));
        // The step's cache keeps the controls by name: the same view after a round trip through leakage.json's records.
        var json = System.Text.Json.JsonSerializer.Serialize(outcome, ResultsJsonContext.Default.LeakageOutcome);
        Assert.Contains("\"majorityClass\"", json);
        var back = System.Text.Json.JsonSerializer.Deserialize(json, ResultsJsonContext.Default.LeakageOutcome)!;
        Assert.Equal(controls, back.Controls);
        Assert.Equal(controls.All.Select(e => e.Name), LeakageView.Of(back).Entries.Skip(2).Take(6).Select(e => e.Name));
        Assert.Contains("no comparisons", Assert.Throws<NotebookCheckException>(() => LeakageView.Of(outcome with { Comparisons = null })).Message);
    }

    [Fact]
    public void The_leakage_checks_pass_on_the_recorded_run_and_name_what_disagrees()
    {
        var json = Json("cpu-2026-12-01");
        var view = LeakageView.Read(Record(json), Recorded("cpu-2026-12-01"))!;
        int test = (int)json["data"]!["test"]!, train = (int)json["data"]!["train"]!;
        int notLabel = (int)json["leakage"]!["controls"]!["drandTargetNotLabel"]!["nTrain"]!;
        int draws = (int)json["settings"]!["probe"]!["nullDraws"]!;
        view.Check(test, train, train, train, notLabel).CheckNulls(test, draws);
        Assert.Contains("test points", Assert.Throws<NotebookCheckException>(() => view.Check(test + 1, train, train, train, notLabel)).Message);
        Assert.Contains("D_rand with target ≠ label: training images", Assert.Throws<NotebookCheckException>(() => view.Check(test, train, train, train, notLabel + 1)).Message);
        Assert.Contains("null over fresh target draws", Assert.Throws<NotebookCheckException>(() => view.CheckNulls(test, draws + 1)).Message);
    }

    [Fact]
    public void The_run_results_show_the_headline_numbers_of_the_file_beside_the_published_ones()
    {
        var json = Json("cpu-2026-12-01");
        var results = RunResults.Load(Recorded("cpu-2026-12-01"));
        string P(JsonNode? n) => D(n).ToString("P1", CultureInfo.InvariantCulture);
        var html = results.ToHtml().Markup;
        // The headline numbers as every summary shows them (HeadlineRow.Percent), the matched nulls as the notebooks do.
        string H(JsonNode? n) => HeadlineRow.Percent(D(n));
        Assert.Contains(H(json["standardModel"]!["testAccuracy"]), html);
        Assert.Contains(H(json["transfer"]!["drand"]), html);
        Assert.Contains(H(json["transfer"]!["ddet"]), html);
        Assert.Contains(H(json["robustModel"]!["spec2"]), html);
        Assert.Contains($"{P(json["leakageControls"]!["drandClean"]!["accuracy"])} / {P(json["leakageControls"]!["ddetClean"]!["accuracy"])}", html);
        Assert.Contains($"Goh: {Published.Percent(Published.LeakageDRand)}", html);
        Assert.Equal(D(json["seconds"]!["dRand"]), results.Seconds("dRand"));
        Assert.Null(results.Seconds("noSuchStep"));
        Assert.Null(results.Beyond);
        Assert.Contains("has no results under beyond", Assert.Throws<NotebookCheckException>(() => results.BeyondTable()).Message);
    }

    [Fact]
    public void The_extensions_recorded_under_beyond_are_read_and_shown()
    {
        var json = Json("cpu-2026-11-27");
        var results = RunResults.Load(Recorded("cpu-2026-11-27"));
        var beyond = json["beyond"]!;
        var b = results.Beyond!;
        Assert.Equal(D(beyond["nonlinear"]!["robustAccuracy"]), b.Nonlinear!.RobustAccuracy);
        Assert.Equal(beyond["nonlinear"]!["probes"]!.AsArray().Count, b.Nonlinear.Probes.Count);
        // Recorded before the probes carried their kind: the upgrader gives each the kind its name was made from.
        foreach (var kind in NonlinearProbeKind.All)
            Assert.Equal(D(beyond["nonlinear"]!["probes"]!.AsArray().Single(p => (string)p!["name"]! == kind.Name)!["accuracy"]), b.Nonlinear.Probe(kind.View, kind.Set)!.Accuracy);
        Assert.Equal(beyond["radiusSweep"]!.AsArray().Select(p => D(p!["radius"])), b.RadiusSweep!.Select(p => p.Radius));
        Assert.Equal(D(beyond["radiusSweep"]![0]!["leakageDrand"]!["accuracy"]), b.RadiusSweep![0].LeakageDrand.Accuracy);
        Assert.Equal(beyond["probeSeeds"]!["seeds"]!.AsArray().Count, b.ProbeSeeds!.Seeds.Count);
        Assert.Equal(D(beyond["probeSeeds"]!["drand"]!["mean"]), b.ProbeSeeds.Drand.Mean);
        Assert.Null(b.Released);
        // This run predates the comparisons with the nulls: the headline numbers are there, the full view is not.
        Assert.Null(results.Leakage);
        Assert.Equal(D(json["leakage"]!["drand"]), results.LeakageDRand);
        Assert.Null(results.ExcessDRand);

        var html = results.BeyondTable().Markup;
        Assert.Contains($"{b.ProbeSeeds.Seeds.Count} seeds of C", html);
        Assert.Contains(D(beyond["probeSeeds"]!["drand"]!["mean"]).ToString("P1", CultureInfo.InvariantCulture), html);
        foreach (var p in b.RadiusSweep) Assert.Contains($"radius {p.Radius} ({p.Units})", html);
        Assert.Contains(b.Nonlinear.Probe(FeatureView.RobustLogits, ProbeSet.DRand)!.Accuracy.ToString("P1", CultureInfo.InvariantCulture), html);
        Assert.Contains("not run", results.ToHtml().Markup);   // no excess over the null recorded
    }

    [Fact]
    public void The_seed_view_shows_the_recorded_spread_over_seeds_of_C_beside_Goh()
    {
        var seeds = Json("cpu-2026-11-27")["beyond"]!["probeSeeds"]!;
        List<double> Values(string set) => seeds[set]!["values"]!.AsArray().Select(D).ToList();
        var study = new ProbeSeedStudy(seeds["seeds"]!.AsArray().Select(n => (int)n!).ToList(), Values("drand"), Values("ddet"));
        // The single probe's interval comes from the recorded run with the comparisons (docs/results/cpu).
        var linear = LeakageView.Read(Record(Json("cpu-2026-12-01")), Recorded("cpu-2026-12-01"))!;
        var view = new SeedsView(study, linear).Check(study.Seeds.Count, study.Seeds[0]);
        var rows = view.Rows();
        Assert.Equal(100 * D(seeds["drand"]!["mean"]), rows[0].MeanPercent, 9);
        Assert.Equal(100 * D(seeds["drand"]!["sd"]), rows[0].SdPercent, 9);
        Assert.Equal(100 * D(seeds["ddet"]!["min"]), rows[1].MinPercent, 9);
        Assert.Equal(100 * (linear.DRand.Hi - linear.DRand.Lo) / 2, rows[0].BootstrapHalfWidthPercent, 9);
        Assert.Equal(100 * Published.LeakageDRand.Value, rows[0].GohPercent, 9);
        var reading = view.Reading().Markup;
        double gap = Math.Abs(rows[0].MeanPercent - rows[0].GohPercent), noise = 2 * Math.Sqrt(2) * rows[0].SdPercent;
        Assert.Contains($"gap {gap:0.0} points; two single runs differ by up to about {noise:0.0} points", reading);
        Assert.Contains("a difference in procedure, not seed noise", reading);   // 3 points apart with an sd of 0.25
        Assert.Contains("seeds", Assert.Throws<NotebookCheckException>(() => view.Check(study.Seeds.Count + 1, study.Seeds[0])).Message);
    }

    [Fact]
    public void A_malformed_results_file_is_named_with_the_key_that_is_wrong()
    {
        using var tmp = new TempDir();
        var json = Json("cpu-2026-12-01");
        json["leakage"]!["drand"] = "high";
        var path = Path.Combine(tmp.Path, ResultsFile.FileName);
        File.WriteAllText(path, json.ToJsonString());
        var e = Assert.Throws<InvalidDataException>(() => RunResults.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("leakage.drand is not a number", e.Message);

        json = Json("cpu-2026-12-01");
        json["leakage"]!["comparisons"]!["ddet"]!.AsObject().Remove("discordant");
        File.WriteAllText(path, json.ToJsonString());
        Assert.Contains("leakage.comparisons.ddet.discordant is missing", Assert.Throws<InvalidDataException>(() => RunResults.Load(path)).Message);

        File.WriteAllText(path, "[1, 2]");
        Assert.Contains("not a JSON object", Assert.Throws<InvalidDataException>(() => RunResults.Load(path)).Message);
        Assert.Throws<FileNotFoundException>(() => RunResults.Load(Path.Combine(tmp.Path, "missing.json")));
    }

    [Fact]
    public void A_run_that_has_not_reached_a_step_shows_it_as_not_run()
    {
        var results = RunResults.Read(new ResultsFile(Path.Combine(Path.GetTempPath(), "leakage-no-such-run-" + Guid.NewGuid().ToString("N"))));
        Assert.Null(results.StandardAccuracy);
        Assert.Null(results.Leakage);
        var html = results.ToHtml().Markup;
        Assert.Empty(results.Headlines);                      // no headline number is shown before its step has run
        Assert.Equal(4, html.Split("not run").Length - 1);    // every number of the glance table: the two nulls and the two excesses
    }
}
