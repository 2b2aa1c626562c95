using System.Text.Json.Nodes;
using Leakage.Cli.Tests.Support;
using Leakage.Experiment;
using Leakage.Reporting;

namespace Leakage.Cli.Tests;

/// <summary>
/// <c>experiment --set controls.enabled=true</c> end to end on the tiny synthetic run: the controls'
/// table in results.json (following the schema), in the CLI summary and in the report's summary.
/// </summary>
public class ControlsExperimentTests
{
    [Fact]
    public async Task A_quick_run_with_the_controls_records_their_table_and_the_summary_and_report_show_it()
    {
        using var dir = new TempDir();
        var outcome = await CliProcess.RunAsync(TestRuns.Experiment(dir["run"], "controls.enabled=true"), TestRuns.Cache);
        Assert.True(outcome.ExitCode == 0, outcome.ToString());
        var path = Path.Combine(dir["run"], "results.json");
        var results = JsonNode.Parse(File.ReadAllText(path))!.AsObject();

        var errors = Support.ResultsSchema.Errors(path);
        Assert.True(errors.Count == 0, $"{path}:\n{string.Join("\n", errors)}");

        var table = ResultsFile.Load(path).Controls!;
        Assert.Equal(Enum.GetValues<ControlKind>(), table.Rows.Select(r => r.Kind));
        Assert.Equal((int)results["data"]!["train"]!, table.TrainImages);
        // Every training image: D_rand and D_det are the main steps' rows, not measured twice.
        var drand = table.Row(ControlKind.DRand)!;
        Assert.True(drand.FromMainSteps);
        Assert.Equal((double)results["transfer"]!["drand"]!, drand.TransferAccuracy);
        Assert.Equal((double)results["leakage"]!["comparisons"]!["ddet"]!["accuracy"]!, table.Row(ControlKind.DDet)!.Probe!.Accuracy);
        Assert.Equal((double)results["adversarial"]!["dother"]!["attackSuccess"]!, table.Row(ControlKind.DOther)!.AttackSuccess);
        Assert.False(table.Row(ControlKind.DOther)!.FromMainSteps);

        // The CLI summary: one table, a line per control with its numbers and verdict, after the answer.
        var output = outcome.Stdout;
        var title = output.IndexOf("Leakage controls: how much of the transfer needs the attack?", StringComparison.Ordinal);
        Assert.True(title > output.IndexOf("Did robust features leak?", StringComparison.Ordinal) && title < output.IndexOf("All results", StringComparison.Ordinal), output);
        // The notes under the table are wrapped at the terminal's width: read them with their line breaks as spaces.
        var flat = System.Text.RegularExpressions.Regex.Replace(output, @"\s+", " ");
        string P1(double v) => (100 * v).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture) + "%";
        foreach (var row in table.Rows)
        {
            var line = output[title..].Split('\n').FirstOrDefault(l => l.Contains($"│ {row.Label} ", StringComparison.Ordinal));
            Assert.True(line is not null, $"no line for {row.Label} in:\n{output}");
            Assert.Contains(P1(row.AttackSuccess), line);
            Assert.Contains($"{row.Label} {row.Images:N0}", flat);
            if (row.Probe is null)
            {
                // Too few images to train on (the tiny run's attacks rarely succeed): said, not hidden.
                Assert.True(row.Images < ControlsStep.MinImages && row.NotMeasured is not null && row.TransferAccuracy is null, line);
                Assert.Contains($"{row.Set}: {row.NotMeasured}", flat);
                continue;
            }
            Assert.Contains(P1(row.TransferAccuracy!.Value), line);
            Assert.Contains(P1(row.Probe.Accuracy), line);
            Assert.Contains(P1(row.Probe.NullAccuracy), line);
            Assert.Contains(row.ExcessText.Split(' ')[0], line);
            Assert.Contains(row.Verdict, line);
        }
        Assert.NotNull(table.Row(ControlKind.DRandLeakageOnly)!.Probe);

        // The report's summary: the same rows, read through the same records.
        var html = ReportSummary.Render(path, []);
        var start = html.IndexOf("Leakage controls: how much of the transfer needs the attack?", StringComparison.Ordinal);
        Assert.True(start >= 0, html);
        var controls = html[start..html.IndexOf("</table>", start, StringComparison.Ordinal)];
        foreach (var row in table.Rows)
            Assert.Contains($"<td>{System.Net.WebUtility.HtmlEncode(row.Set)}</td>", controls);
        Assert.Contains($"verdict-{table.Row(ControlKind.DOther)!.Verdict}", controls);
        Assert.DoesNotContain(dir.Path, html);
    }
}
