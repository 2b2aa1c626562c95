using Leakage.Cli.Tests.Support;
using Leakage.Data;

namespace Leakage.Cli.Tests;

/// <summary>
/// <c>--download</c> lets the main job's one command fetch CIFAR-10 on a fresh machine. These tests
/// point it at a mirror that refuses connections (no test may use the internet): the flag must try
/// the download only when the data folder holds no data set, and offline it must fail with one line
/// saying where to put the archive, before any run folder exists.
/// </summary>
public class DownloadTests
{
    static readonly Dictionary<string, string> RefusingMirror = new()
    {
        [Cli.MirrorVariable] = $"http://127.0.0.1:9/{Cifar10.BinaryArchiveName}",
    };

    [Fact]
    public async Task Offline_the_download_flag_says_where_to_put_the_archive_and_creates_no_run_folder()
    {
        using var dir = new TempDir();
        using var cache = new TempDir();
        var outcome = await CliProcess.RunAsync(
            ["experiment", "--profile", "quick", "--data", dir["data"], "--out", dir["run"], "--download"],
            cache.Path, TimeSpan.FromMinutes(2), RefusingMirror);

        Assert.True(outcome.ExitCode == 1, outcome.ToString());
        var line = Assert.Single(outcome.ErrorLines);
        Assert.StartsWith("error: Could not download http://127.0.0.1:9/", line);
        Assert.Contains($"put it in {dir["data"]}", line); // the folder the user asked for
        Assert.DoesNotContain("   at ", outcome.Stdout + outcome.Stderr);
        Assert.False(Directory.Exists(dir["run"]));
        Assert.Empty(Directory.GetFiles(dir["data"])); // no partial archive left behind
    }

    [Fact]
    public async Task The_download_flag_leaves_a_data_set_that_is_there_alone()
    {
        using var dir = new TempDir();
        using var cache = new TempDir();
        SyntheticData.WriteSparseBinary(dir["data"]);

        var outcome = await CliProcess.RunAsync(["data-info", "--data", dir["data"], "--download"],
            cache.Path, TimeSpan.FromMinutes(2), RefusingMirror);

        Assert.True(outcome.ExitCode == 0, outcome.ToString());
        Assert.DoesNotContain("Downloading", outcome.Stdout);
        Assert.Contains("50,000", outcome.Stdout); // the table of the data that was already there
        Assert.Contains("10,000", outcome.Stdout);
    }
}
