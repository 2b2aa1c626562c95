using System.Globalization;
using System.Text;
using Leakage.Data;
using Leakage.Experiment;
using Leakage.Export;
using Leakage.Interactive;

namespace Leakage.Reporting;

/// <summary>
/// The report's opening section, built from a run's <c>results.json</c>: the headline numbers beside
/// the published ones (<see cref="StepCatalog.Headlines"/>), the leakage probes with their intervals
/// and matched nulls, the ten weight images of C (from the run folder), its gamma beside Goh's
/// (<see cref="Published.GohGamma"/>), and links into the notebook sections.
/// </summary>
public static class ReportSummary
{
    /// <summary>The anchor of the summary section.</summary>
    public const string Id = "summary";

    /// <summary>
    /// The summary's HTML for the run whose <c>results.json</c> is <paramref name="resultsPath"/>
    /// (artifacts such as <c>robust_linear/</c> are read from the same folder); <paramref name="sections"/>
    /// are the notebook sections to link (anchor, title).
    /// </summary>
    /// <exception cref="InvalidDataException">results.json is not valid JSON; the message names it.</exception>
    public static string Render(string resultsPath, IReadOnlyList<(string Id, string Title)> sections)
    {
        var results = ResultsFile.Load(resultsPath);
        var runDirectory = Path.GetDirectoryName(Path.GetFullPath(resultsPath))!;
        var html = new StringBuilder();
        html.Append("<section class=\"summary\" id=\"").Append(Id).Append("\"><h2>Summary</h2>");
        html.Append(Answer(RunAnswer.Of(results)));
        html.Append(Controls(results.Controls));
        html.Append("<p>This run (profile <code>").Append(Encode(results.Profile ?? "?")).Append("</code>, from <code>")
            .Append(Encode(Path.GetFileName(resultsPath))).Append("</code>) beside the published numbers; the sections below show how each was made.</p>");

        html.Append("<table class=\"summary-table\"><thead><tr><th>measure</th><th>this run</th><th>published</th></tr></thead><tbody>");
        foreach (var row in HeadlineRow.Of(results))
        {
            // The value, its interval (when recorded) set apart: the same text as the CLI summary and the notebooks show.
            var split = row.Text.IndexOf(" [", StringComparison.Ordinal);
            var cell = split < 0 ? Encode(row.Text) : $"{Encode(row.Text[..split])} <span class=\"ci\">{Encode(row.Text[(split + 1)..])}</span>";
            html.Append("<tr><td>").Append(Encode(row.Label)).Append("</td><td class=\"num\">").Append(cell)
                .Append("</td><td class=\"num\">").Append(Encode(row.Published)).Append("</td></tr>");
        }
        html.Append("</tbody></table>");
        var level = results.Leakage?.Intervals?.Level;
        html.Append("<p class=\"note\">Percent of the clean test set (attack success: of the attacked training images); brackets: ")
            .Append(level is double l ? $"{100 * l:0}% " : "").Append("bootstrap intervals of the leakage probes.</p>");

        html.Append(WeightImages(runDirectory));
        html.Append(GammaTable(results));

        if (sections.Count > 0)
        {
            html.Append("<p class=\"summary-links\">Sections: ");
            html.AppendJoin(" · ", sections.Select(s => $"<a href=\"#{Encode(s.Id)}\">{Encode(s.Title)}</a>"));
            html.Append("</p>");
        }
        return html.Append("</section>").ToString();
    }

    /// <summary>
    /// The answer first: Goh's two probes, each beside its matched null (the same probe on the clean
    /// originals with the same labels), the excess with its interval and the verdict as results.json
    /// words it; then which profile made the run and how it stands to the paper's settings.
    /// </summary>
    static string Answer(RunAnswer answer)
    {
        var html = new StringBuilder();
        if (answer.Leakage.Count > 0)
        {
            html.Append("<h3>Did robust features leak? Goh's probe against its null</h3><table class=\"summary-table answer\"><thead><tr>")
                .Append("<th>probe trained on</th><th>probe accuracy</th><th>null: same probe on the clean originals</th>")
                .Append("<th>excess over the null, points</th><th>verdict</th><th>Goh</th></tr></thead><tbody>");
            foreach (var row in answer.Leakage)
                html.Append("<tr><td>").Append(Encode(row.Set)).Append("</td><td class=\"num\">").Append(Percent(row.Probe))
                    .Append("</td><td class=\"num\">").Append(Percent(row.Null)).Append("</td><td class=\"num\">").Append(Encode(row.ExcessText))
                    .Append("</td><td class=\"verdict verdict-").Append(Encode(row.Verdict)).Append("\">").Append(Encode(row.Verdict))
                    .Append("</td><td class=\"num\">").Append(Encode(Published.Percent(row.Goh))).Append("</td></tr>");
            html.Append("</tbody></table><p class=\"note\">Accuracy on the clean test set")
                .Append(answer.Leakage[0].IntervalCovers is { } covers ? "; the interval of the excess covers " + Encode(covers) : "").Append(". ")
                .AppendJoin(" ", answer.Leakage.Select(r => Encode(RunAnswer.Meaning(r)))).Append("</p>");
        }
        return html.Append("<p class=\"answer-setting\">").Append(Encode(answer.Setting)).Append("</p>").ToString();
    }

