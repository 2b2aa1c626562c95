namespace Leakage.Interactive;

/// <summary>
/// A fragment of HTML produced by this library's display helpers. In a notebook it renders as HTML
/// when it is a cell's result or passed to <c>display(...)</c> (after <see cref="NotebookSetup.Init"/>
/// registered its formatter); elsewhere <see cref="Markup"/> is the plain string.
/// </summary>
/// <param name="Markup">The HTML markup, safe to embed in a page (all text in it is encoded).</param>
public sealed record Html(string Markup)
{
    /// <summary>An empty fragment.</summary>
    public static readonly Html Empty = new("");

    /// <summary>
    /// HTML-encodes text for element content or quoted attributes: &amp;, &lt;, &gt;, " and ' only,
    /// so non-ASCII text (ε, ‖δ‖₂, class names) stays readable in the page source (pages are UTF-8).
    /// </summary>
    public static string Encode(string? text)
    {
        if (string.IsNullOrEmpty(text)) return "";
        if (text.AsSpan().IndexOfAny("&<>\"'") < 0) return text;
        var sb = new System.Text.StringBuilder(text.Length + 16);
        foreach (var c in text)
        {
            sb.Append(c switch
            {
                '&' => "&amp;",
                '<' => "&lt;",
                '>' => "&gt;",
                '"' => "&quot;",
                '\'' => "&#39;",
                _ => c.ToString(),
            });
        }
        return sb.ToString();
    }

    /// <summary>Concatenates fragments.</summary>
    public static Html Concat(IEnumerable<Html> parts) => new(string.Concat(parts.Select(p => p.Markup)));

    /// <summary>The markup itself, so that string interpolation embeds it.</summary>
    public override string ToString() => Markup;
}
