using System.Runtime.InteropServices;

namespace Leakage.Native;

/// <summary>
/// glibc malloc settings for the training and attack loops, which free and reallocate the same
/// activation-sized blocks (up to tens of MB) every step.
/// <para>
/// With glibc's defaults such blocks go back to the kernel when freed (mmap'd blocks above the
/// dynamic threshold, and the top of the heap above the trim threshold), so every step faults
/// fresh zeroed pages in again: measured on a 2-vCPU AMD EPYC (libtorch 2.10, SmallCnn width 24,
/// batch 256) about 11,000 minor page faults per training step and 10-15% of the process's CPU time
/// in the kernel, against about 2% for PyTorch 1.13 running the same step. With
/// <see cref="Configure"/> (no mmap'd blocks, at most <see cref="TrimThresholdBytes"/> kept free at the
/// top of the heap) freed blocks are reused and the faults fall to a fraction. The cost is that the
/// process keeps up to that much freed memory. Measured for allocations on the process's main thread
/// (main arena); a thread that glibc serves from another arena may still have its freed pages trimmed.
/// </para>
/// <para>
/// Process-wide and idempotent, applied by <see cref="Native.TorchNative.Ensure"/> beside the OpenMP
/// policy; left alone when the environment already sets malloc parameters
/// (<c>MALLOC_*_</c> or <c>GLIBC_TUNABLES</c>), when <see cref="SwitchVariable"/> is <c>off</c>, or on a
/// C library without <c>mallopt</c>. <see cref="Status"/> says which; <see cref="ProbeLargeBlock"/> reads
/// the effect back from glibc.
/// </para>
/// </summary>
public static class NativeHeap
{
    /// <summary>Freed memory the heap keeps at its top before returning it to the kernel.</summary>
    public const int TrimThresholdBytes = 256 << 20;

    /// <summary>Environment variable that turns the settings off: <c>LEAKAGE_NATIVE_HEAP=off</c> (or <c>0</c>, <c>false</c>).</summary>
    public const string SwitchVariable = "LEAKAGE_NATIVE_HEAP";

    const int MTrimThreshold = -1, MTopPad = -2, MMmapMax = -4;
    static readonly object Gate = new();
    static bool? configured;
    static string status = "not configured yet";

    /// <summary>True once <see cref="Configure"/> has changed glibc's settings in this process.</summary>
    public static bool Configured => configured == true;

    /// <summary>
    /// What <see cref="Configure"/> did: <c>configured</c>, <c>off (LEAKAGE_NATIVE_HEAP=off)</c>,
    /// <c>left to the environment (MALLOC_ARENA_MAX_)</c>, <c>not Linux</c>, ... (before the first call: <c>not configured yet</c>).
    /// </summary>
    public static string Status { get { lock (Gate) return status; } }

    /// <summary>Applies the settings (once per process); returns whether they are in force.</summary>
    public static bool Configure()
    {
        lock (Gate)
        {
            if (configured is { } done) return done;
            configured = false;
            status = StandAside() ?? "configured";
            if (status != "configured") return false;
            try
            {
                configured = MallOpt(MMmapMax, 0) == 1 & MallOpt(MTrimThreshold, TrimThresholdBytes) == 1 & MallOpt(MTopPad, 64 << 20) == 1;
                if (configured == false) status = "mallopt refused a setting";
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                configured = false;
                status = "no glibc mallopt";
            }
            return configured.Value;
        }
    }

    /// <summary>Why the settings stay off in this environment, or null when they apply.</summary>
    static string? StandAside()
    {
        if (!OperatingSystem.IsLinux()) return "not Linux";
        var own = Environment.GetEnvironmentVariable(SwitchVariable)?.Trim().ToLowerInvariant();
        if (own is "off" or "0" or "false" or "no") return $"off ({SwitchVariable}={own})";
        var user = Environment.GetEnvironmentVariables().Keys.Cast<string>()
            .Where(k => k.StartsWith("MALLOC_", StringComparison.Ordinal) && k.EndsWith('_')).Order(StringComparer.Ordinal).ToList();
        if ((Environment.GetEnvironmentVariable("GLIBC_TUNABLES") ?? "").Contains("glibc.malloc", StringComparison.Ordinal)) user.Add("GLIBC_TUNABLES");
        return user.Count > 0 ? $"left to the environment ({string.Join(", ", user)})" : null;
    }

    /// <summary>
    /// Allocates <paramref name="bytes"/> with libc's <c>malloc</c> on the calling thread, touches it, frees it,
    /// and reports glibc's own accounting (<c>mallinfo2</c>) around it: whether the block came from an mmap of
    /// its own and how much free memory the main arena kept at its top afterwards. Null where glibc's
    /// <c>mallinfo2</c> (2.33 and later) is missing.
    /// </summary>
    public static LargeBlockProbe? ProbeLargeBlock(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bytes, 1L);
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            var before = MallInfo2();
            var p = Malloc((nuint)bytes);
            if (p == 0) throw new OutOfMemoryException($"malloc({bytes}) failed.");
            try
            {
                unsafe { new Span<byte>((void*)p, (int)Math.Min(bytes, int.MaxValue)).Fill(1); }
                var held = MallInfo2();
                Free(p);
                p = 0;
                var after = MallInfo2();
                return new LargeBlockProbe(bytes, (long)before.Hblkhd, (long)held.Hblkhd, (long)after.Keepcost, (long)after.Arena);
            }
            finally
            {
                if (p != 0) Free(p);
            }
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    [DllImport("libc.so.6", EntryPoint = "mallopt")]
    static extern int MallOpt(int param, int value);

    [DllImport("libc.so.6", EntryPoint = "malloc")]
    static extern nint Malloc(nuint size);

    [DllImport("libc.so.6", EntryPoint = "free")]
    static extern void Free(nint p);

    [DllImport("libc.so.6", EntryPoint = "mallinfo2")]
    static extern MallInfo2Struct MallInfo2();

    /// <summary>glibc's <c>struct mallinfo2</c> (ten size_t fields).</summary>
    [StructLayout(LayoutKind.Sequential)]
    struct MallInfo2Struct
    {
        public nuint Arena, Ordblks, Smblks, Hblks, Hblkhd, Usmblks, Fsmblks, Uordblks, Fordblks, Keepcost;
    }
}

/// <summary>glibc's accounting around one large malloc/free (<see cref="NativeHeap.ProbeLargeBlock"/>).</summary>
/// <param name="Bytes">Size of the block.</param>
/// <param name="MmappedBefore">Bytes in mmap'd chunks before the allocation (mallinfo2 <c>hblkhd</c>, all threads).</param>
/// <param name="MmappedWhileHeld">The same while the block was held: more by about <paramref name="Bytes"/> when glibc mmap'd it.</param>
/// <param name="TopKeptAfterFree">Free bytes at the top of the main arena after the free (mallinfo2 <c>keepcost</c>): what it did not trim.</param>
/// <param name="HeapBytes">Bytes the arenas hold from the system (mallinfo2 <c>arena</c>), after the free.</param>
public sealed record LargeBlockProbe(long Bytes, long MmappedBefore, long MmappedWhileHeld, long TopKeptAfterFree, long HeapBytes)
{
    /// <summary>True when the block came from an mmap of its own (glibc returns such blocks to the kernel when freed).</summary>
    public bool Mmapped => MmappedWhileHeld - MmappedBefore >= Bytes;
}
