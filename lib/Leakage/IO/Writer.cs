using System.Diagnostics;

namespace Leakage.IO;

/// <summary>
/// Who is writing: this machine's host name and process id, and whether a writer recorded elsewhere
/// (a temporary file's name, a claim) is still alive. A process on another host cannot be probed, so
/// callers fall back on age for those.
/// </summary>
public static class Writer
{
    /// <summary>This machine's host name as recorded in claims and temporary file names.</summary>
    public static string Host { get; } = Tag(Environment.MachineName);

    /// <summary>This process's id.</summary>
    public static int Pid { get; } = Environment.ProcessId;

    /// <summary>A host name reduced to letters, digits, '-' and '_' (dots would split file names).</summary>
    public static string Tag(string host)
    {
        var chars = host.Select(c => char.IsAsciiLetterOrDigit(c) || c == '-' ? c : '_').ToArray();
        return chars.Length == 0 ? "host" : new string(chars);
    }

    /// <summary>
    /// True when <paramref name="host"/> is this machine and process <paramref name="pid"/> runs here;
    /// false when it is this machine and the process is gone; null for another host (unknown).
    /// </summary>
    public static bool? IsAlive(string host, int pid)
    {
        if (!string.Equals(Tag(host), Host, StringComparison.OrdinalIgnoreCase)) return null;
        return IsRunningHere(pid);
    }

    /// <summary>Whether process <paramref name="pid"/> runs on this machine.</summary>
    public static bool IsRunningHere(int pid)
    {
        if (pid == Pid) return true;
        if (pid <= 0) return false;
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException) { return false; }
        catch (InvalidOperationException) { return false; }
    }
}
