using System.Text.Json.Nodes;
using Leakage.Interactive;
using Leakage.Reporting;
using Microsoft.Data.Analysis;
using Plotly.NET;

namespace Leakage.Notebooks.Tests;

public class InteractiveTablesTests
{
    public sealed record Row(string Set, double Accuracy, int Count, bool Robust, float? Gamma, DateOnly Day);

    static readonly Row[] Rows =
    [
        new("D_rand", 0.23514, 50000, false, null, new DateOnly(2019, 8, 6)),
        new("D_det", 0.0681, 50000, false, 0.126f, new DateOnly(2019, 8, 6)),
    ];

    [Fact]
    public void Records_become_typed_columns_in_declaration_order()
    {
        var df = Tables.FromRecords(Rows);
        Assert.Equal(new[] { "Set", "Accuracy", "Count", "Robust", "Gamma", "Day" }, df.Columns.Select(c => c.Name));
        Assert.IsType<StringDataFrameColumn>(df.Columns["Set"]);
        Assert.IsType<PrimitiveDataFrameColumn<double>>(df.Columns["Accuracy"]);
        Assert.IsType<PrimitiveDataFrameColumn<int>>(df.Columns["Count"]);
        Assert.IsType<PrimitiveDataFrameColumn<bool>>(df.Columns["Robust"]);
        Assert.IsType<PrimitiveDataFrameColumn<float>>(df.Columns["Gamma"]);
        Assert.Equal(0.0681, (double)df.Columns["Accuracy"][1]!);
        Assert.Null(df.Columns["Gamma"][0]);
        Assert.Equal("2019-08-06", (string)df.Columns["Day"][0]!);
    }

    [Fact]
    public void The_html_table_shows_significant_digits_right_aligns_numbers_and_leaves_nulls_empty()
    {
        var html = Tables.ToHtml(Rows, caption: "Probe <accuracy>").Markup;
        Assert.Contains("<caption>Probe &lt;accuracy&gt;</caption>", html);
        Assert.Contains("<th>accuracy</th>", html);
        Assert.Contains("<td style=\"text-align:right\">0.2351</td>", html);
        Assert.Contains("<td style=\"text-align:right\">0.0681</td>", html);
        Assert.Contains("<td style=\"text-align:right\">50000</td>", html);
        Assert.Contains("<td style=\"text-align:right\"></td>", html);
    }

    [Fact]
    public void A_column_of_numbers_gets_one_number_of_decimals_so_the_digits_line_up()
    {
        var html = Tables.ToHtml(new[] { new { Value = 0.5 }, new { Value = 0.123456 }, new { Value = 0.01 } }).Markup;
        Assert.Contains(">0.5000</td>", html);
        Assert.Contains(">0.1235</td>", html);
        Assert.Contains(">0.0100</td>", html);
    }

    [Theory]
    [InlineData("LowerPercent", "lower percent")]
    [InlineData("MeanAbsGammaDifference", "mean abs gamma difference")]
    [InlineData("CILow", "CI low")]
    [InlineData("NTrain", "n train")]
    [InlineData("Spec2", "spec 2")]
    [InlineData("D_rand", "D_rand")]
    [InlineData("this run", "this run")]
    public void Column_headers_are_readable_words_not_property_names(string name, string header) =>
        Assert.Equal(header, Tables.Header(name));

    [Theory]
    [InlineData(95.3, 4, "95.3")]
    [InlineData(0.000123456, 3, "0.000123")]
    [InlineData(123456.7, 4, "123457")]
    [InlineData(-0.5, 4, "-0.5")]
    [InlineData(1e-9, 3, "1E-09")]
    [InlineData(double.NaN, 4, "NaN")]
    public void Numbers_are_shown_with_the_requested_significant_digits(double value, int digits, string shown) =>
        Assert.Equal(shown, Tables.FormatCell(value, digits));

    [Fact]
    public void Long_tables_say_how_many_rows_were_left_out()
    {
        var df = Tables.FromRecords(Enumerable.Range(0, 30).Select(i => new { Index = i }));
        var html = Tables.ToHtml(df, maxRows: 10).Markup;
        Assert.Contains("<td style=\"text-align:right\">9</td>", html);
        Assert.DoesNotContain("<td style=\"text-align:right\">10</td>", html);
        Assert.Contains("20 more rows not shown.", html);
    }
}

public class InteractiveChartsTests
{
    static JsonArray Traces(GenericChart chart) =>
        (JsonNode.Parse(GenericChart.toFigureJson(chart))!["data"] as JsonArray)!;

    [Fact]
    public void A_line_chart_has_one_trace_per_series_with_its_points()
    {
        var chart = Charts.Lines("t", "radius", "accuracy",
        [
            new Series("robust", [0, 0.25, 0.5], [0.9, 0.7, 0.4]),
            new Series("standard", [0, 0.25, 0.5], [0.95, 0.1, 0.0]),
        ]);
        var traces = Traces(chart);
        Assert.Equal(2, traces.Count);
        Assert.Equal("standard", (string)traces[1]!["name"]!);
        Assert.Equal(new[] { 0.9, 0.7, 0.4 }, traces[0]!["y"]!.AsArray().Select(v => (double)v!));
        Assert.Equal("lines+markers", (string)traces[0]!["mode"]!);
    }

