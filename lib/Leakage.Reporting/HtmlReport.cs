using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Leakage.Experiment;
using Leakage.Interactive;
using Leakage.IO;
using Markdig;
using Markdig.Renderers;
using Markdig.Renderers.Html;
using Markdig.Syntax;
using Markdig.Syntax.Inlines;
using Microsoft.DotNet.Interactive.Documents;

namespace Leakage.Reporting;

/// <summary>How <see cref="HtmlReport"/> lays out the report.</summary>
public sealed record HtmlReportOptions
{
    /// <summary>Page title and top heading.</summary>
    public string Title { get; init; } = "Robust Feature Leakage: results";

    /// <summary>A line under the title, e.g. the profile and the date; null for none.</summary>
    public string? Subtitle { get; init; }

    /// <summary>Show code cells collapsed (a click opens them) rather than open.</summary>
    public bool CollapseCode { get; init; } = true;

    /// <summary>
    /// The run's results.json: the report opens on a summary of it (<see cref="ReportSummary"/>).
    /// Null: <see cref="HtmlReport.Build"/> uses the results.json beside the report when there is one;
    /// <see cref="HtmlReport.Render"/> shows no summary.
    /// </summary>
    public string? ResultsPath { get; init; }
}

/// <summary>
/// Builds one self-contained HTML page from executed notebooks: markdown rendered with Markdig
/// (pipe and grid tables, math kept as readable text), code cells collapsed, outputs inline
/// (HTML kept, PNG as base64, text as preformatted text), charts drawn by one inline copy of
/// plotly.js, and a table of contents. The page loads nothing from the network, so it opens
/// offline and can be archived or mailed as one file.
/// </summary>
public static partial class HtmlReport
{
    static readonly MarkdownPipeline Pipeline = new MarkdownPipelineBuilder()
        .UsePipeTables()
        .UseGridTables()
        .UseMathematics()
        .UseEmphasisExtras()
        .UseAutoLinks()
        .UseFootnotes()
        .UseTaskLists()
        // No UseListExtras: its alphabetic lists turn reference lines such as "- A. Ilyas, ..." into
        // nested ordered lists, unlike the editors' markdown (markdown-it) the notebooks are written for.
        .Build();

    /// <summary>Renders the report and writes it to <paramref name="outputPath"/> atomically; returns the full path.</summary>
    /// <exception cref="InvalidOperationException">The page would need the network (an output could not be made offline).</exception>
    public static string Build(IEnumerable<string> executedNotebooks, string outputPath, HtmlReportOptions? options = null)
    {
        var full = Path.GetFullPath(outputPath);
        options ??= new HtmlReportOptions();
        var beside = Path.Combine(Path.GetDirectoryName(full)!, ResultsFile.FileName);
        if (options.ResultsPath is null && File.Exists(beside)) options = options with { ResultsPath = beside };
        var html = Render(executedNotebooks, options);
        AtomicFile.WriteAllText(full, html);
        return full;
    }

    /// <summary>Renders the report as a string (see <see cref="Build"/>).</summary>
    public static string Render(IEnumerable<string> executedNotebooks, HtmlReportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(executedNotebooks);
        options ??= new HtmlReportOptions();
        var paths = executedNotebooks.Select(Path.GetFullPath).ToList();
        if (paths.Count == 0) throw new ArgumentException("The report needs at least one notebook.", nameof(executedNotebooks));

        var ids = new IdSet();
        var toc = new List<(int Level, string Id, string Text)>();
        var body = new StringBuilder();
        bool anyChart = false;

        for (int n = 0; n < paths.Count; n++)
        {
            var path = paths[n];
            var doc = ExecutedNotebook.Read(path);
            var sectionId = ids.Claim("nb-" + Slug(Path.GetFileNameWithoutExtension(path)));
            body.Append("<section class=\"notebook\" id=\"").Append(sectionId).Append("\">");
            body.Append("<p class=\"source\">").Append(Encode(Path.GetFileName(path))).Append("</p>");
            bool titled = false;
            int cellNumber = 0;
            foreach (var cell in doc.Elements)
            {
                cellNumber++;
                if (ExecutedNotebook.IsMarkdown(cell))
                {
                    body.Append(RenderMarkdown(cell.Contents, ids, toc, ref titled, sectionId));
                    continue;
                }
                if (!titled)
                {
                    toc.Add((1, sectionId, Path.GetFileNameWithoutExtension(path)));
                    titled = true;
                }
                body.Append(RenderCode(cell, cellNumber, options.CollapseCode));
                body.Append(RenderOutputs(cell, path, cellNumber, ref anyChart));
            }
            body.Append("</section>");
        }

        var page = new StringBuilder();
        page.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
            .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
            .Append("<title>").Append(Encode(options.Title)).Append("</title>\n")
            .Append("<style>").Append(Css).Append("</style>\n");
        if (anyChart) page.Append(PlotlyEmbedding.ScriptElement()).Append('\n');
        string summary = "";
        if (options.ResultsPath is { } resultsPath && File.Exists(resultsPath))
        {
            summary = ReportSummary.Render(resultsPath, toc.Where(t => t.Level == 1).Select(t => (t.Id, t.Text)).ToList());
            toc.Insert(0, (1, ReportSummary.Id, "Summary"));
        }
        page.Append("</head>\n<body>\n<nav id=\"toc\"><p class=\"toc-title\">Contents</p>").Append(RenderToc(toc)).Append("</nav>\n<main>\n")
            .Append("<header><h1 class=\"report-title\">").Append(Encode(options.Title)).Append("</h1>");
        if (options.Subtitle != null) page.Append("<p class=\"subtitle\">").Append(Encode(options.Subtitle)).Append("</p>");
        page.Append("</header>\n").Append(summary).Append(body).Append("\n<footer>Generated ")
            .Append(DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture))
            .Append(" from ").Append(paths.Count).Append(paths.Count == 1 ? " notebook" : " notebooks").Append(".</footer>\n</main>\n</body>\n</html>\n");

