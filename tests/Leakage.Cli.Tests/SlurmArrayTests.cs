using Leakage.Cli.Tests.Support;

namespace Leakage.Cli.Tests;

/// <summary>
/// tools/slurm on a real (single-node) Slurm cluster: the job array of three shards, numbered from 1
/// as many sites do, and the finishing job submitted with afterok, write the results of one process.
/// </summary>
public class SlurmArrayTests
{
    [SkippableFact]
    public async Task A_job_array_of_three_shards_and_its_finishing_job_write_the_single_process_results()
    {
        using var cluster = SlurmCluster.TryStart(out var reason);
        Skip.If(cluster is null, $"Slurm test skipped: a local Slurm cluster could not start ({reason}).");

        var reference = await TestRuns.Reference; // the single-process run, same settings and threads
        var jobs = Path.Combine(cluster.Folder, "jobs");
        var shared = Path.Combine(cluster.Folder, "run");
        var submit = Path.Combine(RepositoryRoot(), "tools", "slurm", "submit.sh");
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h && File.Exists(h) ? h : "dotnet";
        var environment = new Dictionary<string, string>
        {
            ["LEAKAGE_CLI"] = $"{Quoted(host)} {Quoted(CliProcess.DllPath)}", // a clone's path may hold spaces
            ["LEAKAGE_CACHE"] = TestRuns.Cache,
            ["NO_COLOR"] = "1",
            ["ARRAY_FIRST"] = "1",
        };
        var experiment = TestRuns.Experiment(shared).Skip(1); // the options after 'experiment'
        var (code, output) = cluster.Run(submit, experiment.Prepend("3"), environment, jobs);
        Assert.True(code == 0, $"submit.sh failed: {output}");
        var ids = output.Trim().Split(' ');
        Assert.Equal(2, ids.Length);
        var (array, finish) = (ids[0], ids[1]);

        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(12);
        string state;
        while ((state = cluster.JobState(finish)) is not ("COMPLETED" or "FAILED" or "CANCELLED" or "TIMEOUT" or "NODE_FAIL")
               && cluster.JobState(array) is not ("FAILED" or "CANCELLED") && DateTime.UtcNow < deadline)
            await Task.Delay(TimeSpan.FromSeconds(2));

        string Outputs() => string.Join("\n", Directory.GetFiles(jobs, "*.out").Order().Select(f => $"--- {Path.GetFileName(f)}\n{File.ReadAllText(f)}"));
        Assert.True(state == "COMPLETED", $"finishing job {finish}: {state}, array {array}: {cluster.JobState(array)}\n{Outputs()}");
        Assert.Equal("COMPLETED", cluster.JobState(array));
        var shardLogs = Directory.GetFiles(jobs, "leakage-shard-*.out").Order().Select(File.ReadAllText).ToList();
        Assert.Equal(3, shardLogs.Count);
        for (int k = 0; k < 3; k++) Assert.Contains(shardLogs, l => l.Contains($"shard {k}/3 on"));
        Results.AssertSame(reference, shared);
    }

    static string RepositoryRoot()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Path.GetDirectoryName(CliProcess.DllPath)! })
            for (var d = new DirectoryInfo(start); d != null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "Leakage.Notebooks.sln"))) return d.FullName;
        throw new InvalidOperationException("repository root (Leakage.Notebooks.sln) not found above " + AppContext.BaseDirectory);
    }

    /// <summary><paramref name="word"/> as one shell word (single quotes), as LEAKAGE_CLI is parsed.</summary>
    static string Quoted(string word) => "'" + word.Replace("'", "'\\''") + "'";
}
