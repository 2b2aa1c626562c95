using System.Text.RegularExpressions;
using Leakage.Interactive;
using Leakage.Reporting;
using static Leakage.Notebooks.Tests.SyntheticNotebook;

namespace Leakage.Notebooks.Tests;

public class ReportTests
{
    const string OnePixelPng = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC";

    static string Chart(string name) =>
        Charts.ToNotebookHtml(Charts.Lines(name, "x", "y", [new Series(name, [1, 2, 3], [1, 4, 9])]));

    static string Progress(string id, double f) => ProgressBar.Render(new ProgressView(f, $"at {f:0.00}"), id).Markup;

    static string SampleNotebook(string dir, string name = "01-sample.ipynb") => new SyntheticNotebook()
        .Markdown("""
            # Sample title

            Intro with *emphasis*.

            | set | accuracy |
            | --- | ---: |
            | D_rand | 23.5% |

            ## Robust features

            Sum of squares $\sum_i x_i^2 = \mathbb{E}[w^\top x]$ and $\gamma_{10}$.

            For a linear feature, $\inf_{\|\delta\|_2 \le \varepsilon} y f(x+\delta) = y f(x) - \varepsilon \|a\|_2$.
            """)
        .Code("Console.WriteLine(\"hello\");", Stream("hello <world>\n"))
        .Code("grid", Html("<table class=\"leakage-grid\"><tr><td>kept html</td></tr></table>"), Display("image/png", OnePixelPng))
        .Code("charts", Html(Chart("first")), Html(Chart("second")))
        .Code("progress", Html(""), Html(Progress("bar1", 0.25)), Html(Progress("bar1", 0.5)), Html(Progress("bar1", 1.0)),
            Html(Progress("bar2", 1.0)), Display("text/plain", "42"))
        .Markdown("## Closing words")
        .Write(Path.Combine(dir, name));

    [Fact]
    public void The_report_is_one_offline_page_with_plotly_embedded_once()
    {
        using var tmp = new TempDir();
        var html = HtmlReport.Render([SampleNotebook(tmp.Path)]);

        Assert.Empty(HtmlReport.FindExternalReferences(html));
        Assert.DoesNotMatch(new Regex("<script[^>]+src=", RegexOptions.IgnoreCase), html);
        Assert.Equal(1, Count(html, $"<script id=\"{PlotlyEmbedding.ScriptId}\""));
        Assert.Contains(PlotlyEmbedding.Source[..200], html);
        var outsideBundle = html.Replace(PlotlyEmbedding.ScriptElement(), "");
        Assert.Equal(2, Count(outsideBundle, "Plotly.newPlot('"));
        Assert.DoesNotContain("requirejs", outsideBundle);
    }

    [Fact]
    public void Markdown_renders_tables_headings_and_readable_math()
    {
        using var tmp = new TempDir();
        var html = HtmlReport.Render([SampleNotebook(tmp.Path)]);

        Assert.Matches("<h1 id=\"[^\"]+\">Sample title</h1>", html);
        Assert.Contains("<em>emphasis</em>", html);
        Assert.Matches(@"<table>\s*<thead>\s*<tr>\s*<th>set</th>", html);
        Assert.Contains("<td style=\"text-align: right;\">23.5%</td>", html);
        Assert.Contains("<span class=\"math\">inf_{‖δ‖_2 ≤ ε} y f(x+δ) = y f(x) - ε ‖a‖₂</span>", html);
        Assert.Contains("<span class=\"math\">∑ᵢ xᵢ² = 𝔼[wᵀ x]</span>", html);
        Assert.Contains("<span class=\"math\">γ₁₀</span>", html);
        Assert.DoesNotContain(@"\(", html.Replace(PlotlyEmbedding.ScriptElement(), ""));
    }

    [Fact]
    public void Outputs_are_inline_html_png_and_escaped_text_and_code_is_collapsed()
    {
        using var tmp = new TempDir();
        var html = HtmlReport.Render([SampleNotebook(tmp.Path)]);

        Assert.Contains("<td>kept html</td>", html);
        Assert.Contains($"src=\"data:image/png;base64,{OnePixelPng}\"", html);
        Assert.Contains("<pre class=\"stream stdout\">hello &lt;world&gt;\n</pre>", html);
        Assert.Contains("<pre class=\"output text\">42</pre>", html);
        Assert.Matches("<details class=\"code\"><summary>csharp · cell 2 · 1 line</summary><pre><code>Console.WriteLine\\(&quot;hello&quot;\\);</code></pre></details>", html);
    }

    [Fact]
    public void Only_the_last_update_of_each_progress_bar_is_kept()
    {
        using var tmp = new TempDir();
        var html = HtmlReport.Render([SampleNotebook(tmp.Path)]);

        Assert.Equal(1, Count(html, "data-leakage-progress=\"bar1\""));
        Assert.Equal(1, Count(html, "data-leakage-progress=\"bar2\""));
        Assert.Contains("at 1.00", html);
        Assert.DoesNotContain("at 0.25", html);
        Assert.DoesNotContain("at 0.50", html);
    }

