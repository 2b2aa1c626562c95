using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Leakage.Reporting;

namespace Leakage.Notebooks.Tests;

/// <summary>
/// The notebooks stay thin: short code cells that call the library, with no helpers of their own
/// (readers, formatters and checks live in Leakage.Interactive).
/// </summary>
public class ThinNotebookTests
{
    /// <summary>The longest code cell a notebook may have, in lines.</summary>
    public const int MaxCellLines = 25;

    public static TheoryData<string> Series => new(NotebookRunner.FindNotebooks(Repo.Notebooks).Select(Path.GetFileName)!);

    static IEnumerable<(int Index, string Source)> CodeCells(string notebook)
    {
        var cells = JsonNode.Parse(File.ReadAllText(Path.Combine(Repo.Notebooks, notebook)))!["cells"]!.AsArray();
        for (int i = 0; i < cells.Count; i++)
            if ((string?)cells[i]!["cell_type"] == "code")
                yield return (i, string.Concat(cells[i]!["source"]!.AsArray().Select(l => (string?)l)));
    }

    [Theory]
    [MemberData(nameof(Series))]
    public void No_code_cell_is_longer_than_25_lines(string notebook)
    {
        var cells = CodeCells(notebook).ToList();
        Assert.NotEmpty(cells);
        Assert.All(cells, c =>
        {
            int lines = c.Source.TrimEnd('\n').Split('\n').Length;
            Assert.True(lines <= MaxCellLines, $"{notebook}, cell {c.Index}: {lines} lines (at most {MaxCellLines}); move the logic into Leakage.Interactive.");
        });
    }

    [Theory]
    [MemberData(nameof(Series))]
    public void No_code_cell_defines_a_method_a_local_function_or_a_type(string notebook)
    {
        Assert.All(CodeCells(notebook), c =>
            Assert.True(CellDefinitions.Find(c.Source).Count == 0,
                $"{notebook}, cell {c.Index} defines {string.Join(", ", CellDefinitions.Find(c.Source))}; move it into Leakage.Interactive."));
    }

    [Theory]
    [InlineData("string Show(ProbeEntry e) => $\"{e.Accuracy:P1}\";", "Show")]
    [InlineData("ProbeEntry Control(string prefix) => leakage.Controls.Single(e => e.Name.StartsWith(prefix));", "Control")]
    [InlineData("void CheckEntry(ProbeEntry e, long trainImages)\n{\n    Check.Fraction(e.Name, e.Accuracy);\n}", "CheckEntry")]
    [InlineData("Html Released()\n{\n    return Html.Empty;\n}\nReleased()", "Released")]
    [InlineData("IReadOnlyList<CertifiedPoint> CurveOf(UnitCertificate c)\n{", "CurveOf")]
    [InlineData("Plotly.NET.GenericChart CurveChart(UnitCertificate c)", "CurveChart")]
    [InlineData("    static string Verdict(ProbeEntry a, ProbeEntry? b, string set) => a.Name;", "Verdict")]
    [InlineData("(double Lo, double Hi) Band(int n) => (0, 1);", "Band")]
    [InlineData("record ProbeRow(string Probe, double Percent);", "record ProbeRow")]
    [InlineData("public sealed class Helper { }", "class Helper")]
    [InlineData("enum Kind { A, B }", "enum Kind")]
    public void The_definition_finder_sees_methods_local_functions_and_types(string source, string expected) =>
        Assert.Contains(expected, CellDefinitions.Find(source));

    [Theory]
    [InlineData("Check.That(e.Lo <= e.Accuracy, \"interval\");")]
    [InlineData("var leakage = LeakageView.Of(progress.Track(h => panel.Update(h), () => run.Leakage()));")]
    [InlineData("return Tables.KeyValue(rows, \"Reading\");")]
    [InlineData("display(Tables.KeyValue(new[] { (\"a\", \"b\") }, \"Reading\"));")]
    [InlineData("foreach (var (name, s) in sizes)\n    Check.That(s.WithinBall, name);")]
    [InlineData("var (lo, hi) = Proportions.ExpectedBand(0.1, n);")]
    [InlineData("IReadOnlyList<CertificateAttack> attacks;\nusing (var scope = NewDisposeScope())\n    attacks = Run(x);")]
    [InlineData("new Series(\"chance\", new[] { 0.1, 1.0 }, new[] { 10.0, 10.0 }),")]
    [InlineData("else\n    Check.Equal(\"x\", a, b);")]
    [InlineData("var rows = sets.Select(s => new { Name = s.Name, Percent = 100 * s.Accuracy });")]
    public void The_definition_finder_ignores_calls_declarations_and_lambdas(string source) =>
        Assert.Empty(CellDefinitions.Find(source));
}

/// <summary>
/// Finds definitions in C# notebook code: types (class, record, struct, interface, enum) and
/// methods or local functions (a return type, a name and a parameter list at the start of a
/// statement), which a thin notebook leaves to the library.
/// </summary>
static partial class CellDefinitions
{
    static readonly HashSet<string> NotTypes =
    [
        "return", "new", "await", "throw", "yield", "else", "case", "goto", "using", "in", "is", "as", "out", "ref",
        "lock", "typeof", "nameof", "sizeof", "default", "checked", "unchecked", "not", "and", "or", "when", "var",
        "from", "where", "select", "let", "orderby", "group", "into", "join", "on", "equals", "by", "if", "while", "for", "foreach", "switch",
    ];

    /// <summary>What <paramref name="source"/> defines: "record X", "class X", ... for types, the name for methods.</summary>
    public static IReadOnlyList<string> Find(string source)
    {
        var found = new List<string>();
        foreach (var line in source.Split('\n'))
        {
            if (TypeDeclaration().Match(line) is { Success: true } t) { found.Add($"{t.Groups["kind"].Value} {t.Groups["name"].Value}"); continue; }
            if (MethodDeclaration().Match(line) is { Success: true } m && !NotTypes.Contains(m.Groups["type"].Value))
                found.Add(m.Groups["name"].Value);
        }
        return found;
    }

    [GeneratedRegex(@"^\s*(?:(?:public|private|internal|protected|static|sealed|abstract|partial|readonly|file)\s+)*(?<kind>record|class|struct|interface|enum)\s+(?:(?:class|struct)\s+)?(?<name>[A-Za-z_]\w*)")]
    private static partial Regex TypeDeclaration();

    [GeneratedRegex(@"^\s*(?:(?:static|async|unsafe|extern|public|private|internal)\s+)*(?<type>[A-Za-z_][\w.]*(?:<[^=;()]*>)?(?:\[\])*\??|\([^()]*\))\s+(?<name>[A-Za-z_]\w*)\s*(?:<[^()=]*>)?\s*\(")]
    private static partial Regex MethodDeclaration();
}
