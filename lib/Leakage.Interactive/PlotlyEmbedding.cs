using System.Text.RegularExpressions;
using Plotly.NET;

namespace Leakage.Interactive;

/// <summary>
/// Offline plotly: the plotly.js bundle that ships inside the Plotly.NET assembly, and the rewrite
/// of notebook chart outputs (which load plotly.js through require.js from a CDN) into plain
/// <c>Plotly.newPlot</c> calls against that one inline copy.
/// </summary>
public static partial class PlotlyEmbedding
{
    /// <summary>The id of the &lt;script&gt; element that holds plotly.js in the report.</summary>
    public const string ScriptId = "plotly-js";

    static readonly Lazy<(string Name, string Source)> Bundle = new(LoadBundle);

    /// <summary>Resource name of the bundle, e.g. "Plotly.NET.plotly-2.28.0.min.js".</summary>
    public static string BundleName => Bundle.Value.Name;

    /// <summary>plotly.js (minified), exactly as Plotly.NET embeds it.</summary>
    public static string Source => Bundle.Value.Source;

    /// <summary>The bundle as a &lt;script&gt; element, safe to place in an HTML page.</summary>
    public static string ScriptElement() =>
        $"<script id=\"{ScriptId}\" type=\"text/javascript\">{EscapeForScript(Source)}</script>";

    /// <summary>
    /// The bundle as a &lt;script&gt; element for a notebook output: evaluated with <c>define</c>,
    /// <c>module</c> and <c>exports</c> hidden, so that plotly.js sets <c>window.Plotly</c> even where
    /// the front end has loaded require.js (plotly.js would otherwise register itself as an AMD
    /// module and leave <c>Plotly</c> undefined).
    /// </summary>
    public static string NotebookScriptElement() =>
        $"<script type=\"text/javascript\">(function (define, module, exports) {{\n{EscapeForScript(Source)}\n}}).call(window);</script>";

    /// <summary>Whether an HTML output draws a plotly chart.</summary>
    public static bool IsChart(string html) => html.Contains("Plotly.newPlot(", StringComparison.Ordinal);

    /// <summary>
    /// Rewrites a chart output from Plotly.NET (with or without the require.js loader) into a div
    /// and a script that calls <c>Plotly.newPlot</c> directly. Returns false when the output does
    /// not have the expected shape (the caller reports it).
    /// </summary>
    public static bool TryRewrite(string html, out string rewritten)
    {
        rewritten = html;
        var id = NewPlotId().Match(html);
        var data = Variable("data").Match(html);
        var layout = Variable("layout").Match(html);
        var config = Variable("config").Match(html);
        if (!id.Success || !data.Success || !layout.Success) return false;
        var divId = id.Groups[1].Value;
        var cfg = config.Success ? config.Groups[1].Value : "{\"responsive\":true}";
        rewritten =
            $"<div class=\"leakage-chart\"><div id=\"{divId}\"></div><script type=\"text/javascript\">" +
            $"Plotly.newPlot('{divId}', {EscapeForScript(data.Groups[1].Value)}, {EscapeForScript(layout.Groups[1].Value)}, {EscapeForScript(cfg)});" +
            "</script></div>";
        return true;
    }

    /// <summary>Makes text safe inside &lt;script&gt;: "&lt;/" becomes "&lt;\/" (the same string to JavaScript and JSON).</summary>
    public static string EscapeForScript(string js) => js.Replace("</", "<\\/", StringComparison.Ordinal);

    [GeneratedRegex(@"Plotly\.newPlot\(\s*'([^']+)'")]
    private static partial Regex NewPlotId();

    static Regex Variable(string name) => new($@"^\s*var {name} = (.*?);\s*$", RegexOptions.Multiline | RegexOptions.CultureInvariant);

    static (string, string) LoadBundle()
    {
        var asm = typeof(GenericChart).Assembly;
        var name = asm.GetManifestResourceNames()
                       .Where(n => n.StartsWith("Plotly.NET.plotly-", StringComparison.Ordinal) && n.EndsWith(".min.js", StringComparison.Ordinal))
                       .OrderBy(n => n, StringComparer.Ordinal).LastOrDefault()
                   ?? throw new InvalidOperationException($"{asm.GetName().Name} {asm.GetName().Version} does not embed a plotly.js bundle; the report cannot include charts offline.");
        using var stream = asm.GetManifestResourceStream(name)!;
        using var reader = new StreamReader(stream);
        return (name, reader.ReadToEnd());
    }
}
