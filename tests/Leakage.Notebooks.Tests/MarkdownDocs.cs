using System.Globalization;
using System.Text;
using Markdig;
using Markdig.Syntax;
using Markdig.Syntax.Inlines;

namespace Leakage.Notebooks.Tests;

/// <summary>
/// The repository's markdown as GitHub renders it: its links, its headings' anchors (GitHub's slugs)
/// and its fenced code blocks, so that tests can check the links and run the commands as written.
/// </summary>
static class MarkdownDocs
{
    static readonly MarkdownPipeline Pipeline = new MarkdownPipelineBuilder().UsePipeTables().Build();

    /// <summary>README.md and every markdown file under docs/, as repository-relative paths.</summary>
    public static IReadOnlyList<string> Files()
    {
        var docs = Directory.GetFiles(Path.Combine(Repo.Root, "docs"), "*.md", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(Repo.Root, p).Replace('\\', '/'))
            .Order(StringComparer.Ordinal);
        return ["README.md", .. docs];
    }

    public static MarkdownDocument Parse(string path) => Markdown.Parse(File.ReadAllText(path), Pipeline);

    /// <summary>The link targets of a file (inline, reference and image links; not text in code).</summary>
    public static IEnumerable<string> Links(MarkdownDocument doc) =>
        doc.Descendants<LinkInline>().Select(l => l.Url).Where(u => !string.IsNullOrEmpty(u)).Select(u => u!);

    /// <summary>The anchors GitHub gives the headings of a file, in order, duplicates numbered.</summary>
    public static IReadOnlySet<string> Anchors(MarkdownDocument doc)
    {
        var anchors = new HashSet<string>(StringComparer.Ordinal);
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var heading in doc.Descendants<HeadingBlock>())
        {
            var slug = Slug(PlainText(heading.Inline));
            if (seen.TryGetValue(slug, out var n)) { seen[slug] = n + 1; anchors.Add($"{slug}-{n}"); }
            else { seen[slug] = 1; anchors.Add(slug); }
        }
        return anchors;
    }

    /// <summary>
    /// GitHub's heading slug (github-slugger): lower case; letters, digits, marks, '-' and '_' kept;
    /// each space a '-'; every other character dropped.
    /// </summary>
    public static string Slug(string heading)
    {
        var sb = new StringBuilder();
        foreach (var ch in heading.Trim().ToLowerInvariant())
        {
            var category = char.GetUnicodeCategory(ch);
            if (char.IsLetterOrDigit(ch) || ch is '-' or '_'
                || category is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.ConnectorPunctuation)
                sb.Append(ch);
            else if (ch == ' ')
                sb.Append('-');
        }
        return sb.ToString();
    }

    /// <summary>A heading's text as rendered: code spans' content, links' text, no emphasis marks.</summary>
    public static string PlainText(ContainerInline? inlines)
    {
        var sb = new StringBuilder();
        void Append(Inline inline)
        {
            switch (inline)
            {
                case LiteralInline literal: sb.Append(literal.Content.ToString()); break;
                case CodeInline code: sb.Append(code.Content); break;
                case HtmlEntityInline entity: sb.Append(entity.Transcoded.ToString()); break;
                case LineBreakInline: sb.Append(' '); break;
                case AutolinkInline auto: sb.Append(auto.Url); break;
                case ContainerInline container: foreach (var child in container) Append(child); break;
            }
        }
        if (inlines != null) foreach (var inline in inlines) Append(inline);
        return sb.ToString();
    }

    /// <summary>The lines of the one fenced code block of <paramref name="path"/> that contains <paramref name="marker"/>.</summary>
    public static IReadOnlyList<string> FencedBlock(string path, string marker)
    {
        var blocks = Parse(path).Descendants<FencedCodeBlock>()
            .Select(b => b.Lines.ToString().Replace("\r\n", "\n").Split('\n'))
            .Where(lines => lines.Any(l => l.Contains(marker, StringComparison.Ordinal)))
            .ToList();
        Assert.True(blocks.Count == 1, $"{path}: expected one code block containing '{marker}', found {blocks.Count}");
        return blocks[0].Where(l => l.Trim().Length > 0).ToList();
    }
}
