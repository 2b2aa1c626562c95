using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Leakage.Cli.Tests.Support;

/// <summary>
/// A single-node Slurm cluster on localhost made of Debian's packages (munge, slurmctld, slurmd),
/// run as this test's own processes from a temporary folder (its own munge key and socket, its own
/// ports, state and spool folders) and stopped on dispose. <see cref="TryStart"/> returns null with
/// the reason when the binaries are missing or the cluster does not come up.
/// </summary>
public sealed class SlurmCluster : IDisposable
{
    readonly List<Process> _daemons = [];
    public string Folder { get; }
    public string ConfPath => Path.Combine(Folder, "slurm.conf");

    SlurmCluster(string folder) => Folder = folder;

    static string? Which(string name) =>
        new[] { "/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin" }.Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    public static SlurmCluster? TryStart(out string reason)
    {
        var tools = new[] { "munged", "slurmctld", "slurmd", "sbatch", "scontrol", "sinfo" }.ToDictionary(t => t, Which);
        if (tools.Values.Any(p => p is null))
        {
            reason = $"Slurm is not installed ({string.Join(", ", tools.Where(t => t.Value is null).Select(t => t.Key))} missing; apt-get install slurm-wlm munge)";
            return null;
        }
        var folder = Path.Combine(Path.GetTempPath(), "leakage-slurm-" + Guid.NewGuid().ToString("N")[..10]);
        var cluster = new SlurmCluster(folder);
        try
        {
            reason = cluster.Start(tools!);
            if (reason.Length == 0) return cluster;
        }
        catch (Exception e) when (e is IOException or System.ComponentModel.Win32Exception or InvalidOperationException or UnauthorizedAccessException)
        {
            reason = e.Message;
        }
        cluster.Dispose();
        return null;
    }

    string Start(Dictionary<string, string> tools)
    {
        var munge = Path.Combine(Folder, "munge");
        foreach (var d in new[] { munge, Path.Combine(Folder, "state"), Path.Combine(Folder, "spool"), Path.Combine(Folder, "jobs") })
            Directory.CreateDirectory(d);
        // munged refuses a key readable by others; Slurm and munge are Unix daemons (TryStart finds no binaries elsewhere).
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(munge, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var key = Path.Combine(munge, "munge.key");
        File.WriteAllBytes(key, System.Security.Cryptography.RandomNumberGenerator.GetBytes(1024));
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(key, UnixFileMode.UserRead);
        var socket = Path.Combine(munge, "munge.sock");
        Daemon(tools["munged"], "-F", "--force", $"--socket={socket}", $"--key-file={key}", $"--pid-file={munge}/munged.pid",
            $"--seed-file={munge}/munged.seed", $"--log-file={munge}/munged.log");
        if (!WaitFor(() => File.Exists(socket), TimeSpan.FromSeconds(20))) return $"munged did not start ({Log("munged")})";

        var node = Environment.MachineName;
        var user = Environment.UserName;
        long memoryMb = (long)(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1024 * 1024)) * 8 / 10;
        var conf = $"""
            ClusterName=leakagetest
            SlurmctldHost={node}(127.0.0.1)
            SlurmctldPort={FreePort()}
            SlurmdPort={FreePort()}
            AuthType=auth/munge
            AuthInfo=socket={socket}
            CredType=cred/munge
            SlurmUser={user}
            SlurmdUser={user}
            StateSaveLocation={Folder}/state
            SlurmdSpoolDir={Folder}/spool
            SlurmctldPidFile={Folder}/slurmctld.pid
            SlurmdPidFile={Folder}/slurmd.pid
            SlurmctldLogFile={Folder}/slurmctld.log
            SlurmdLogFile={Folder}/slurmd.log
            ProctrackType=proctrack/linuxproc
            TaskPlugin=task/none
            SelectType=select/cons_tres
            SelectTypeParameters=CR_CPU
            SchedulerType=sched/backfill
            MpiDefault=none
            JobAcctGatherType=jobacct_gather/none
            AccountingStorageType=accounting_storage/none
            ReturnToService=2
            MinJobAge=3600
            NodeName={node} NodeAddr=127.0.0.1 CPUs={Environment.ProcessorCount} RealMemory={memoryMb} State=UNKNOWN
            PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
            """;
        File.WriteAllText(ConfPath, conf + "\n");
        Daemon(tools["slurmctld"], "-D", "-f", ConfPath);
        Daemon(tools["slurmd"], "-D", "-f", ConfPath, "-N", node);
        string state = "";
        if (!WaitFor(() => (state = Run("sinfo", "-h", "-o", "%t").Output.Trim()) is "idle" or "mix" or "alloc", TimeSpan.FromSeconds(60)))
            return $"the node did not come up (sinfo: '{state}'; {Log("slurmctld")}; {Log("slurmd")})";
        return "";
    }