    [Fact]
    public void A_line_with_intervals_carries_asymmetric_error_bars_and_one_without_carries_none()
    {
        var chart = Charts.Lines("t", "radius", "accuracy",
        [
            new Series("leakage", [0.1, 0.5], [0.25, 0.0625], Lower: [0.20, 0.05], Upper: [0.26, 0.125]),
            new Series("chance", [0.1, 0.5], [0.1, 0.1]),
        ]);
        var traces = Traces(chart);
        var error = traces[0]!["error_y"]!;
        Assert.Equal(new[] { 0.01, 0.0625 }, error["array"]!.AsArray().Select(v => Math.Round((double)v!, 12)));
        Assert.Equal(new[] { 0.05, 0.0125 }, error["arrayminus"]!.AsArray().Select(v => Math.Round((double)v!, 12)));
        Assert.False((bool)error["symmetric"]!);
        Assert.Null(traces[1]!["error_y"]);
    }

    [Fact]
    public void Interval_bars_carry_asymmetric_error_bars_and_reference_markers()
    {
        var chart = Charts.BarsWithIntervals("t", "accuracy",
        [
            new IntervalBar("D_rand", 0.25, 0.20, 0.26, Reference: 0.235),
            new IntervalBar("D_det", 0.0625, 0.05, 0.125),
        ]);
        var traces = Traces(chart);
        var error = traces[0]!["error_y"]!;
        Assert.Equal(new[] { 0.01, 0.0625 }, error["array"]!.AsArray().Select(v => Math.Round((double)v!, 12)));
        Assert.Equal(new[] { 0.05, 0.0125 }, error["arrayminus"]!.AsArray().Select(v => Math.Round((double)v!, 12)));
        Assert.False((bool)error["symmetric"]!);
        Assert.Equal(new[] { "D_rand" }, traces[1]!["x"]!.AsArray().Select(v => (string)v!));
        Assert.Equal(new[] { 0.235 }, traces[1]!["y"]!.AsArray().Select(v => (double)v!));
    }

    [Fact]
    public void Charts_refuse_inconsistent_input_with_a_message_naming_it()
    {
        Assert.Contains("'a' has 2 x values but 1 y values",
            Assert.Throws<ArgumentException>(() => Charts.Lines("t", "x", "y", [new Series("a", [1, 2], [1])])).Message);
        Assert.Contains("x value <= 0",
            Assert.Throws<ArgumentException>(() => Charts.Lines("t", "x", "y", [new Series("a", [0, 2], [1, 2])], logX: true)).Message);
        Assert.Contains("does not contain the value",
            Assert.Throws<ArgumentException>(() => Charts.BarsWithIntervals("t", "y", [new IntervalBar("b", 0.5, 0.6, 0.7)])).Message);
        Assert.Contains("'a', point 1: the interval [0.6, 0.7] does not contain the value 0.5",
            Assert.Throws<ArgumentException>(() => Charts.Lines("t", "x", "y", [new Series("a", [1, 2], [0.5, 0.5], [0.4, 0.6], [0.6, 0.7])])).Message);
        Assert.Contains("only one end of its intervals",
            Assert.Throws<ArgumentException>(() => Charts.Lines("t", "x", "y", [new Series("a", [1, 2], [0.5, 0.5], Lower: [0.4, 0.4])])).Message);
        Assert.Contains("NaN",
            Assert.Throws<ArgumentException>(() => Charts.BarsWithIntervals("t", "y", [new IntervalBar("b", double.NaN, 0, 1)])).Message);
    }

    [Fact]
    public void Notebook_chart_html_loads_the_bundled_plotly_version_and_can_be_made_offline()
    {
        var html = Charts.ToNotebookHtml(Charts.Lines("t", "x", "y", [new Series("a", [1, 2], [3, 4])]));
        Assert.Contains($"cdn.plot.ly/plotly-{Globals.PLOTLYJS_VERSION}.min", html);
        Assert.Contains($"plotly-{Globals.PLOTLYJS_VERSION}.min.js", PlotlyEmbedding.BundleName);
        Assert.True(PlotlyEmbedding.TryRewrite(html, out var offline));
        Assert.Contains("Plotly.newPlot('", offline);
        Assert.Contains("\"y\":[3.0,4.0]", offline);
        Assert.Empty(HtmlReport.FindExternalReferences(offline));
        Assert.NotEmpty(HtmlReport.FindExternalReferences(html));
    }

    [Fact]
    public void With_the_inline_setting_a_chart_carries_plotly_js_and_the_report_still_embeds_it_once()
    {
        var chart = Charts.Lines("t", "x", "y", [new Series("a", [1, 2], [3, 4])]);
        var html = Charts.ToNotebookHtml(chart, embedPlotly: true);
        Assert.Empty(HtmlReport.FindExternalReferences(html));          // renders offline, e.g. in VS Code
        Assert.Contains(PlotlyEmbedding.Source[..200], html);
        Assert.Contains("(function (define, module, exports)", html);   // sets window.Plotly even under require.js
        Assert.Contains("Plotly.newPlot(", html);
        Assert.True(Charts.ParsePlotlyMode("inline"));
        Assert.False(Charts.ParsePlotlyMode(null));
        Assert.Contains(Charts.PlotlyVariable, Assert.Throws<ArgumentException>(() => Charts.ParsePlotlyMode("offline")).Message);

        using var tmp = new TempDir();
        var nb = new SyntheticNotebook().Markdown("# 01 · Chart").Code("chart", SyntheticNotebook.Html(html), SyntheticNotebook.Html(html))
            .Write(Path.Combine(tmp.Path, "01-chart.ipynb"));
        var report = HtmlReport.Render([nb]);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(report, System.Text.RegularExpressions.Regex.Escape(PlotlyEmbedding.Source[..200])));
        Assert.Equal(2, System.Text.RegularExpressions.Regex.Matches(report, "Plotly.newPlot\\('").Count);
    }
}