    [Fact]
    public void The_table_of_contents_links_every_notebook_and_section_to_an_existing_anchor()
    {
        using var tmp = new TempDir();
        var a = SampleNotebook(tmp.Path, "01-first.ipynb");
        var b = SampleNotebook(tmp.Path, "02-second.ipynb");
        var html = HtmlReport.Render([a, b], new HtmlReportOptions { Title = "Two <notebooks>", Subtitle = "profile quick" });

        var toc = Regex.Match(html, "<nav id=\"toc\">(.*?)</nav>", RegexOptions.Singleline).Groups[1].Value;
        var targets = Regex.Matches(toc, "href=\"#([^\"]+)\"").Select(m => m.Groups[1].Value).ToList();
        var ids = Regex.Matches(html, " id=\"([^\"]+)\"").Select(m => m.Groups[1].Value).ToHashSet();

        Assert.Equal(6, targets.Count); // per notebook: title, "Robust features", "Closing words"
        Assert.Equal(targets.Count, targets.Distinct().Count());
        Assert.All(targets, t => Assert.Contains(t, ids));
        Assert.Contains(">Robust features</a>", toc);
        Assert.Contains("<title>Two &lt;notebooks&gt;</title>", html);
        Assert.Contains("profile quick", html);
    }

    [Fact]
    public void A_report_without_charts_carries_no_plotly()
    {
        using var tmp = new TempDir();
        var nb = new SyntheticNotebook().Markdown("# Plain").Code("1", Display("text/plain", "1")).Write(Path.Combine(tmp.Path, "plain.ipynb"));
        var html = HtmlReport.Render([nb]);
        Assert.DoesNotContain(PlotlyEmbedding.ScriptId, html);
        Assert.True(html.Length < 20_000);
    }

    [Fact]
    public void A_chart_that_cannot_be_made_offline_is_an_error_naming_the_notebook_and_cell()
    {
        using var tmp = new TempDir();
        var nb = new SyntheticNotebook()
            .Markdown("# Odd")
            .Code("odd", Html("<script>Plotly.newPlot(someDiv, getData());</script>"))
            .Write(Path.Combine(tmp.Path, "odd.ipynb"));
        var e = Assert.Throws<InvalidOperationException>(() => HtmlReport.Render([nb]));
        Assert.Contains("odd.ipynb, cell 2", e.Message);
    }

    [Fact]
    public void An_output_that_loads_from_the_network_stops_the_report()
    {
        using var tmp = new TempDir();
        var nb = new SyntheticNotebook()
            .Markdown("# Net")
            .Code("net", Html("<script src=\"https://cdn.example.org/lib.js\"></script>"))
            .Write(Path.Combine(tmp.Path, "net.ipynb"));
        var e = Assert.Throws<InvalidOperationException>(() => HtmlReport.Render([nb]));
        Assert.Contains("cdn.example.org", e.Message);
    }

    [Theory]
    [InlineData("<script src=\"https://x.org/a.js\"></script>", true)]
    [InlineData("<img src='//x.org/a.png'>", true)]
    [InlineData("<link rel=\"stylesheet\" href=\"http://x.org/a.css\">", true)]
    [InlineData("<style>@import url(https://x.org/a.css);</style>", true)]
    [InlineData("<script>requirejs.config({})</script>", true)]
    [InlineData("<a href=\"https://distill.pub/2019/\">Goh 2019</a>", false)]
    [InlineData("<img src=\"data:image/png;base64,AAAA\">", false)]
    public void External_references_are_found_but_plain_links_are_allowed(string html, bool external) =>
        Assert.Equal(external, HtmlReport.FindExternalReferences(html).Count > 0);

    [Fact]
    public void Build_writes_the_page_atomically_and_leaves_no_temporary_files()
    {
        using var tmp = new TempDir();
        var nb = SampleNotebook(tmp.Path);
        var outDir = Path.Combine(tmp.Path, "report");
        var path = HtmlReport.Build([nb], Path.Combine(outDir, "report.html"));

        Assert.Equal(Path.Combine(outDir, "report.html"), path);
        Assert.StartsWith("<!DOCTYPE html>", File.ReadAllText(path));
        Assert.Equal(new[] { "report.html" }, Directory.GetFiles(outDir).Select(Path.GetFileName));
    }

    static int Count(string s, string what) => Regex.Matches(s, Regex.Escape(what)).Count;
}