    string Log(string daemon)
    {
        var path = daemon == "munged" ? Path.Combine(Folder, "munge", "munged.log") : Path.Combine(Folder, daemon + ".log");
        var lines = File.Exists(path) ? File.ReadAllLines(path) : [];
        var err = _daemons.FirstOrDefault(d => d.StartInfo.FileName.EndsWith(daemon));
        return $"{daemon}: {string.Join(" | ", lines.TakeLast(3))}";
    }

    void Daemon(string exe, params string[] args)
    {
        var psi = new ProcessStartInfo(exe) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["SLURM_CONF"] = ConfPath;
        var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        _daemons.Add(p);
    }

    static bool WaitFor(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (condition()) return true;
            Thread.Sleep(250);
        }
        return condition();
    }

    /// <summary>Runs a Slurm client (sbatch, scontrol, ...) against this cluster.</summary>
    public (int ExitCode, string Output) Run(string tool, params string[] args) => Run(tool, args, null);

    public (int ExitCode, string Output) Run(string tool, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment, string? workingDirectory = null)
    {
        var psi = new ProcessStartInfo(tool) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["SLURM_CONF"] = ConfPath;
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        if (workingDirectory != null) psi.WorkingDirectory = workingDirectory;
        using var p = Process.Start(psi)!;
        var output = new StringBuilder();
        p.OutputDataReceived += (_, e) => { if (e.Data != null) lock (output) output.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (output) output.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        if (!p.WaitForExit(TimeSpan.FromMinutes(1))) { p.Kill(true); return (-1, "timed out"); }
        p.WaitForExit();
        lock (output) return (p.ExitCode, output.ToString());
    }

    /// <summary>The job's state (COMPLETED, FAILED, PENDING, ...) as scontrol reports it.</summary>
    public string JobState(string jobId)
    {
        var (_, output) = Run("scontrol", "show", "job", "-o", jobId);
        var states = output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ').FirstOrDefault(f => f.StartsWith("JobState=", StringComparison.Ordinal))?["JobState=".Length..])
            .Where(s => s != null).ToList();
        if (states.Count == 0) return "UNKNOWN";
        // An array job lists one line per task: it is done when every task is.
        foreach (var s in new[] { "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "RUNNING", "PENDING", "CONFIGURING", "COMPLETING" })
            if (states.Contains(s)) return s!;
        return states.All(s => s == "COMPLETED") ? "COMPLETED" : states[0]!;
    }

    public void Dispose()
    {
        foreach (var p in Enumerable.Reverse(_daemons))
        {
            try
            {
                if (!p.HasExited)
                {
                    // SIGTERM (a clean shutdown), then SIGKILL.
                    Process.Start("kill", ["-TERM", p.Id.ToString()])?.WaitForExit();
                    if (!p.WaitForExit(TimeSpan.FromSeconds(10))) p.Kill();
                }
            }
            catch (InvalidOperationException) { }
            p.Dispose();
        }
        try { Directory.Delete(Folder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
