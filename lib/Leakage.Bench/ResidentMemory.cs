using System.Diagnostics;
using System.Globalization;

namespace Leakage.Benchmarks;

/// <summary>
/// Resident memory of this process (managed heap, libtorch's allocations and everything else), in bytes.
/// On Linux from <c>/proc/self/status</c> (<c>VmRSS</c>, and <c>VmHWM</c> for the peak, which
/// <see cref="ResetPeak"/> can restart); elsewhere from <see cref="Process"/>.
/// </summary>
public static class ResidentMemory
{
    const string Status = "/proc/self/status";

    /// <summary>Current resident set size.</summary>
    public static long Current()
    {
        if (ReadStatus("VmRSS:") is long rss) return rss;
        using var p = Process.GetCurrentProcess();
        return p.WorkingSet64;
    }

    /// <summary>Highest resident set size since the process started or since the last successful <see cref="ResetPeak"/>.</summary>
    public static long Peak()
    {
        if (ReadStatus("VmHWM:") is long hwm) return hwm;
        using var p = Process.GetCurrentProcess();
        return p.PeakWorkingSet64;
    }

    /// <summary>
    /// Restarts the peak (<c>VmHWM</c>) at the current resident size, so that <see cref="Peak"/>
    /// measures one phase rather than the whole process; Linux only (writes 5 to
    /// <c>/proc/self/clear_refs</c>). Returns false where that is not possible: the peak then stays the
    /// process-lifetime one.
    /// </summary>
    public static bool ResetPeak()
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    /// <summary>
    /// Returns the C heap's free pages to the operating system (glibc <c>malloc_trim(0)</c>), so that a
    /// following <see cref="Current"/> counts memory in use rather than what the allocator keeps
    /// cached: after a PGD batch of 500 images glibc may hold 100-200 MB of freed activations, or
    /// not, from one batch to the next. Returns false where there is no glibc (nothing is done).
    /// </summary>
    public static bool Trim()
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            MallocTrim(0);
            return true;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return false; }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "malloc_trim")]
    static extern int MallocTrim(nuint pad);

    static long? ReadStatus(string key)
    {
        if (!OperatingSystem.IsLinux() || !File.Exists(Status)) return null;
        foreach (var line in File.ReadLines(Status))
        {
            if (!line.StartsWith(key, StringComparison.Ordinal)) continue;
            // "VmRSS:     123456 kB"
            var parts = line[key.Length..].Split(' ', '\t', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length >= 1 && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var kb))
                return kb * 1024;
        }
        return null;
    }
}
