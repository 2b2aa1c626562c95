using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Leakage.Compute;
using Leakage.IO;
using Leakage.Models;
using Leakage.Native;
using Leakage.Training;
using static TorchSharp.torch;

namespace Leakage.Benchmarks;

/// <summary>
/// One child process's training measurement with <see cref="NativeHeap"/> on or off
/// (<see cref="NativeHeap.SwitchVariable"/>): throughput, page faults and glibc's own accounting.
/// </summary>
/// <param name="HeapStatus"><see cref="NativeHeap.Status"/> in the child.</param>
/// <param name="Configured">Whether the malloc settings were in force.</param>
/// <param name="ImagesPerSecond">Batch / median step time over the timed steps.</param>
/// <param name="MinorFaultsPerStep">Minor page faults of the process per timed step (/proc/self/stat; every thread).</param>
/// <param name="MajorFaultsPerStep">Major page faults per timed step.</param>
/// <param name="SystemShare">Kernel CPU time / all CPU time of the process over the timed steps.</param>
/// <param name="CpuShare">CPU time of the process over the timed steps / (their wall time x libtorch threads): what the neighbours left it.</param>
/// <param name="StepSeconds">Every timed step's wall time.</param>
/// <param name="LargeBlock">A 64 MiB malloc/free on the child's main thread after training (<see cref="NativeHeap.ProbeLargeBlock"/>).</param>
public sealed record NativeHeapChild(string HeapStatus, bool Configured, double ImagesPerSecond, double MinorFaultsPerStep, double MajorFaultsPerStep,
    double SystemShare, double CpuShare, IReadOnlyList<double> StepSeconds, LargeBlockProbe? LargeBlock);

/// <summary>One round of the NativeHeap A/B: a child with the settings and one without, the order alternating between rounds.</summary>
/// <param name="Index">1-based round.</param>
/// <param name="OnFirst">Whether the child with the settings ran first.</param>
/// <param name="On">The child with <see cref="NativeHeap"/> configured.</param>
/// <param name="Off">The child with <c>LEAKAGE_NATIVE_HEAP=off</c>.</param>
/// <param name="Ratio">On / off training images/s.</param>
/// <param name="RatioPerCpuSecond"><paramref name="Ratio"/> x off's CPU share / on's: the ratio had the neighbours left both children the same share.</param>
/// <param name="Load">What the machine did during the round (the parent's share is meaningless here: it waits).</param>
public sealed record NativeHeapRound(int Index, bool OnFirst, NativeHeapChild On, NativeHeapChild Off, double Ratio, double RatioPerCpuSecond, LoadInterval Load);

/// <summary>
/// <see cref="NativeHeap"/> on against off, in alternating child processes (mallopt is process-wide):
/// the median and spread of the per-round training-throughput ratios and the page faults per step of each side.
/// </summary>
/// <param name="Rounds">Every round.</param>
/// <param name="Ratio">On / off training images/s per round: median, min, max, quartiles.</param>
/// <param name="RatioPerCpuSecond">The same for <see cref="NativeHeapRound.RatioPerCpuSecond"/>.</param>
/// <param name="OnImagesPerSecond">Median over rounds, settings on.</param>
/// <param name="OffImagesPerSecond">Median over rounds, settings off.</param>
/// <param name="OnMinorFaultsPerStep">Median over rounds, settings on.</param>
/// <param name="OffMinorFaultsPerStep">Median over rounds, settings off.</param>
/// <param name="OnSystemShare">Median kernel share of the child's CPU time, settings on.</param>
/// <param name="OffSystemShare">The same, settings off.</param>
/// <param name="Seconds">Wall time of the A/B.</param>
public sealed record NativeHeapComparison(IReadOnlyList<NativeHeapRound> Rounds, Spread Ratio, Spread RatioPerCpuSecond, double OnImagesPerSecond, double OffImagesPerSecond,
    double OnMinorFaultsPerStep, double OffMinorFaultsPerStep, double OnSystemShare, double OffSystemShare, double Seconds);

public sealed partial record BenchmarkReport
{
    /// <summary><see cref="NativeHeap"/> on against off (<c>bench --native-heap</c>); null when not measured.</summary>
    public NativeHeapComparison? NativeHeap { get; init; }
}

public static partial class Benchmark
{
    /// <summary>Size of the block <see cref="NativeHeapTraining"/> probes glibc with (above glibc's largest dynamic mmap threshold, 32 MiB).</summary>
    public const long ProbeBlockBytes = 64L << 20;

