using System.Runtime.InteropServices;
using Leakage.Compute;
using Leakage.Native;
using static TorchSharp.torch;

namespace Leakage.Tests;

/// <summary><see cref="NativeHeap"/>: freed tensor memory is reused, not faulted in afresh every step.</summary>
public sealed class NativeHeapTests
{
    [SkippableFact]
    public void A_freed_activation_sized_tensor_is_reused_without_new_page_faults()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "glibc malloc settings are Linux-only");
        TorchNative.Ensure();
        Skip.IfNot(NativeHeap.Configure(), "the environment sets malloc parameters itself, or the C library has no mallopt");
        const long floats = 4L << 20; // 16 MiB, far above glibc's default mmap threshold
        const int pageFloats = 1024;
        long Cycle()
        {
            long before = ThreadMinorFaults();
            using var t = empty(floats);
            var span = t.data<float>();
            for (long i = 0; i < floats; i += pageFloats) span[i] = 1; // touch every page on this thread
            return ThreadMinorFaults() - before;
        }
        long first = Cycle();
        long later = Cycle() + Cycle() + Cycle();
        // Touching 4,096 fresh pages faults about 4,096 times; reused pages fault not at all.
        Assert.True(later < floats / pageFloats / 4, $"three reuses of a freed 16 MiB block faulted {later} pages (the first use {first})");
    }

    static long ThreadMinorFaults()
    {
        var usage = new long[18]; // struct rusage: two timevals, then 14 longs; ru_minflt is the 9th long
        if (GetRusage(1 /* RUSAGE_THREAD */, usage) != 0) throw new InvalidOperationException("getrusage failed");
        return usage[8];
    }

    [DllImport("libc.so.6", EntryPoint = "getrusage")]
    static extern int GetRusage(int who, [Out] long[] usage);
}