public class ReportSummaryTests
{
    [Fact]
    public void The_report_opens_on_a_summary_of_results_json_before_any_notebook()
    {
        using var tmp = new TempDir();
        var run = Path.Combine(tmp.Path, "run");
        SyntheticResults.Write(run);
        var notebook = new SyntheticNotebook().Markdown("# 01 · Sample\n\nText.").Code("1 + 1").Write(Path.Combine(tmp.Path, "01-sample.ipynb"));
        var html = File.ReadAllText(HtmlReport.Build([notebook], Path.Combine(run, "report.html")));

        var summary = html.IndexOf($"<section class=\"summary\" id=\"{ReportSummary.Id}\">", StringComparison.Ordinal);
        var firstNotebook = html.IndexOf("<section class=\"notebook\"", StringComparison.Ordinal);
        Assert.True(summary >= 0 && summary < firstNotebook, "the summary comes before the first notebook");
        var section = html[summary..firstNotebook];
        // This run beside the published numbers (SeedStudy.Headlines), leakage with its interval and null.
        Assert.Contains("81.2%", section);
        Assert.Contains("95.3%", section);
        Assert.Contains("22.2% <span class=\"ci\">[20.1%, 24.3%]</span>", section);
        Assert.Contains("23.5%", section);
        Assert.Contains("31.1%", section);
        // The ten weight images, and gamma beside Goh's in both units, fixed decimals.
        Assert.Equal(10, System.Text.RegularExpressions.Regex.Matches(section, "<img src=\"data:image/png;base64,").Count);
        Assert.Contains(">0.190</td>", section);
        Assert.Contains(">0.290</td>", section);
        Assert.Contains(">0.214</td>", section);
        // Links into the sections, and the table of contents starts with the summary.
        Assert.Contains("<a href=\"#nb-01-sample\">", section);
        Assert.Contains("id=\"nb-01-sample\"", html);
        var toc = html[html.IndexOf("<nav id=\"toc\">", StringComparison.Ordinal)..html.IndexOf("</nav>", StringComparison.Ordinal)];
        Assert.True(toc.IndexOf("#summary", StringComparison.Ordinal) is >= 0 and var s && s < toc.IndexOf("#nb-01-sample", StringComparison.Ordinal));
        Assert.DoesNotContain(tmp.Path, html);
    }

    [Fact]
    public void The_summary_leads_with_each_probe_against_its_null_the_excess_its_interval_and_the_verdict()
    {
        using var tmp = new TempDir();
        var run = Path.Combine(tmp.Path, "run");
        var path = SyntheticResults.Write(run);
        var results = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        results["leakage"]!["comparisons"] = new System.Text.Json.Nodes.JsonObject
        {
            ["drand"] = SyntheticResults.Comparison("D_rand, robust features", 0.2222, 0.1700, 0.031, 0.073),
            ["ddet"] = SyntheticResults.Comparison("D_det, robust features", 0.0777, 0.0750, -0.004, 0.009),
            ["drandTargetNotLabel"] = SyntheticResults.Comparison("D_rand with target ≠ label, robust features", 0.05, 0.049, -0.003, 0.005),
        };
        File.WriteAllText(path, results.ToJsonString());
        var notebook = new SyntheticNotebook().Markdown("# 01 · Sample").Code("1 + 1").Write(Path.Combine(tmp.Path, "01-sample.ipynb"));
        var html = File.ReadAllText(HtmlReport.Build([notebook], Path.Combine(run, "report.html")));

        var section = html[html.IndexOf("<section class=\"summary\"", StringComparison.Ordinal)..html.IndexOf("<section class=\"notebook\"", StringComparison.Ordinal)];
        var answer = section.IndexOf("Did robust features leak?", StringComparison.Ordinal);
        Assert.True(answer >= 0 && answer < section.IndexOf("<th>measure</th>", StringComparison.Ordinal), "the answer comes first");
        Assert.Contains("<th>probe trained on</th><th>probe accuracy</th><th>null: same probe on the clean originals</th>", section);
        Assert.Contains("<td>D_rand</td><td class=\"num\">22.2%</td><td class=\"num\">17.0%</td><td class=\"num\">+5.2 [+3.1, +7.3]</td><td class=\"verdict verdict-above\">above</td><td class=\"num\">23.5%</td>", section);
        Assert.Contains("<td class=\"verdict verdict-undecided\">undecided</td><td class=\"num\">6.81%</td>", section);
        Assert.Contains("Profile quick", section);
        Assert.Contains("not meant to match the paper", section);
    }

    [Fact]
    public void Without_results_json_the_report_has_no_summary()
    {
        using var tmp = new TempDir();
        var notebook = new SyntheticNotebook().Markdown("# 01 · Sample").Code("1 + 1").Write(Path.Combine(tmp.Path, "01-sample.ipynb"));
        var html = File.ReadAllText(HtmlReport.Build([notebook], Path.Combine(tmp.Path, "report.html")));
        Assert.DoesNotContain("class=\"summary\"", html);
    }
}