    /// <summary>
    /// The child's side of the NativeHeap A/B: <see cref="NativeHeap.Configure"/> (which honours
    /// <see cref="NativeHeap.SwitchVariable"/>), then the profile's training steps on the calling thread
    /// (call it on the main thread: the main arena is the one the settings are measured on) with synthetic
    /// data, then one <see cref="ProbeBlockBytes"/> block through malloc/free.
    /// </summary>
    public static NativeHeapChild NativeHeapTraining(BenchmarkSettings settings, Device device, CancellationToken cancellationToken = default)
    {
        TorchNative.Ensure();
        settings.Validate();
        NativeHeap.Configure();
        var data = BenchmarkData.Synthetic(settings.Seed);
        var options = settings.Training with { Epochs = 1 };
        int batch = options.BatchSize, steps = settings.TrainWarmupSteps + settings.TrainSteps;
        using var model = ModelFactory.Create(settings.Arch, settings.Seed, settings.Width, device);
        var (images, labels) = data.Take((long)batch * steps, stream: 2);
        var stamps = new List<(long Time, ProcessFaults Faults)>(steps);
        using (images)
        using (labels)
        {
            Quiesce();
            Trainer.Train(model, images, labels, options, device,
                progress: new SyncProgress<TrainingProgress>(p => { if (!p.EpochCompleted) stamps.Add((Stopwatch.GetTimestamp(), ProcessFaults.Read())); }),
                log: _ => { }, cancellationToken: cancellationToken);
        }
        if (stamps.Count != steps) throw new InvalidOperationException($"The trainer reported {stamps.Count} steps, expected {steps}.");
        var seconds = Enumerable.Range(settings.TrainWarmupSteps, settings.TrainSteps)
            .Select(i => Stopwatch.GetElapsedTime(stamps[i - 1].Time, stamps[i].Time).TotalSeconds).ToArray();
        var (first, last) = (stamps[settings.TrainWarmupSteps - 1].Faults, stamps[^1].Faults);
        long cpu = last.UserTicks + last.SystemTicks - first.UserTicks - first.SystemTicks;
        return new NativeHeapChild(NativeHeap.Status, NativeHeap.Configured, batch / Median(seconds),
            (last.Minor - first.Minor) / (double)settings.TrainSteps, (last.Major - first.Major) / (double)settings.TrainSteps,
            cpu > 0 ? (last.SystemTicks - first.SystemTicks) / (double)cpu : 0,
            cpu / CpuTimes.TicksPerSecond / (Stopwatch.GetElapsedTime(stamps[settings.TrainWarmupSteps - 1].Time, stamps[^1].Time).TotalSeconds * Math.Max(1, get_num_threads())),
            seconds, NativeHeap.ProbeLargeBlock(ProbeBlockBytes));
    }

    /// <summary>
    /// The parent's side: <paramref name="rounds"/> rounds, each running one child with the settings and one
    /// with <c>LEAKAGE_NATIVE_HEAP=off</c>, the side that goes first alternating (on off, off on, ...).
    /// <paramref name="child"/> returns the start information of a process that runs
    /// <see cref="NativeHeapTraining"/> and prints its result as JSON on its last line of standard output.
    /// </summary>
    public static NativeHeapComparison MeasureNativeHeap(int rounds, Func<ProcessStartInfo> child, Action<string>? log = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rounds, 1);
        log ??= _ => { };
        var clock = Stopwatch.StartNew();
        var list = new List<NativeHeapRound>();
        for (int r = 1; r <= rounds; r++)
        {
            bool onFirst = r % 2 == 1;
            NativeHeapChild? on = null, off = null;
            var before = CpuTimes.Read();
            foreach (bool side in onFirst ? new[] { true, false } : [false, true])
            {
                cancellationToken.ThrowIfCancellationRequested();
                var result = RunHeapChild(child(), side, cancellationToken);
                if (side) on = result; else off = result;
            }
            var load = CpuTimes.Read().Since(before, 1);
            double ratio = on!.ImagesPerSecond / off!.ImagesPerSecond;
            var round = new NativeHeapRound(r, onFirst, on, off, ratio, on.CpuShare > 0 && off.CpuShare > 0 ? ratio * off.CpuShare / on.CpuShare : ratio, load);
            list.Add(round);
            log($"Native heap round {r}/{rounds}: on {on.ImagesPerSecond:N0} images/s, {on.MinorFaultsPerStep:N0} faults/step, CPU share {on.CpuShare:P0} ({on.HeapStatus}); " +
                $"off {off.ImagesPerSecond:N0} images/s, {off.MinorFaultsPerStep:N0} faults/step, CPU share {off.CpuShare:P0}; ratio {round.Ratio:0.00} (load {load.LoadAverage:0.0}, steal {load.StealFraction:P1}).");
        }
        double M(Func<NativeHeapRound, double> f) => Stats.Median(list.Select(f).ToList());
        return new NativeHeapComparison(list, Spread.Of(list.Select(x => x.Ratio).ToList()), Spread.Of(list.Select(x => x.RatioPerCpuSecond).ToList()), M(x => x.On.ImagesPerSecond), M(x => x.Off.ImagesPerSecond),
            M(x => x.On.MinorFaultsPerStep), M(x => x.Off.MinorFaultsPerStep), M(x => x.On.SystemShare), M(x => x.Off.SystemShare), clock.Elapsed.TotalSeconds);
    }

    static NativeHeapChild RunHeapChild(ProcessStartInfo psi, bool on, CancellationToken cancellationToken)
    {
        if (on) psi.Environment.Remove(NativeHeap.SwitchVariable);
        else psi.Environment[NativeHeap.SwitchVariable] = "off";
        var what = $"native-heap child ({(on ? "on" : "off")})";
        var line = ResultLine(RunChild(psi, what, cancellationToken), what);
        return JsonSerializer.Deserialize<NativeHeapChild>(line, Artifacts.Json)
            ?? throw new InvalidOperationException($"The {what} printed an empty result: {line}");
    }

    /// <summary>The result line a child prints (<see cref="NativeHeapTraining"/>, <see cref="KernelStep"/>).</summary>
    public static string ToJsonLine<T>(T result) => JsonSerializer.Serialize(result, new JsonSerializerOptions(Artifacts.Json) { WriteIndented = false });
}

/// <summary>This process's page faults and CPU ticks so far, from <c>/proc/self/stat</c> (zeros where it is missing).</summary>
readonly record struct ProcessFaults(long Minor, long Major, long UserTicks, long SystemTicks)
{
    public static ProcessFaults Read()
    {
        try
        {
            var text = File.ReadAllText("/proc/self/stat");
            // Fields after the parenthesised command name: minflt is field 10, majflt 12, utime 14, stime 15.
            var f = text[(text.LastIndexOf(')') + 2)..].Split(' ');
            long F(int field) => long.Parse(f[field - 3], CultureInfo.InvariantCulture);
            return new ProcessFaults(F(10), F(12), F(14), F(15));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return default;
        }
    }
}
