namespace Leakage.Notebooks.Tests;

/// <summary>README and docs/: links that resolve, a README that stays a door, commands a user can paste.</summary>
public class DocumentationTests
{
    [Fact]
    public void Every_relative_link_in_README_and_docs_resolves_to_a_file_and_every_anchor_to_a_heading()
    {
        var broken = new List<string>();
        var anchors = new Dictionary<string, IReadOnlySet<string>>(StringComparer.Ordinal);
        IReadOnlySet<string> AnchorsOf(string fullPath) =>
            anchors.TryGetValue(fullPath, out var a) ? a : anchors[fullPath] = MarkdownDocs.Anchors(MarkdownDocs.Parse(fullPath));

        var checkedLinks = 0;
        foreach (var file in MarkdownDocs.Files())
        {
            var source = Path.Combine(Repo.Root, file);
            foreach (var url in MarkdownDocs.Links(MarkdownDocs.Parse(source)))
            {
                if (Uri.TryCreate(url, UriKind.Absolute, out var absolute) && absolute.Scheme is not "file") continue; // https:, mailto:
                checkedLinks++;
                var hash = url.IndexOf('#');
                var pathPart = Uri.UnescapeDataString(hash < 0 ? url : url[..hash]);
                var anchor = hash < 0 ? null : Uri.UnescapeDataString(url[(hash + 1)..]);
                var target = pathPart.Length == 0 ? source : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(source)!, pathPart));

                if (!File.Exists(target) && !Directory.Exists(target)) { broken.Add($"{file}: ({url}): {pathPart} does not exist"); continue; }
                if (!Path.GetFullPath(target).StartsWith(Repo.Root, StringComparison.Ordinal)) { broken.Add($"{file}: ({url}) leaves the repository"); continue; }
                if (anchor is null) continue;
                if (!target.EndsWith(".md", StringComparison.OrdinalIgnoreCase)) { broken.Add($"{file}: ({url}): an anchor into a file that is not markdown"); continue; }
                if (!AnchorsOf(target).Contains(anchor))
                    broken.Add($"{file}: ({url}): no heading with anchor #{anchor} in {Path.GetRelativePath(Repo.Root, target)}");
            }
        }
        Assert.True(checkedLinks > 20, $"only {checkedLinks} relative links found in README and docs/: is the parser reading them?");
        Assert.True(broken.Count == 0, "Broken links:\n" + string.Join("\n", broken));
    }

    [Theory]
    [InlineData("TorchSharp on older Linux", "torchsharp-on-older-linux")]
    [InlineData("Interrupted runs, cached steps and seeds", "interrupted-runs-cached-steps-and-seeds")]
    [InlineData("From Python: `export`", "from-python-export")]
    [InlineData("C's gamma table: weight decay closes it", "cs-gamma-table-weight-decay-closes-it")]
    [InlineData("How far the `cpu` profile is from 10 minutes of steps on 2 cores", "how-far-the-cpu-profile-is-from-10-minutes-of-steps-on-2-cores")]
    [InlineData("Estimate for `paper` on N GPU machines", "estimate-for-paper-on-n-gpu-machines")]
    public void Heading_anchors_are_GitHubs_slugs(string heading, string anchor)
    {
        var doc = Markdig.Markdown.Parse("## " + heading);
        Assert.Contains(anchor, MarkdownDocs.Anchors(doc));
    }

    [Fact]
    public void The_same_heading_twice_gets_GitHubs_numbered_anchor()
    {
        var anchors = MarkdownDocs.Anchors(Markdig.Markdown.Parse("## Slurm\n\ntext\n\n## Slurm\n"));
        Assert.Equal(["slurm", "slurm-1"], anchors.Order());
    }

    [Fact]
    public void README_is_a_door_of_at_most_300_lines()
    {
        var lines = File.ReadAllLines(Path.Combine(Repo.Root, "README.md")).Length;
        Assert.True(lines <= 300, $"README.md has {lines} lines; the lab record belongs in docs/ (results.md, fidelity.md, performance.md, scale-out.md)");
    }

    [Fact]
    public void README_docs_and_notebooks_name_no_folder_that_exists_only_on_our_machines_and_no_neighbouring_jobs()
    {
        string[] forbidden = ["../shared/data", "other jobs", "other agents", "agent's", "agents'"];
        var files = MarkdownDocs.Files().Select(f => Path.Combine(Repo.Root, f))
            .Concat(Directory.GetFiles(Repo.Notebooks, "*.ipynb"))
            .Append(Path.Combine(Repo.Notebooks, "README.md"));
        var found = (from file in files
                     let text = File.ReadAllText(file)
                     from word in forbidden
                     where text.Contains(word, StringComparison.OrdinalIgnoreCase)
                     select $"{Path.GetRelativePath(Repo.Root, file)}: \"{word}\"").ToList();
        Assert.True(found.Count == 0, "Say \"a shared machine\" or \"--data data\" instead:\n" + string.Join("\n", found));
    }
}
