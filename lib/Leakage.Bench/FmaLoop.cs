using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Leakage.Benchmarks;

/// <summary>The float32 rate of a fused multiply-add loop at one vector width on <paramref name="Threads"/> threads.</summary>
/// <param name="VectorBits">128, 256 or 512.</param>
/// <param name="Threads">Threads that ran the loop at once, one per core.</param>
/// <param name="Gflops">Best of the timed repeats, in 10^9 FLOP/s (an FMA is 2 FLOP per lane).</param>
/// <param name="Seconds">Wall time of each timed repeat.</param>
public sealed record FmaRate(int VectorBits, int Threads, double Gflops, IReadOnlyList<double> Seconds);

/// <summary>
/// The cores' measured float32 peak: a loop of <see cref="Accumulators"/> independent fused
/// multiply-adds per vector width, on as many threads as the benchmark's cores, so the peak no longer
/// rests on a clock that a hypervisor reports (often the base clock, below what the cores run at).
/// Hand-written because no library measures it: twelve chains cover the FMA latency (4-5 cycles) of
/// two pipes, so the loop is bound by the FMA units, not by the dependency between iterations.
/// </summary>
public static class FmaLoop
{
    /// <summary>Independent accumulator chains per loop iteration.</summary>
    public const int Accumulators = 12;

    /// <summary>The multiplier and addend of every chain: c = c * A + B converges to B / (1 - A) and never overflows.</summary>
    public const float A = 0.999f, B = 0.001f;

    /// <summary>The vector widths this process can run in hardware (128 always where SIMD is accelerated; 256 and 512 where the CPU has them).</summary>
    public static IReadOnlyList<int> Widths =>
        new[] { (128, Vector128.IsHardwareAccelerated), (256, Vector256.IsHardwareAccelerated), (512, Vector512.IsHardwareAccelerated) }
            .Where(w => w.Item2).Select(w => w.Item1).ToArray();

