using System.Globalization;

namespace Leakage.Benchmarks;

/// <summary>
/// The machine-wide CPU time counters of <c>/proc/stat</c> at one moment: the difference of two
/// snapshots says how much of an interval a hypervisor gave to other guests (steal) and how busy the
/// machine was. Zero everywhere off Linux.
/// </summary>
/// <param name="Total">All CPU time (every field of the "cpu" line), in clock ticks.</param>
/// <param name="Steal">Time the hypervisor ran something else while this guest wanted a CPU, in ticks.</param>
/// <param name="Idle">Idle and iowait ticks.</param>
/// <param name="At">When the snapshot was taken (Stopwatch timestamp).</param>
/// <param name="Process">CPU ticks (user + system) of the measured process so far.</param>
public readonly record struct CpuTimes(long Total, long Steal, long Idle, long At, long Process)
{
    /// <summary>Reads the aggregate "cpu" line and the CPU time of process <paramref name="pid"/> (this one by default) now.</summary>
    public static CpuTimes Read(int? pid = null)
    {
        long at = System.Diagnostics.Stopwatch.GetTimestamp();
        const string stat = "/proc/stat";
        if (!OperatingSystem.IsLinux() || !File.Exists(stat)) return new CpuTimes(0, 0, 0, at, 0);
        long process = ProcessTicks(pid);
        foreach (var line in File.ReadLines(stat))
        {
            if (!line.StartsWith("cpu ", StringComparison.Ordinal)) continue;
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
                .Select(v => long.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user.
            long total = f.Take(Math.Min(8, f.Length)).Sum();
            return new CpuTimes(total, f.Length > 7 ? f[7] : 0, f[3] + (f.Length > 4 ? f[4] : 0), at, process);
        }
        return new CpuTimes(0, 0, 0, at, process);
    }

    static long ProcessTicks(int? pid)
    {
        try
        {
            var text = File.ReadAllText(pid is int p ? $"/proc/{p}/stat" : "/proc/self/stat");
            // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
            var f = text[(text.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(f[11], CultureInfo.InvariantCulture) + long.Parse(f[12], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 0;
        }
    }

    /// <summary>
    /// Steal, busy time and the measured process's share between <paramref name="earlier"/> and this
    /// snapshot, for a process running <paramref name="threads"/> compute threads.
    /// </summary>
    public LoadInterval Since(CpuTimes earlier, int threads)
    {
        long total = Total - earlier.Total;
        double ticks = total > 0 ? total : 1;
        double seconds = System.Diagnostics.Stopwatch.GetElapsedTime(earlier.At, At).TotalSeconds;
        return new LoadInterval(
            seconds,
            (Steal - earlier.Steal) / TicksPerSecond,
            total > 0 ? (Steal - earlier.Steal) / ticks : 0,
            total > 0 ? 1 - (Idle - earlier.Idle) / ticks : 0,
            seconds > 0 && threads > 0 ? (Process - earlier.Process) / TicksPerSecond / (seconds * threads) : 0,
            LoadAverage());
    }

    /// <summary>The 1-minute load average (runnable tasks, all processes on the machine); 0 where unknown.</summary>
    public static double LoadAverage()
    {
        try
        {
            var first = File.ReadAllText("/proc/loadavg").Split(' ')[0];
            return double.Parse(first, CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { return 0; }
    }

    /// <summary>USER_HZ: /proc/stat counts in 1/100 s on every Linux architecture .NET runs on.</summary>
    public const double TicksPerSecond = 100;
}

/// <summary>What the machine did during an interval, from two <see cref="CpuTimes"/>.</summary>
/// <param name="Seconds">Wall time of the interval.</param>
/// <param name="StealSeconds">CPU time stolen by the hypervisor, summed over the guest's CPUs.</param>
/// <param name="StealFraction">Stolen share of all CPU time in the interval (0 when unknown).</param>
/// <param name="BusyFraction">Non-idle share of all CPU time (this process and its neighbours).</param>
/// <param name="ProcessCpuShare">CPU time the measured process got / (wall time x its threads): 1 when its threads ran all the time; on a shared machine, what neighbours left it.</param>
/// <param name="LoadAverage">1-minute load average at the end of the interval (runnable tasks on the whole machine, neighbours included).</param>
public readonly record struct LoadInterval(double Seconds, double StealSeconds, double StealFraction, double BusyFraction, double ProcessCpuShare, double LoadAverage);
