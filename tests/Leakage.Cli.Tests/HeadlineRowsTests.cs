using System.Net;
using System.Text.RegularExpressions;
using Leakage.Cli.Tests.Support;
using Leakage.Experiment;
using Spectre.Console;

namespace Leakage.Cli.Tests;

/// <summary>
/// The one list of headline rows (<see cref="HeadlineRow"/>): the CLI summary, the notebooks' summary
/// and the report show the same rows, with the same labels, values and published values.
/// </summary>
public class HeadlineRowsTests
{
    static readonly Regex Row = new("<tr>(.*?)</tr>", RegexOptions.Singleline);
    static readonly Regex Cell = new("<t[dh][^>]*>(.*?)</t[dh]>", RegexOptions.Singleline);
    static readonly Regex Tag = new("<[^>]+>");

    /// <summary>The rows of the HTML table that follows <paramref name="marker"/> in <paramref name="html"/>, cells as plain text.</summary>
    static List<(string Label, string Value, string Published)> HtmlRows(string html, string marker)
    {
        var start = html.IndexOf(marker, StringComparison.Ordinal);
        Assert.True(start >= 0, $"no '{marker}' in:\n{html}");
        var table = html[start..html.IndexOf("</table>", start, StringComparison.Ordinal)];
        return Row.Matches(table).Select(m => Cell.Matches(m.Groups[1].Value).Select(c => WebUtility.HtmlDecode(Tag.Replace(c.Groups[1].Value, ""))).ToList())
            .Where(cells => cells.Count == 3 && cells[0] != "measure")
            .Select(cells => (cells[0], cells[1], cells[2])).ToList();
    }

    /// <summary>The rows of the console's "All results" table whose label is a headline's.</summary>
    static List<(string Label, string Value, string Published)> ConsoleRows(string output)
    {
        var titles = StepCatalog.Headlines.Select(h => h.Title).ToHashSet();
        return output[output.IndexOf("All results", StringComparison.Ordinal)..].Split('\n')
            .Select(line => line.Split('│').Select(c => c.Trim()).ToArray())
            .Where(cells => cells.Length == 5 && titles.Contains(cells[1]))
            .Select(cells => (cells[1], cells[2], cells[3])).ToList();
    }

    [Theory]
    [InlineData("cpu")]
    [InlineData("cpu-2026-11-27")]
    [InlineData("cpu-eps1")]
    public void The_cli_the_notebooks_and_the_report_show_the_same_headline_rows(string run)
    {
        var path = Support.ResultsSchema.RepoFile("docs", "results", run, "results.json");
        var record = ResultsFile.Load(path);
        var expected = HeadlineRow.Of(record).Select(r => (r.Label, r.Text, r.Published)).ToList();
        Assert.True(expected.Count >= 10, $"{run}: {expected.Count} headline rows");
        Assert.Contains(expected, r => r.Text.Contains(" [", StringComparison.Ordinal)); // the leakage probes with their intervals

        var text = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(text), Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors, Interactive = InteractionSupport.No,
        });
        console.Profile.Width = 400;
        ExperimentCommand.PrintSummary(record, path, console);
        Assert.Equal(expected, ConsoleRows(text.ToString()));

        var notebook = Leakage.Interactive.RunResults.Load(path).ToHtml().Markup;
        Assert.Equal(expected, HtmlRows(notebook, "<caption>This run against the published numbers</caption>"));

        var report = Leakage.Reporting.ReportSummary.Render(path, []);
        Assert.Equal(expected, HtmlRows(report, "<th>measure</th>"));
    }
}