    /// <summary>
    /// Measures every width of <see cref="Widths"/> on <paramref name="threads"/> threads: one calibration
    /// run sizes the loop to about <paramref name="targetSeconds"/>, then the best of <paramref name="repeats"/> counts.
    /// </summary>
    public static IReadOnlyList<FmaRate> Measure(int threads, double targetSeconds = 0.25, int repeats = 3)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "At least one thread.");
        var rates = new List<FmaRate>();
        foreach (var bits in Widths)
        {
            // Sized on warm code: a first call also times JIT compilation, so sizing on it makes the repeats
            // far shorter than asked; one untimed run, then lengthened until a run is long enough to scale from.
            long iterations = 1 << 16;
            Time(bits, threads, iterations);
            double t;
            while ((t = Time(bits, threads, iterations)) < targetSeconds / 8) iterations *= 8;
            iterations = Math.Max(iterations, (long)(iterations * targetSeconds / t));
            var seconds = Enumerable.Range(0, repeats).Select(_ => Time(bits, threads, iterations)).ToArray();
            double flop = 2.0 * threads * iterations * Accumulators * (bits / 32);
            rates.Add(new FmaRate(bits, threads, flop / seconds.Min() / 1e9, seconds));
        }
        return rates;
    }

    /// <summary>Wall time of <paramref name="threads"/> threads each running <paramref name="iterations"/> iterations at <paramref name="bits"/>.</summary>
    static double Time(int bits, int threads, long iterations)
    {
        var results = new float[threads];
        var workers = Enumerable.Range(0, threads).Select(i => new Thread(() => results[i] = Run(bits, iterations)) { IsBackground = true }).ToArray();
        long start = Stopwatch.GetTimestamp();
        foreach (var w in workers) w.Start();
        foreach (var w in workers) w.Join();
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        if (results.Any(r => !float.IsFinite(r))) throw new InvalidOperationException("The FMA loop produced a non-finite value.");
        return seconds;
    }

    /// <summary>
    /// Runs the loop for <paramref name="iterations"/> iterations at <paramref name="bits"/> and returns
    /// the sum of every lane of every chain (so the work cannot be removed); chain k starts at k / 100.
    /// </summary>
    public static float Run(int bits, long iterations) => bits switch
    {
        128 => Run128(iterations),
        256 => Run256(iterations),
        512 => Run512(iterations),
        _ => throw new ArgumentOutOfRangeException(nameof(bits), bits, "128, 256 or 512."),
    };

    // One method per width: each keeps its twelve chains in registers of that width; compiled fully optimised
    // at once, so that no timed run executes tier-0 code.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static float Run128(long n)
    {
        Vector128<float> a = Vector128.Create(A), b = Vector128.Create(B);
        Vector128<float> c0 = Vector128.Create(0.00f), c1 = Vector128.Create(0.01f), c2 = Vector128.Create(0.02f), c3 = Vector128.Create(0.03f),
            c4 = Vector128.Create(0.04f), c5 = Vector128.Create(0.05f), c6 = Vector128.Create(0.06f), c7 = Vector128.Create(0.07f),
            c8 = Vector128.Create(0.08f), c9 = Vector128.Create(0.09f), c10 = Vector128.Create(0.10f), c11 = Vector128.Create(0.11f);
        for (long i = 0; i < n; i++)
        {
            c0 = Vector128.FusedMultiplyAdd(c0, a, b); c1 = Vector128.FusedMultiplyAdd(c1, a, b); c2 = Vector128.FusedMultiplyAdd(c2, a, b);
            c3 = Vector128.FusedMultiplyAdd(c3, a, b); c4 = Vector128.FusedMultiplyAdd(c4, a, b); c5 = Vector128.FusedMultiplyAdd(c5, a, b);
            c6 = Vector128.FusedMultiplyAdd(c6, a, b); c7 = Vector128.FusedMultiplyAdd(c7, a, b); c8 = Vector128.FusedMultiplyAdd(c8, a, b);
            c9 = Vector128.FusedMultiplyAdd(c9, a, b); c10 = Vector128.FusedMultiplyAdd(c10, a, b); c11 = Vector128.FusedMultiplyAdd(c11, a, b);
        }
        return Vector128.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static float Run256(long n)
    {
        Vector256<float> a = Vector256.Create(A), b = Vector256.Create(B);
        Vector256<float> c0 = Vector256.Create(0.00f), c1 = Vector256.Create(0.01f), c2 = Vector256.Create(0.02f), c3 = Vector256.Create(0.03f),
            c4 = Vector256.Create(0.04f), c5 = Vector256.Create(0.05f), c6 = Vector256.Create(0.06f), c7 = Vector256.Create(0.07f),
            c8 = Vector256.Create(0.08f), c9 = Vector256.Create(0.09f), c10 = Vector256.Create(0.10f), c11 = Vector256.Create(0.11f);
        for (long i = 0; i < n; i++)
        {
            c0 = Vector256.FusedMultiplyAdd(c0, a, b); c1 = Vector256.FusedMultiplyAdd(c1, a, b); c2 = Vector256.FusedMultiplyAdd(c2, a, b);
            c3 = Vector256.FusedMultiplyAdd(c3, a, b); c4 = Vector256.FusedMultiplyAdd(c4, a, b); c5 = Vector256.FusedMultiplyAdd(c5, a, b);
            c6 = Vector256.FusedMultiplyAdd(c6, a, b); c7 = Vector256.FusedMultiplyAdd(c7, a, b); c8 = Vector256.FusedMultiplyAdd(c8, a, b);
            c9 = Vector256.FusedMultiplyAdd(c9, a, b); c10 = Vector256.FusedMultiplyAdd(c10, a, b); c11 = Vector256.FusedMultiplyAdd(c11, a, b);
        }
        return Vector256.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static float Run512(long n)
    {
        Vector512<float> a = Vector512.Create(A), b = Vector512.Create(B);
        Vector512<float> c0 = Vector512.Create(0.00f), c1 = Vector512.Create(0.01f), c2 = Vector512.Create(0.02f), c3 = Vector512.Create(0.03f),
            c4 = Vector512.Create(0.04f), c5 = Vector512.Create(0.05f), c6 = Vector512.Create(0.06f), c7 = Vector512.Create(0.07f),
            c8 = Vector512.Create(0.08f), c9 = Vector512.Create(0.09f), c10 = Vector512.Create(0.10f), c11 = Vector512.Create(0.11f);
        for (long i = 0; i < n; i++)
        {
            c0 = Vector512.FusedMultiplyAdd(c0, a, b); c1 = Vector512.FusedMultiplyAdd(c1, a, b); c2 = Vector512.FusedMultiplyAdd(c2, a, b);
            c3 = Vector512.FusedMultiplyAdd(c3, a, b); c4 = Vector512.FusedMultiplyAdd(c4, a, b); c5 = Vector512.FusedMultiplyAdd(c5, a, b);
            c6 = Vector512.FusedMultiplyAdd(c6, a, b); c7 = Vector512.FusedMultiplyAdd(c7, a, b); c8 = Vector512.FusedMultiplyAdd(c8, a, b);
            c9 = Vector512.FusedMultiplyAdd(c9, a, b); c10 = Vector512.FusedMultiplyAdd(c10, a, b); c11 = Vector512.FusedMultiplyAdd(c11, a, b);
        }
        return Vector512.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
    }
}
