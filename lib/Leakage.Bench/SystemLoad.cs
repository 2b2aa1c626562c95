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
public readonly record struct CpuTimes(long Total, long Steal, long Idle, long At)
{
    /// <summary>Reads the aggregate "cpu" line now.</summary>
    public static CpuTimes Read()
    {
        long at = System.Diagnostics.Stopwatch.GetTimestamp();
        const string stat = "/proc/stat";
        if (!OperatingSystem.IsLinux() || !File.Exists(stat)) return new CpuTimes(0, 0, 0, at);
        foreach (var line in File.ReadLines(stat))
        {
            if (!line.StartsWith("cpu ", StringComparison.Ordinal)) continue;
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
                .Select(v => long.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user.
            long total = f.Take(Math.Min(8, f.Length)).Sum();
            return new CpuTimes(total, f.Length > 7 ? f[7] : 0, f[3] + (f.Length > 4 ? f[4] : 0), at);
        }
        return new CpuTimes(0, 0, 0, at);
    }

    /// <summary>Steal and busy time between <paramref name="earlier"/> and this snapshot.</summary>
    public LoadInterval Since(CpuTimes earlier)
    {
        long total = Total - earlier.Total;
        double ticks = total > 0 ? total : 1;
        return new LoadInterval(
            System.Diagnostics.Stopwatch.GetElapsedTime(earlier.At, At).TotalSeconds,
            (Steal - earlier.Steal) / TicksPerSecond,
            total > 0 ? (Steal - earlier.Steal) / ticks : 0,
            total > 0 ? 1 - (Idle - earlier.Idle) / ticks : 0);
    }

    /// <summary>USER_HZ: /proc/stat counts in 1/100 s on every Linux architecture .NET runs on.</summary>
    public const double TicksPerSecond = 100;
}

/// <summary>What the machine did during an interval, from two <see cref="CpuTimes"/>.</summary>
/// <param name="Seconds">Wall time of the interval.</param>
/// <param name="StealSeconds">CPU time stolen by the hypervisor, summed over the guest's CPUs.</param>
/// <param name="StealFraction">Stolen share of all CPU time in the interval (0 when unknown).</param>
/// <param name="BusyFraction">Non-idle share of all CPU time (this process and its neighbours).</param>
public readonly record struct LoadInterval(double Seconds, double StealSeconds, double StealFraction, double BusyFraction);
