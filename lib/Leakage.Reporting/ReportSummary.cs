using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
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
        html.Append("<p>This run (profile <code>").Append(Encode((string?)results["profile"] ?? "?")).Append("</code>, from <code>")
            .Append(Encode(Path.GetFileName(resultsPath))).Append("</code>) beside the published numbers; the sections below show how each was made.</p>");

        html.Append("<table class=\"summary-table\"><thead><tr><th>measure</th><th>this run</th><th>published</th></tr></thead><tbody>");
        foreach (var h in StepCatalog.Headlines)
        {
            if (Number(results, h.Key) is not double v) continue;
            var cell = Percent(v);
            if (h.Key is "leakage.drand" or "leakage.ddet" && results["leakage"]?["intervals"]?[h.Key[8..]] is JsonArray { Count: 2 } ci
                && Value(ci[0]) is double lo && Value(ci[1]) is double hi)
                cell += $" <span class=\"ci\">[{Percent(lo)}, {Percent(hi)}]</span>";
            html.Append("<tr><td>").Append(Encode(h.Title)).Append("</td><td class=\"num\">").Append(cell)
                .Append("</td><td class=\"num\">").Append(Encode(h.Published ?? "")).Append("</td></tr>");
        }
        html.Append("</tbody></table>");
        var level = Number(results, "leakage.intervals.level");
        html.Append("<p class=\"note\">Percent of the clean test set (attack success: of the attacked training images); brackets: ")
            .Append(level is double l ? $"{100 * l:0}% " : "").Append("bootstrap intervals of the leakage probes.</p>");

        html.Append(LeakageNulls(results));
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

    /// <summary>The leakage probes beside their matched nulls (the same probe on the clean originals with the same labels).</summary>
    static string LeakageNulls(JsonObject results)
    {
        if (results[LeakageControls.ResultsKey] is not JsonObject nulls) return "";
        var rows = new StringBuilder();
        foreach (var (set, key) in new[] { ("D_rand", "drand"), ("D_det", "ddet") })
        {
            if (Number(results, $"leakage.{key}") is not double probe || nulls[$"{key}Clean"] is not JsonObject n || Value(n["accuracy"]) is not double nullAcc) continue;
            rows.Append("<tr><td>").Append(set).Append("</td><td class=\"num\">").Append(Percent(probe)).Append("</td><td class=\"num\">")
                .Append(Percent(nullAcc));
            if (Value(n["lo"]) is double lo && Value(n["hi"]) is double hi) rows.Append($" <span class=\"ci\">[{Percent(lo)}, {Percent(hi)}]</span>");
            rows.Append("</td></tr>");
        }
        return rows.Length == 0 ? "" :
            "<h3>Leakage against its null</h3><table class=\"summary-table\"><thead><tr><th>probe trained on</th><th>adversarial images</th>"
            + "<th>clean originals, same labels</th></tr></thead><tbody>" + rows + "</tbody></table>";
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

    static string GammaTable(JsonObject results)
    {
        if (results["robustModel"]?["gamma"] is not JsonArray gamma || gamma.Count != Published.GohGamma.Count) return "";
        var other = results["robustModel"]?["otherUnits"]?["gamma"] as JsonArray;
        var units = (string?)results["robustModel"]?["radiusUnits"] ?? "configured";
        var otherUnits = (string?)results["robustModel"]?["otherUnits"]?["radiusUnits"] ?? "other";
        var html = new StringBuilder("<h3>γ of each feature beside Goh's</h3><table class=\"summary-table\"><thead><tr><th>class</th>");
        html.Append("<th>γ (").Append(Encode(units)).Append(" units)</th>");
        if (other is { Count: 10 }) html.Append("<th>γ (").Append(Encode(otherUnits)).Append(" units)</th>");
        html.Append("<th>Goh</th></tr></thead><tbody>");
        for (int i = 0; i < gamma.Count; i++)
        {
            html.Append("<tr><td>").Append(i).Append(' ').Append(Encode(Cifar10.ClassNames[i])).Append("</td><td class=\"num\">").Append(Fixed(Value(gamma[i]))).Append("</td>");
            if (other is { Count: 10 }) html.Append("<td class=\"num\">").Append(Fixed(Value(other[i]))).Append("</td>");
            html.Append("<td class=\"num\">").Append(Fixed(Published.GohGamma[i])).Append("</td></tr>");
        }
        return html.Append("</tbody></table>").ToString();
    }

    static double? Number(JsonObject root, string dottedKey)
    {
        JsonNode? node = root;
        foreach (var part in dottedKey.Split('.')) node = node?[part];
        return Value(node);
    }

    static double? Value(JsonNode? node) =>
        node is JsonValue v && v.TryGetValue<double>(out var d) && double.IsFinite(d) ? d : null;

    static string Percent(double v) => (100 * v).ToString("0.0", CultureInfo.InvariantCulture) + "%";

    static string Fixed(double? v) => v is double d ? d.ToString("0.000", CultureInfo.InvariantCulture) : "–";

    static string Encode(string s) => Html.Encode(s);
}