    /// <summary>
    /// The leakage controls, when the run has them (<c>controls.enabled</c>): for each set beside D_rand and
    /// D_det, the share the standard model classifies as its target, the transfer model's clean
    /// accuracy, and Goh's probe against its matched null with the excess, its interval and the verdict.
    /// </summary>
    static string Controls(ControlsResult? controls)
    {
        if (controls is null) return "";
        var html = new StringBuilder("<h3>Leakage controls: how much of the transfer needs the attack?</h3><table class=\"summary-table controls\"><thead><tr>")
            .Append("<th>set</th><th>images</th><th>classified as target</th><th>transfer, clean test accuracy</th><th>probe accuracy</th>")
            .Append("<th>null: same probe on the clean originals</th><th>excess over the null, points</th><th>verdict</th></tr></thead><tbody>");
        foreach (var row in controls.Rows)
            html.Append("<tr><td>").Append(Encode(row.Set)).Append("</td><td class=\"num\">").Append(row.Images.ToString("N0", CultureInfo.InvariantCulture))
                .Append("</td><td class=\"num\">").Append(Percent(row.AttackSuccess)).Append("</td><td class=\"num\">").Append(Percent(row.TransferAccuracy))
                .Append("</td><td class=\"num\">").Append(Percent(row.Probe?.Accuracy)).Append("</td><td class=\"num\">").Append(Percent(row.Probe?.NullAccuracy))
                .Append("</td><td class=\"num\">").Append(Encode(row.ExcessText)).Append("</td><td class=\"verdict verdict-").Append(Encode(row.Verdict)).Append("\">")
                .Append(Encode(row.Verdict)).Append("</td></tr>");
        return html.Append("</tbody></table><p class=\"note\">On ").Append(controls.TrainImages.ToString("N0", CultureInfo.InvariantCulture)).Append(" of the ")
            .Append(controls.TrainSplit.ToString("N0", CultureInfo.InvariantCulture)).Append(" training images. Leakage-only sets: ").Append(Encode(controls.LeakageOnlyDescription))
            .AppendJoin("", controls.Rows.Where(r => r.KeptClean is not null).Select(r => $" ({Encode(r.Set)}: {r.KeptClean!.Value.ToString("N0", CultureInfo.InvariantCulture)} clean)"))
            .Append("; successful attacks only: the images whose attack reached its target. A leakage-only set that transfers about as well as its attacked set ")
            .Append("means the transfer does not need the attack.")
            .AppendJoin("", controls.Rows.Where(r => r.NotMeasured is not null).Select(r => $" {Encode(r.Set)}: {Encode(r.NotMeasured!)}"))
            .Append("</p>").ToString();
    }

    static string WeightImages(string runDirectory)
    {
        try
        {
            using var c = PyTorchExport.LoadRobustLinear(runDirectory);
            var images = Images.Weights(c.weight.detach(), Cifar10.ClassNames, WeightStyle.Symmetric, scale: 3);
            return "<h3>The ten robust features (weights of C)</h3>" + images.Markup;
        }
        catch (Exception e) when (e is InvalidDataException or IOException or ArgumentException)
        {
            return $"<p class=\"note\">The weight images are not available: {Encode(e.Message.ReplaceLineEndings(" "))}</p>";
        }
    }

    static string GammaTable(RunResultsRecord results)
    {
        if (results.RobustModel is not { } robust || robust.Gamma is not { } gamma || gamma.Count != Published.GohGamma.Count) return "";
        var other = robust.OtherUnits?.Gamma;
        var units = robust.RadiusUnits ?? "configured";
        var otherUnits = robust.OtherUnits?.RadiusUnits ?? "other";
        var html = new StringBuilder("<h3>γ of each feature beside Goh's</h3><table class=\"summary-table\"><thead><tr><th>class</th>");
        html.Append("<th>γ (").Append(Encode(units)).Append(" units)</th>");
        if (other is { Count: 10 }) html.Append("<th>γ (").Append(Encode(otherUnits)).Append(" units)</th>");
        html.Append("<th>Goh</th></tr></thead><tbody>");
        for (int i = 0; i < gamma.Count; i++)
        {
            html.Append("<tr><td>").Append(i).Append(' ').Append(Encode(Cifar10.ClassNames[i])).Append("</td><td class=\"num\">").Append(Fixed(gamma[i])).Append("</td>");
            if (other is { Count: 10 }) html.Append("<td class=\"num\">").Append(Fixed(other[i])).Append("</td>");
            html.Append("<td class=\"num\">").Append(Fixed(Published.GohGamma[i])).Append("</td></tr>");
        }
        return html.Append("</tbody></table>").ToString();
    }

    static string Percent(double v) => HeadlineRow.Percent(v);

    static string Percent(double? v) => v is double d ? Percent(d) : "–";

    static string Fixed(double? v) => v is double d ? d.ToString("0.000", CultureInfo.InvariantCulture) : "–";

    static string Encode(string s) => Html.Encode(s);
}