        var html = page.ToString();
        var external = FindExternalReferences(html);
        if (external.Count > 0)
            throw new InvalidOperationException(
                "The report would load resources from the network, so it would not open offline: " + string.Join("; ", external.Take(5)));
        return html;
    }

    /// <summary>
    /// Everything in <paramref name="html"/> that a browser would fetch from the network: script,
    /// image, frame, media or stylesheet sources with an http(s) or protocol-relative URL, CSS
    /// <c>@import</c>/<c>url()</c> of such URLs, and require.js loaders. Plain links (&lt;a href&gt;)
    /// are fine. The inline plotly.js bundle is not scanned (it names URLs it never fetches for
    /// the charts used here).
    /// </summary>
    public static IReadOnlyList<string> FindExternalReferences(string html)
    {
        ArgumentNullException.ThrowIfNull(html);
        var scan = BundleScript().Replace(html, "");
        var found = new List<string>();
        foreach (Match m in ExternalSource().Matches(scan)) found.Add(m.Value);
        foreach (Match m in ExternalCss().Matches(scan)) found.Add(m.Value);
        foreach (Match m in RequireJs().Matches(scan)) found.Add(m.Value);
        return found;
    }

    // ---------------------------------------------------------------- markdown

    static string RenderMarkdown(string markdown, IdSet ids, List<(int, string, string)> toc, ref bool titled, string sectionId)
    {
        var document = Markdown.Parse(markdown, Pipeline);
        foreach (var heading in document.Descendants<HeadingBlock>())
        {
            var text = InlineText(heading.Inline);
            string id;
            if (!titled && heading.Level == 1)
            {
                id = sectionId + "-title";
                titled = true;
                toc.Add((1, sectionId, text));
            }
            else
            {
                id = ids.Claim(sectionId + "-" + Slug(text));
                if (heading.Level <= 2) toc.Add((2, id, text));
            }
            heading.GetAttributes().Id = id;
        }
        using var writer = new StringWriter(CultureInfo.InvariantCulture);
        var renderer = new HtmlRenderer(writer);
        Pipeline.Setup(renderer);
        renderer.Render(document);
        writer.Flush();
        return "<div class=\"markdown\">" + ReadableMath(writer.ToString()) + "</div>";
    }

    static string InlineText(ContainerInline? inline)
    {
        if (inline is null) return "";
        var sb = new StringBuilder();
        foreach (var child in inline)
        {
            switch (child)
            {
                case LiteralInline l: sb.Append(l.Content.ToString()); break;
                case CodeInline c: sb.Append(c.Content); break;
                case Markdig.Extensions.Mathematics.MathInline m: sb.Append(TexToText(m.Content.ToString())); break;
                case ContainerInline c: sb.Append(InlineText(c)); break;
                case LineBreakInline: sb.Append(' '); break;
            }
        }
        return sb.ToString().Trim();
    }

    // ---------------------------------------------------------------- code and outputs

    static string RenderCode(InteractiveDocumentElement cell, int cellNumber, bool collapse)
    {
        var code = cell.Contents.TrimEnd();
        if (code.Length == 0) return "";
        int lines = code.Count(c => c == '\n') + 1;
        return $"<details class=\"code\"{(collapse ? "" : " open")}><summary>{Encode(cell.KernelName ?? "code")} · cell {cellNumber} · {lines} line{(lines == 1 ? "" : "s")}</summary>" +
               $"<pre><code>{Encode(code)}</code></pre></details>";
    }

    static string RenderOutputs(InteractiveDocumentElement cell, string notebook, int cellNumber, ref bool anyChart)
    {
        var outputs = cell.Outputs.ToList();
        // Progress bars: dotnet-repl records every update as its own output; keep the last one per bar.
        var lastProgress = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < outputs.Count; i++)
            if (ProgressId(outputs[i]) is { } pid) lastProgress[pid] = i;

        var sb = new StringBuilder();
        for (int i = 0; i < outputs.Count; i++)
        {
            var output = outputs[i];
            if (ProgressId(output) is { } pid && lastProgress[pid] != i) continue;
            switch (output)
            {
                case DisplayElement d: sb.Append(RenderData(d.Data, notebook, cellNumber, ref anyChart)); break;
                case ReturnValueElement r: sb.Append(RenderData(r.Data, notebook, cellNumber, ref anyChart)); break;
                case TextElement t:
                    sb.Append("<pre class=\"stream ").Append(t.Name == "stderr" ? "stderr" : "stdout").Append("\">")
                      .Append(Encode(t.Text)).Append("</pre>");
                    break;
                case ErrorElement e:
                    sb.Append("<pre class=\"error\">").Append(Encode($"{e.ErrorName}: {e.ErrorValue}")).Append("</pre>");
                    break;
            }
        }
        return sb.Length == 0 ? "" : "<div class=\"outputs\">" + sb + "</div>";
    }

    static string? ProgressId(InteractiveDocumentOutputElement output)
    {
        var data = output switch { DisplayElement d => d.Data, ReturnValueElement r => r.Data, _ => null };
        if (data is null || !data.TryGetValue("text/html", out var v)) return null;
        var m = ProgressAttribute().Match(ExecutedNotebook.Text(v));
        return m.Success ? m.Groups[1].Value : null;
    }

    static string RenderData(IDictionary<string, object> data, string notebook, int cellNumber, ref bool anyChart)
    {
        if (data.TryGetValue("text/html", out var htmlValue))
        {
            var html = ExecutedNotebook.Text(htmlValue);
            if (PlotlyEmbedding.IsChart(html))
            {
                if (!PlotlyEmbedding.TryRewrite(html, out var chart))
                    throw new InvalidOperationException(
                        $"{Path.GetFileName(notebook)}, cell {cellNumber}: a plotly chart output has an unexpected shape and cannot be embedded offline.");
                anyChart = true;
                return chart;
            }
            return "<div class=\"output html\">" + html + "</div>";
        }
        if (data.TryGetValue("image/png", out var png))
            return $"<div class=\"output\"><img alt=\"cell {cellNumber} output\" src=\"data:image/png;base64,{ExecutedNotebook.Text(png).Replace("\n", "", StringComparison.Ordinal)}\"/></div>";
        if (data.TryGetValue("image/svg+xml", out var svg))
            return "<div class=\"output\">" + ExecutedNotebook.Text(svg) + "</div>";
        if (data.TryGetValue("text/markdown", out var md))
            return "<div class=\"output markdown\">" + Markdown.ToHtml(ExecutedNotebook.Text(md), Pipeline) + "</div>";
        if (data.TryGetValue("text/plain", out var text))
            return "<pre class=\"output text\">" + Encode(ExecutedNotebook.Text(text)) + "</pre>";
        if (data.TryGetValue("application/json", out var json))
            return "<pre class=\"output json\">" + Encode(ExecutedNotebook.Text(json)) + "</pre>";
        return "";
    }

    // ---------------------------------------------------------------- table of contents

    static string RenderToc(List<(int Level, string Id, string Text)> toc)
    {
        var sb = new StringBuilder("<ul>");
        bool open = false;
        foreach (var (level, id, text) in toc)
        {
            if (level == 1)
            {
                if (open) sb.Append("</ul></li>");
                sb.Append("<li><a href=\"#").Append(id).Append("\">").Append(Encode(text)).Append("</a><ul>");
                open = true;
            }
            else
            {
                if (!open) { sb.Append("<li><ul>"); open = true; }
                sb.Append("<li><a href=\"#").Append(id).Append("\">").Append(Encode(text)).Append("</a></li>");
            }
        }
        if (open) sb.Append("</ul></li>");
        return sb.Append("</ul>").ToString();
    }

    // ---------------------------------------------------------------- helpers

    static string Encode(string? s) => Leakage.Interactive.Html.Encode(s);

    static string Slug(string text)
    {
        var s = SlugStrip().Replace(text.ToLowerInvariant(), "-").Trim('-');
        return s.Length == 0 ? "section" : s.Length > 60 ? s[..60].TrimEnd('-') : s;
    }

    sealed class IdSet
    {
        readonly HashSet<string> _used = new(StringComparer.Ordinal);
        public string Claim(string wanted)
        {
            var id = wanted;
            for (int i = 2; !_used.Add(id); i++) id = $"{wanted}-{i}";
            return id;
        }
    }

    [GeneratedRegex(@"[^a-z0-9]+")]
    private static partial Regex SlugStrip();

    [GeneratedRegex(ProgressBar.IdAttribute + "=\"([^\"]+)\"")]
    private static partial Regex ProgressAttribute();

    [GeneratedRegex(@"<script id=""plotly-js""[^>]*>.*?</script>", RegexOptions.Singleline)]
    private static partial Regex BundleScript();

    [GeneratedRegex(@"<(?:script|img|iframe|frame|link|source|video|audio|embed|object)\b[^>]*?\b(?:src|href|data)\s*=\s*[""']?\s*(?:https?:)?//[^""'\s>]*", RegexOptions.IgnoreCase)]
    private static partial Regex ExternalSource();

    [GeneratedRegex(@"(?:@import\s+(?:url\()?|url\()\s*[""']?\s*(?:https?:)?//[^""'\s)]*", RegexOptions.IgnoreCase)]
    private static partial Regex ExternalCss();

    [GeneratedRegex(@"requirejs\.config|require\.min\.js", RegexOptions.IgnoreCase)]
    private static partial Regex RequireJs();

    const string Css = """
        :root { --text: #1f2328; --muted: #656d76; --line: #d0d7de; --bg-code: #f6f8fa; --accent: #0969da; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 16px/1.55 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: var(--text); }
        #toc { position: fixed; top: 0; left: 0; bottom: 0; width: 270px; overflow-y: auto; padding: 16px; border-right: 1px solid var(--line); background: #fbfbfc; font-size: 14px; }
        #toc ul { list-style: none; padding-left: 0; margin: 0; }
        #toc ul ul { padding-left: 14px; margin-bottom: 6px; }
        #toc a { color: var(--text); text-decoration: none; }
        #toc a:hover { color: var(--accent); }
        .toc-title { font-weight: 600; margin-top: 0; }
        main { margin-left: 270px; padding: 24px 40px 64px; max-width: 1100px; }
        .report-title { margin-top: 0; }
        .subtitle { color: var(--muted); margin-top: -8px; }
        section.summary { border-bottom: 2px solid var(--line); padding-bottom: 16px; margin-bottom: 24px; }
        .summary-table th, .summary-table td { border: 1px solid var(--line); padding: 4px 10px; text-align: left; vertical-align: bottom; }
        .summary-table td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
        .summary .verdict { font-weight: 600; }
        .summary .answer-setting { font-size: 14px; }
        .summary .ci, .summary .note { color: var(--muted); }
        .summary-links a { margin: 0 2px; }
        section.notebook { border-top: 2px solid var(--line); margin-top: 40px; padding-top: 8px; }
        .source { color: var(--muted); font-size: 13px; font-family: ui-monospace, monospace; margin: 0; }
        table { border-collapse: collapse; margin: 8px 0; }
        .markdown table th, .markdown table td, table.leakage-table th, table.leakage-table td { border: 1px solid var(--line); padding: 4px 10px; }
        table.leakage-table caption { caption-side: top; text-align: left; font-weight: 600; padding-bottom: 4px; }
        details.code { margin: 10px 0 4px; }
        details.code summary { cursor: pointer; color: var(--muted); font-size: 13px; font-family: ui-monospace, monospace; }
        pre { background: var(--bg-code); padding: 10px 12px; overflow-x: auto; font-size: 13px; border-radius: 6px; }
        code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
        .outputs { margin: 6px 0 14px; padding-left: 10px; border-left: 3px solid var(--line); overflow-x: auto; }
        pre.stderr, pre.error { background: #fff1f0; color: #a40e26; }
        .math { font-family: "Cambria Math", "STIX Two Math", "Times New Roman", serif; font-style: italic; }
        div.math { text-align: center; margin: 8px 0; }
        footer { margin-top: 48px; color: var(--muted); font-size: 13px; }
        @media print { #toc { display: none; } main { margin-left: 0; } details.code { display: none; } }
        """;
}
