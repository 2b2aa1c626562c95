using System.Text.Json.Nodes;
using Leakage.Reporting;
using static Leakage.Notebooks.Tests.SyntheticNotebook;

namespace Leakage.Notebooks.Tests;

public class NotebookCleanerTests
{
    [Fact]
    public void Stripping_removes_outputs_and_execution_counts_and_keeps_everything_else()
    {
        using var tmp = new TempDir();
        var path = new SyntheticNotebook()
            .Markdown("# Title")
            .Code("var x = 1;\nx", Display("text/plain", "1"), Stream("out\n"))
            .Write(Path.Combine(tmp.Path, "nb.ipynb"));
        var before = JsonNode.Parse(File.ReadAllText(path))!;

        Assert.True(NotebookCleaner.HasOutputs(path));
        Assert.True(NotebookCleaner.Strip(path));

        var after = JsonNode.Parse(File.ReadAllText(path))!;
        Assert.False(NotebookCleaner.HasOutputs(path));
        var code = after["cells"]![1]!;
        Assert.Empty(code["outputs"]!.AsArray());
        Assert.Null(code["execution_count"]);
        Assert.Equal((string?)before["cells"]![1]!["source"], (string?)code["source"]);
        Assert.True(JsonNode.DeepEquals(before["cells"]![0], after["cells"]![0]));
        Assert.True(JsonNode.DeepEquals(before["metadata"], after["metadata"]));
        Assert.True(JsonNode.DeepEquals(before["cells"]![1]!["metadata"], code["metadata"]));
    }

    [Fact]
    public void Stripping_a_clean_notebook_leaves_the_file_untouched()
    {
        using var tmp = new TempDir();
        var path = new SyntheticNotebook().Markdown("# T").Code("1", Display("text/plain", "1")).Write(Path.Combine(tmp.Path, "nb.ipynb"));
        NotebookCleaner.Strip(path);
        var stamp = File.GetLastWriteTimeUtc(path);
        var text = File.ReadAllText(path);
        Assert.False(NotebookCleaner.Strip(path));
        Assert.Equal(text, File.ReadAllText(path));
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(path));
    }

    [Fact]
    public void A_file_that_is_not_a_notebook_is_refused_with_its_name()
    {
        using var tmp = new TempDir();
        var path = Path.Combine(tmp.Path, "broken.ipynb");
        File.WriteAllText(path, "{\"cells\": ");
        Assert.Contains("broken.ipynb", Assert.Throws<InvalidDataException>(() => NotebookCleaner.Strip(path)).Message);
    }

    [Fact]
    public void Committed_notebooks_are_stored_without_outputs()
    {
        var notebooks = Directory.GetFiles(Repo.Notebooks, "*.ipynb").Concat(Directory.GetFiles(Repo.TestNotebooks, "*.ipynb")).ToList();
        Assert.NotEmpty(notebooks);
        var dirty = notebooks.Where(NotebookCleaner.HasOutputs).Select(Path.GetFileName).ToList();
        Assert.True(dirty.Count == 0,
            $"Notebooks with outputs: {string.Join(", ", dirty)}. Strip them before committing: " +
            "dotnet run tools/strip-notebook-outputs.cs (or NotebookCleaner.StripAll).");
    }
}
