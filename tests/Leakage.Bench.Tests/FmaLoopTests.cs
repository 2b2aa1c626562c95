using Leakage.Benchmarks;

namespace Leakage.Bench.Tests;

/// <summary>The FMA loop behind the measured peak: it computes what it claims and is measured at every width the CPU runs.</summary>
public class FmaLoopTests
{
    /// <summary>Chain k after n steps of c = c A + B: A^n c_k + B (1 - A^n) / (1 - A), summed over the lanes of the twelve chains.</summary>
    static double ClosedForm(int bits, long n)
    {
        double an = Math.Pow(FmaLoop.A, n), sum = 0;
        for (int k = 0; k < FmaLoop.Accumulators; k++)
            sum += an * (k / 100.0) + FmaLoop.B * (1 - an) / (1 - FmaLoop.A);
        return sum * (bits / 32);
    }

    public static TheoryData<int> Widths => new(FmaLoop.Widths);

    [Theory]
    [MemberData(nameof(Widths))]
    public void Every_width_computes_the_closed_form_of_its_chains(int bits)
    {
        foreach (var n in new long[] { 0, 1, 7, 1000, 20_000 })
        {
            double expected = ClosedForm(bits, n), actual = FmaLoop.Run(bits, n);
            Assert.True(Math.Abs(actual - expected) <= 1e-4 * Math.Max(1, Math.Abs(expected)), $"{bits}-bit, {n} steps: {actual} against {expected}");
        }
    }

    [Fact]
    public void The_peak_is_measured_at_every_hardware_width_and_utilisation_uses_the_larger_peak()
    {
        Assert.Contains(128, FmaLoop.Widths);
        var rates = FmaLoop.Measure(threads: 1, targetSeconds: 0.02, repeats: 2);
        Assert.Equal(FmaLoop.Widths, rates.Select(r => r.VectorBits));
        Assert.All(rates, r => Assert.True(r.Gflops > 0 && r.Seconds.Count == 2 && r.Threads == 1));

        var derived = new ComputePeak(1, 1.0, 2, 2.0, "a clock far below the cores' rate");
        var peak = derived with { Measured = rates };
        Assert.Equal(rates.Max(r => r.Gflops), peak.MeasuredGflops);
        Assert.Equal(Math.Max(2.0, rates.Max(r => r.Gflops)), peak.Best);
        Assert.Null(derived.MeasuredGflops);
        Assert.Equal(2.0, derived.Best);
    }
}
