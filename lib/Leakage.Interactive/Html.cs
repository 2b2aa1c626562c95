using System.Net;

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

    /// <summary>HTML-encodes text for use in element content or quoted attributes.</summary>
    public static string Encode(string? text) => WebUtility.HtmlEncode(text ?? "");

    /// <summary>Concatenates fragments.</summary>
    public static Html Concat(IEnumerable<Html> parts) => new(string.Concat(parts.Select(p => p.Markup)));

    /// <summary>The markup itself, so that string interpolation embeds it.</summary>
    public override string ToString() => Markup;
}
