using System.Collections;
using Microsoft.DotNet.Interactive.Documents;
using Microsoft.DotNet.Interactive.Documents.Jupyter;

namespace Leakage.Reporting;

/// <summary>The first error output of an executed notebook.</summary>
/// <param name="CellNumber">1-based position of the cell among all cells (markdown included), as an editor shows it.</param>
/// <param name="CodeCellNumber">1-based position among code cells only.</param>
/// <param name="ErrorText">The error name and message as the kernel reported them.</param>
/// <param name="Code">The source of the failing cell.</param>
public sealed record NotebookCellError(int CellNumber, int CodeCellNumber, string ErrorText, string Code);

/// <summary>Reading .ipynb files and their outputs (Microsoft.DotNet.Interactive.Documents).</summary>
public static class ExecutedNotebook
{
    /// <summary>Parses a notebook file; a malformed one raises <see cref="InvalidDataException"/> naming it.</summary>
    public static InteractiveDocument Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Notebook {path} does not exist.", path);
        try { return Notebook.Parse(File.ReadAllText(path)); }
        catch (Exception e) when (e is System.Text.Json.JsonException or FormatException or InvalidOperationException or ArgumentException)
        {
            throw new InvalidDataException($"{path} is not a readable .ipynb notebook: {e.Message}", e);
        }
    }

    /// <summary>True for markdown cells.</summary>
    public static bool IsMarkdown(InteractiveDocumentElement cell) =>
        string.Equals(cell.KernelName, "markdown", StringComparison.OrdinalIgnoreCase);

    /// <summary>The first cell with an error output, or null when there is none.</summary>
    public static NotebookCellError? FindFirstError(InteractiveDocument document)
    {
        int codeCell = 0, cell = 0;
        foreach (var element in document.Elements)
        {
            cell++;
            if (IsMarkdown(element)) continue;
            codeCell++;
            foreach (var output in element.Outputs)
            {
                if (output is ErrorElement error)
                {
                    var text = string.IsNullOrEmpty(error.ErrorName) || error.ErrorName == "Error"
                        ? error.ErrorValue ?? ""
                        : $"{error.ErrorName}: {error.ErrorValue}";
                    return new NotebookCellError(cell, codeCell, text.Trim(), element.Contents);
                }
            }
        }
        return null;
    }

    /// <summary>
    /// The text of one output value as stored in a notebook: a string, or a list of lines (as
    /// nbformat stores multi-line values) joined.
    /// </summary>
    public static string Text(object? value) => value switch
    {
        null => "",
        string s => s,
        System.Text.Json.JsonElement { ValueKind: System.Text.Json.JsonValueKind.String } j => j.GetString() ?? "",
        System.Text.Json.JsonElement { ValueKind: System.Text.Json.JsonValueKind.Array } j => string.Concat(j.EnumerateArray().Select(e => Text(e))),
        IEnumerable items => string.Concat(items.Cast<object?>().Select(Text)),
        _ => value.ToString() ?? "",
    };
}
