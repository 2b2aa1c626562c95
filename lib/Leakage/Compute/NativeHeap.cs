using System.Runtime.InteropServices;

namespace Leakage.Compute;

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
/// Process-wide and idempotent; left alone when the environment already sets malloc parameters
/// (<c>MALLOC_*_</c> or <c>GLIBC_TUNABLES</c>) or on a C library without <c>mallopt</c>.
/// </para>
/// </summary>
public static class NativeHeap
{
    /// <summary>Freed memory the heap keeps at its top before returning it to the kernel.</summary>
    public const int TrimThresholdBytes = 256 << 20;

    const int MTrimThreshold = -1, MTopPad = -2, MMmapMax = -4;
    static readonly object Gate = new();
    static bool? configured;

    /// <summary>True once <see cref="Configure"/> has changed glibc's settings in this process.</summary>
    public static bool Configured => configured == true;

    /// <summary>Applies the settings (once per process); returns whether they are in force.</summary>
    public static bool Configure()
    {
        lock (Gate)
        {
            if (configured is { } done) return done;
            configured = false;
            if (!OperatingSystem.IsLinux()) return false;
            var env = Environment.GetEnvironmentVariables().Keys.Cast<string>();
            if (env.Any(k => k.StartsWith("MALLOC_", StringComparison.Ordinal) && k.EndsWith('_'))
                || (Environment.GetEnvironmentVariable("GLIBC_TUNABLES") ?? "").Contains("glibc.malloc", StringComparison.Ordinal))
                return false;
            try
            {
                configured = MallOpt(MMmapMax, 0) == 1 & MallOpt(MTrimThreshold, TrimThresholdBytes) == 1 & MallOpt(MTopPad, 64 << 20) == 1;
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                configured = false;
            }
            return configured.Value;
        }
    }

    [DllImport("libc.so.6", EntryPoint = "mallopt")]
    static extern int MallOpt(int param, int value);
}
