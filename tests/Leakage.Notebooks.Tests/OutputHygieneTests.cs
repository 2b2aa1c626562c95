using System.Text.Json.Nodes;
using Leakage.Interactive;
using Leakage.Reporting;

namespace Leakage.Notebooks.Tests;

/// <summary>What notebook outputs show: paths without the machine's folder layout, one snapshot per progress bar.</summary>
public class OutputHygieneTests
{
    static readonly DisplayPaths Paths = new("/home/ana/src/Leakage.Notebooks", outDirectory: "/tmp/xyz/run", dataDirectory: "/home/ana/src/shared/data/cifar10-jpg", home: "/home/ana");

    [Theory]
    [InlineData("/home/ana/src/Leakage.Notebooks/runs/quick/standard", "runs/quick/standard")]
    [InlineData("/home/ana/src/Leakage.Notebooks", ".")]
    [InlineData("/home/ana/src/shared/data/cifar10-jpg", "../shared/data/cifar10-jpg")]
    [InlineData("/tmp/xyz/run/d_rand", "$LEAKAGE_OUT/d_rand")]
    [InlineData("/tmp/xyz/run", "$LEAKAGE_OUT")]
    [InlineData("/home/ana/.cache/leakage-notebooks/cifar.bin", "~/.cache/leakage-notebooks/cifar.bin")]
    [InlineData("/srv/other", "/srv/other")]
    [InlineData("relative/path", "relative/path")]
    public void A_path_is_shown_relative_to_the_repository_or_by_the_variable_that_chose_it(string path, string shown) =>
        Assert.Equal(shown, Paths.Show(path));

    [Theory]
    [InlineData("/tmp/Leakage.Notebooks", "/tmp/tmpA1b2/run", "/tmp/tmpA1b2/run/standard", "$LEAKAGE_OUT/standard")]
    [InlineData("/tmp/deep/a b/Leakage.Notebooks", "/tmp/deep/a b/run", "/tmp/deep/a b/run", "$LEAKAGE_OUT")]
    [InlineData("/tmp/Leakage.Notebooks", "/tmp/Leakage.Notebooks/runs/quick", "/tmp/Leakage.Notebooks/runs/quick/d_det", "runs/quick/d_det")]
    public void The_run_folder_is_named_by_its_variable_wherever_the_clone_lives(string repository, string outDirectory, string path, string shown) =>
        Assert.Equal(shown, new DisplayPaths(repository, outDirectory, home: "/root").Show(path));

    [Fact]
    public void Paths_inside_log_lines_are_shortened_but_longer_folder_names_are_left_alone()
    {
        Assert.Equal("Checkpoint of epoch 2 written to $LEAKAGE_OUT/checkpoints/standard/epoch-0002.",
            Paths.ShowIn("Checkpoint of epoch 2 written to /tmp/xyz/run/checkpoints/standard/epoch-0002."));
        Assert.Equal("Loaded C from runs/quick/robust_linear.", Paths.ShowIn("Loaded C from /home/ana/src/Leakage.Notebooks/runs/quick/robust_linear."));
        Assert.Equal("see /tmp/xyz/run-2/x", Paths.ShowIn("see /tmp/xyz/run-2/x"));
        Assert.Equal("data in $LEAKAGE_OUT", Paths.ShowIn("data in /tmp/xyz/run"));
    }

    [Fact]
    public void Only_the_final_snapshot_of_each_progress_bar_stays_in_an_executed_notebook()
    {
        using var tmp = new TempDir();
        static JsonObject Bar(string id, double f) => SyntheticNotebook.Html(ProgressBar.Render(new ProgressView(f, $"at {f:0.00}"), id).Markup);
        var path = new SyntheticNotebook()
            .Code("train()", SyntheticNotebook.Html(""), Bar("a", 0.1), Bar("a", 0.5), Bar("b", 1.0), Bar("a", 1.0), SyntheticNotebook.Display("text/plain", "42"))
            .Code("other()", Bar("c", 0.2), Bar("c", 0.9))
            .Write(Path.Combine(tmp.Path, "01-x.ipynb"));

        Assert.Equal(3, NotebookCleaner.KeepFinalProgress(path));

        var cells = JsonNode.Parse(File.ReadAllText(path))!["cells"]!.AsArray();
        var first = cells[0]!["outputs"]!.AsArray().Select(o => o!.ToJsonString()).ToList();
        Assert.Equal(4, first.Count);                         // the empty placeholder, b, the last a, the plain value
        Assert.Equal(2, first.Count(o => o.Contains("at 1.00")));   // the final snapshots of a and b
        Assert.DoesNotContain(first, o => o.Contains("at 0.10") || o.Contains("at 0.50"));
        var second = cells[1]!["outputs"]!.AsArray();
        Assert.Single(second);
        Assert.Contains("at 0.90", second[0]!.ToJsonString());
        Assert.Equal(0, NotebookCleaner.KeepFinalProgress(path));  // nothing left to remove
    }
}
