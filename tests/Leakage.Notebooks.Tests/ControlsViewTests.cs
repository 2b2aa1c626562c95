using System.Text.Json.Nodes;
using Leakage.Experiment;
using Leakage.Interactive;

namespace Leakage.Notebooks.Tests;

/// <summary>Notebook 06's controls view: the table read back from results.json through its typed records.</summary>
public class ControlsViewTests
{
    static ComparisonResult Comparison(string set, double probe, double @null, string verdict) =>
        new(set, probe, $"clean images with the labels of {set}", @null, probe - @null, [probe - @null - 0.01, probe - @null + 0.01], "training bootstrap",
            0.01, ComparisonResult.SameVarianceTest, new Discordant(30, 10), [-0.01, 0.01], verdict == "above", true, 9, true, 8) { Verdict = verdict };

    static ControlsResult Table() => new(600, 600, 300, 0.5, "tiled",
    [
        new(ControlKind.DRand, "D_rand", "random", true, 600, 0.7, 0.55, 0.8, Comparison("D_rand", 0.2, 0.15, "above")) { FromMainSteps = true },
        new(ControlKind.DRandLeakageOnly, "leakage-only D_rand rule", "random", false, 600, 0.05, 0.325, 0.99, Comparison("leakage-only D_rand rule", 0.12, 0.12, "undecided")) { KeptClean = 58 },
        new(ControlKind.DRandSuccessful, "D_rand, successful attacks only", "random", true, 420, 1.0, 0.6, 0.95, Comparison("D_rand, successful attacks only", 0.3, 0.25, "above")),
        new(ControlKind.DOther, "D_other", "other", true, 600, 0.65, 0.4, 0.8, Comparison("D_other", 0.04, 0.02, "above")),
        new(ControlKind.DDet, "D_det", "deterministic", true, 600, 0.68, 0.05, 0.9, Comparison("D_det", 0.06, 0.06, "undecided")) { FromMainSteps = true },
        new(ControlKind.DDetLeakageOnly, "leakage-only D_det rule", "deterministic", false, 600, 0.02, 0.04, 0.99, Comparison("leakage-only D_det rule", 0.05, 0.06, "below")),
        new(ControlKind.DDetSuccessful, "D_det, successful attacks only", "deterministic", true, 12, 1.0, null, null, null)
            { NotMeasured = "12 image(s), fewer than the 20 a transfer model and the probe need" },
    ]);

    static string Write(TempDir dir, ControlsResult? table)
    {
        var results = new JsonObject { ["profile"] = "quick", ["settings"] = new JsonObject() };
        if (table is not null) results[ControlsStep.ResultsKey] = ResultsJson.Node(table);
        var path = Path.Combine(dir.Path, "results.json");
        File.WriteAllText(path, results.ToJsonString());
        return path;
    }

    [Fact]
    public void The_view_shows_every_control_with_its_numbers_and_reads_the_leakage_only_share()
    {
        using var dir = new TempDir();
        var view = ControlsView.Load(Write(dir, Table())).Check(testPoints: 300);
        var rows = view.Rows();
        Assert.Equal(7, rows.Count);
        Assert.Equal(32.5, rows[1].TransferPercent!.Value, 9);
        Assert.Equal("+5.0 [+4.0, +6.0]", rows[0].ExcessPoints);
        Assert.Null(rows[6].TransferPercent);
        Assert.Equal(ControlRow.NotMeasuredVerdict, rows[6].Verdict);
        var html = view.ToHtml().Markup;
        Assert.Contains("<caption>Leakage controls on 600 training images", html);
        foreach (var set in Table().Rows.Select(r => r.Set)) Assert.Contains(Html.Encode(set), html);
        // Goh's question: (32.5% - 10%) / (55% - 10%) of D_rand's accuracy above chance needs no attack.
        var reading = view.Reading().Markup;
        Assert.Contains("the set without an attack reaches 50% of D_rand", reading);
        Assert.Contains("(58 of its images left clean: the standard model already classifies them as their target)", reading);
        Assert.Equal(58, rows[1].KeptClean);
        Assert.Null(rows[0].KeptClean);
        Assert.Contains("except the images the standard model already classifies as their target", view.Result!.LeakageOnlyDescription);
        Assert.Contains("D_det&#39;s transfer model is not above chance", reading);
        Assert.Contains("12 of 600 images", reading);
    }

    [Fact]
    public void Without_controls_the_view_says_how_to_run_them_and_a_malformed_table_is_refused()
    {
        using var dir = new TempDir();
        var view = ControlsView.Load(Write(dir, null)).Check(testPoints: 300);
        Assert.Null(view.Result);
        Assert.Contains("controls.enabled=true", view.ToHtml().Markup);
        Assert.Same(Html.Empty, view.Reading());

        var wrong = Table() with { TestImages = 299 };
        var e = Assert.Throws<NotebookCheckException>(() => ControlsView.Load(Write(dir, wrong)).Check(testPoints: 300));
        Assert.Contains("test images of the controls", e.Message);
        var silent = Table() with { Rows = [.. Table().Rows.Take(6), Table().Rows[6] with { NotMeasured = null }] };
        Assert.Throws<NotebookCheckException>(() => ControlsView.Load(Write(dir, silent)).Check(testPoints: 300));
    }
}
