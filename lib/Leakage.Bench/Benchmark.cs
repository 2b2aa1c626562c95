using System.Diagnostics;
using System.Text.Json;
using Leakage.Adversarial;
using Leakage.IO;
using Leakage.Attacks;
using Leakage.Models;
using Leakage.Native;
using Leakage.Robust;
using Leakage.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Benchmarks;

/// <summary>
/// Measures how fast the experiment's heavy steps run on this machine, with the library's own code
/// paths (<see cref="L2Pgd"/>, <see cref="Trainer"/>, <see cref="RobustLinearTrainer"/>,
/// <see cref="AdversarialDatasets"/>): the float32 matmul rate, PGD and training throughput and their
/// model-FLOP utilisation, robust-linear training time, and resident memory while generating D_rand.
/// <para>
/// These are measurements, not checks: nothing here compares a time with a threshold. Warm-up work
/// (first calls, allocator growth) is excluded from every timed figure. PGD and training are measured
/// in <see cref="BenchmarkSettings.Rounds"/> rounds, alternating with the PyTorch reference when it
/// runs; a round's throughput uses the median time of its units (a PGD batch, a training step), and
/// the reported figure is the median over rounds. On a machine shared with other jobs a single
/// measurement is a sample of the neighbours as much as of the code; rounds, their spread and the
/// CPU share each side got (<see cref="LoadInterval"/>) make that visible.
/// </para>
/// </summary>
public static partial class Benchmark
{
    /// <summary>
    /// Runs every measurement of <paramref name="settings"/> on <paramref name="device"/> with the
    /// current libtorch thread count and returns the report (not yet saved: see <see cref="BenchmarkReport.Save"/>).
    /// </summary>
    /// <param name="settings">What to measure (<see cref="BenchmarkSettings.For"/>).</param>
    /// <param name="device">Device for every measurement.</param>
    /// <param name="workDirectory">Scratch folder for the D_rand files; created, and deleted afterwards.</param>
    /// <param name="data">Images to use; synthetic when null.</param>
    /// <param name="python">A Python with PyTorch to run the reference with (<see cref="PyTorchReference"/>), or null to skip it.</param>
    /// <param name="log">One line per phase and result.</param>
    /// <param name="cancellationToken">Checked between and inside the phases.</param>
    public static BenchmarkReport Run(BenchmarkSettings settings, Device device, string workDirectory, BenchmarkData? data = null,
        string? python = null, Action<string>? log = null, CancellationToken cancellationToken = default)
    {
        TorchNative.Ensure();
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(device);
        settings.Validate();
        log ??= _ => { };
        data ??= BenchmarkData.Synthetic(settings.Seed);
        var started = DateTimeOffset.Now;
        var clock = Stopwatch.StartNew();
        var machine = MachineInfo.Collect(device);
        log($"{machine.Cpu}{(machine.CpuCore is { } core ? $" ({core})" : "")}, {machine.LogicalCores} logical cores, libtorch {machine.Libtorch} with {machine.Threads} threads, OMP_WAIT_POLICY={machine.OmpWaitPolicy}.");

        var model = Cost(settings.Arch, settings.Width, settings.Seed);
        log($"Model {model.Arch} width {model.Width}: {model.Parameters:N0} parameters, {model.ForwardMacsPerImage / 1e6:0.00} M multiply-adds per image.");

        cancellationToken.ThrowIfCancellationRequested();
        var matmul = MeasureMatmul(settings.MatmulSize, settings.MatmulRepeats, device);
        log($"matmul {matmul.Size}x{matmul.Size} float32: {matmul.Gflops:0.0} GFLOP/s.");
        if (device.type == DeviceType.CPU)
        {
            machine = machine with { Peak = ComputePeak.WithMeasurement(machine.Peak, Math.Max(1, machine.Threads)) };
            log($"FMA loop, float32: {string.Join(", ", machine.Peak.Measured!.Select(r => $"{r.VectorBits}-bit {r.Gflops:0.0}"))} GFLOP/s on {machine.Peak.Cores} threads " +
                $"(from the clock: {machine.Peak.Gflops:0.0}).");
        }

        PyTorchSession? session = null;
        try
        {
            if (python is not null)
            {
                cancellationToken.ThrowIfCancellationRequested();
                log($"Starting the PyTorch reference with {python} (OMP_WAIT_POLICY={machine.OmpWaitPolicy}, {machine.Threads} threads) ...");
                session = PyTorchReference.Start(python, settings, machine.Threads, machine.OmpWaitPolicy);
                if (PyTorchReference.ReferenceBlasWarning(session.Header) is { } warning) log(warning);
            }
            var load = CpuTimes.Read();

            // The alternating protocol: TorchSharp round r, then PyTorch round r, so that a neighbour
            // that slows the machine for a while slows both sides of a round pair alike.
            var tsRounds = new List<TorchSharpRound>();
            var pgds = new List<PgdThroughput>();
            var trainings = new List<TrainingThroughput>();
            var ptRounds = new List<(JsonElement Json, LoadInterval Load)>();
            double ptSeconds = 0;
            for (int r = 1; r <= settings.Rounds; r++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                // Pairs at the grain of one measurement (PGD, then training), the side that goes first
                // alternating between rounds (A B, B A, ...), so that a slow drift of the neighbours'
                // load favours neither side.
                bool torchSharpFirst = r % 2 == 1 || session is null;
                PgdThroughput pgd = null!;
                TrainingThroughput training = null!;
                var tsLoad = default(LoadInterval);
                var pt = new System.Text.Json.Nodes.JsonObject();
                var ptLoad = default(LoadInterval);
                foreach (var part in new[] { "pgd", "training" })
                {
                    foreach (bool ours in torchSharpFirst ? new[] { true, false } : [false, true])
                    {
                        if (ours)
                        {
                            var before = CpuTimes.Read();
                            if (part == "pgd") pgd = MeasurePgd(settings, device, data, model, matmul.Gflops);
                            else training = MeasureTraining(settings, device, data, model, matmul.Gflops, cancellationToken);
                            tsLoad = Add(tsLoad, CpuTimes.Read().Since(before, machine.Threads));
                        }
                        else if (session is not null)
                        {
                            var before = CpuTimes.Read(session.ProcessId);
                            long t = Stopwatch.GetTimestamp();
                            var answer = session.Request(part);
                            ptSeconds += Stopwatch.GetElapsedTime(t).TotalSeconds;
                            ptLoad = Add(ptLoad, CpuTimes.Read(session.ProcessId).Since(before, machine.Threads));
                            pt[part] = System.Text.Json.Nodes.JsonNode.Parse(answer.GetProperty(part).GetRawText());
                            var cl = pt["channelsLast"] as System.Text.Json.Nodes.JsonObject ?? [];
                            cl[part] = System.Text.Json.Nodes.JsonNode.Parse(answer.GetProperty("channelsLast").GetProperty(part).GetRawText());
                            pt["channelsLast"] = cl;
                        }
                    }
                }
                pgds.Add(pgd);
                trainings.Add(training);
                tsRounds.Add(new TorchSharpRound(r, pgd.ImageStepsPerSecond, training.ImagesPerSecond, tsLoad));
                var line = $"Round {r}/{settings.Rounds}: TorchSharp PGD {pgd.ImageStepsPerSecond:N0} image-steps/s, training {training.ImagesPerSecond:N0} images/s (CPU share {tsLoad.ProcessCpuShare:P0}, steal {tsLoad.StealFraction:P1}, load {tsLoad.LoadAverage:0.0})";
                if (session is not null)
                {
                    var answer = JsonSerializer.SerializeToElement(pt);
                    ptRounds.Add((answer, ptLoad));
                    line += $"; PyTorch PGD {Pgd(answer):N0} / {Pgd(answer.GetProperty("channelsLast")):N0} channels-last, " +
                            $"training {Training(answer):N0} / {Training(answer.GetProperty("channelsLast")):N0} (CPU share {ptLoad.ProcessCpuShare:P0}, steal {ptLoad.StealFraction:P1})";
                }
                log(line + ".");
            }
            var pgdAll = Combine(pgds, machine.Peak);
            var trainingAll = Combine(trainings, machine.Peak);
            log($"PGD ({pgdAll.BatchSize} images x {pgdAll.Steps} steps): {pgdAll.ImageStepsPerSecond:N0} image-steps/s (median of {settings.Rounds} rounds), {pgdAll.Gflops:0.0} GFLOP/s, MFU {pgdAll.Mfu:P0}.");
            log($"Training (batch {trainingAll.BatchSize}, {trainingAll.Augmentation}): {trainingAll.ImagesPerSecond:N0} images/s, {trainingAll.Gflops:0.0} GFLOP/s, MFU {trainingAll.Mfu:P0}.");

            cancellationToken.ThrowIfCancellationRequested();
            // Twice, alternating with PyTorch's split when it runs; each phase keeps its faster measurement
            // (the least disturbed by neighbours), so the two sides' tables are comparable phase by phase.
            StepPhases phases = null!;
            JsonElement? ptPhases = null;
            for (int i = 0; i < 2; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var split = new StepPhases(PhaseSplit.Training(settings, device, data), PhaseSplit.Pgd(settings, device, data));
                phases = i == 0 ? split : PhaseSplit.Faster(phases, split);
                if (session is not null)
                {
                    var answer = session.Request("phases");
                    ptPhases = ptPhases is { } previous ? PhaseSplit.Faster(previous, answer) : answer;
                }
            }
            log($"Phases, ms per step: training {Describe(phases.Training)}; PGD {Describe(phases.Pgd)}.");
            Bfloat16Timing? bf16 = null;
            if (machine.HasBf16 && device.type == DeviceType.CPU)
            {
                cancellationToken.ThrowIfCancellationRequested();
                // fp32 and bf16 back to back (twice, in alternation) so that both see the same neighbours.
                var runs = Enumerable.Range(0, 2).Select(_ =>
                    (Bf16: new StepPhases(PhaseSplit.Training(settings, device, data, ScalarType.BFloat16), PhaseSplit.Pgd(settings, device, data, ScalarType.BFloat16)),
                     Fp32: new StepPhases(PhaseSplit.Training(settings, device, data), PhaseSplit.Pgd(settings, device, data)))).ToList();
                var best = runs.Select(r => r.Bf16).MinBy(p => p.Pgd.Total + p.Training.Total)!;
                var fp32 = runs.Select(r => r.Fp32).MinBy(p => p.Pgd.Total + p.Training.Total)!;
                bf16 = new Bfloat16Timing(best, fp32, fp32.Pgd.Total / best.Pgd.Total, fp32.Training.Total / best.Training.Total);
                log($"bfloat16 (best of 2 alternations): PGD step {best.Pgd.Total * 1e3:0.0} ms vs float32 {fp32.Pgd.Total * 1e3:0.0} ms ({bf16.PgdSpeedup:0.00}x), " +
                    $"training step {best.Training.Total * 1e3:0.0} ms vs {fp32.Training.Total * 1e3:0.0} ms ({bf16.TrainingSpeedup:0.00}x).");
            }
            PyTorchComparison? reference = null;
            if (session is not null)
            {
                reference = Compare(python!, session.Header, tsRounds, ptRounds, ptPhases!.Value, pgdAll, trainingAll, ptSeconds);
                log($"PyTorch {reference.Torch} ({reference.FasterLayout.Pgd} PGD, {reference.FasterLayout.Training} training faster): " +
                    $"TorchSharp/PyTorch PGD {reference.Ratios.Pgd:0.00} [{reference.RatioSpread.Pgd.Min:0.00}, {reference.RatioSpread.Pgd.Max:0.00}], " +
                    $"training {reference.Ratios.Training:0.00} [{reference.RatioSpread.Training.Min:0.00}, {reference.RatioSpread.Training.Max:0.00}] (median [min, max] of {settings.Rounds} rounds); " +
                    $"per CPU-second PGD {reference.RatiosPerCpuSecond.Pgd:0.00}, training {reference.RatiosPerCpuSecond.Training:0.00}.");
            }
            session?.Dispose();
            session = null;

            cancellationToken.ThrowIfCancellationRequested();
            log($"Generating D_rand for {settings.DrandImages:N0} images ({settings.Attack.Steps} PGD steps, batch {settings.Attack.BatchSize}) ...");
            var memory = MeasureMemory(settings, device, data, workDirectory, cancellationToken);
            log($"D_rand: {memory.Seconds:0.0} s, peak resident {memory.PeakRssBytes / 1048576.0:N0} MiB, drift {memory.Drift:+0.0%;-0.0%} from batch {memory.ReferenceBatch} to {memory.Batches}.");

            cancellationToken.ThrowIfCancellationRequested();
            log($"Training the robust linear classifier on {settings.RobustImages:N0} images ({settings.Robust.Epochs} epochs) ...");
            var robust = MeasureRobustLinear(settings, device, data, cancellationToken);
            log($"Robust linear: {robust.Seconds:0.0} s ({robust.SecondsPerEpoch:0.00} s per epoch).");

            var runLoad = CpuTimes.Read().Since(load, machine.Threads);
            log($"Steal over the run: {runLoad.StealSeconds:0.0} CPU-s ({runLoad.StealFraction:P1}); machine busy {runLoad.BusyFraction:P0}.");
            return new BenchmarkReport(settings.Profile, settings.Quick, data.Source, started, machine, model, matmul, pgdAll, trainingAll, robust, memory,
                reference, clock.Elapsed.TotalSeconds, tsRounds, phases, runLoad, bf16);
        }
        finally
        {
            session?.Dispose();
        }
    }

    /// <summary>The analytic cost of <paramref name="arch"/> at <paramref name="width"/> and its parameter count.</summary>
    public static ModelCost Cost(string arch, int width, long seed = 0)
    {
        using var model = ModelFactory.Create(arch, seed, width);
        long parameters = model.parameters().Sum(p => p.numel());
        long macs = ModelFlops.ForwardMacs(arch, width);
        return new ModelCost(ModelFactory.Canonical(arch), width, parameters, macs, (double)ModelFlops.FlopPerMac * macs, ModelFlops.Convention);
    }

    /// <summary>
    /// The float32 matrix-multiply rate: <paramref name="repeats"/> timed products of two random
    /// <paramref name="size"/> x <paramref name="size"/> matrices after two untimed ones; the fastest counts.
    /// </summary>
    public static MatmulResult MeasureMatmul(int size, int repeats, Device device)
    {
        TorchNative.Ensure();
        using var scope = NewDisposeScope();
        var a = randn(size, size, device: device);
        var b = randn(size, size, device: device);
        for (int i = 0; i < 2; i++) a.mm(b).Dispose();
        Synchronize(device);
        var seconds = new double[repeats];
        for (int i = 0; i < repeats; i++)
        {
            long t = Stopwatch.GetTimestamp();
            using (var c = a.mm(b)) Synchronize(device);
            seconds[i] = Stopwatch.GetElapsedTime(t).TotalSeconds;
        }
        return new MatmulResult(size, repeats, 2.0 * size * size * size / seconds.Min() / 1e9, seconds);
    }

    /// <summary>
    /// PGD throughput of the profile's attack at its batch size: one untimed 2-step batch, then
    /// <see cref="BenchmarkSettings.PgdRepeats"/> timed batches of the full attack
    /// (<see cref="L2Pgd.Perturb"/>, targeted towards (y + 1) mod 10, as for D_det).
    /// </summary>
    public static PgdThroughput MeasurePgd(BenchmarkSettings settings, Device device, BenchmarkData data, ModelCost cost, double matmulGflops)
    {
        TorchNative.Ensure();
        var attack = settings.Attack.Attack;
        int batch = settings.Attack.BatchSize;
        using var model = ModelFactory.Create(settings.Arch, settings.Seed, settings.Width, device);
        model.eval();
        var (images, labels) = data.Take(batch, stream: 1);
        using var x = images.to(device);
        using var targets = Scalars.With(CifarStats.Classes, k => labels.add(Scalars.One).remainder(k)).to(device);
        images.Dispose();
        labels.Dispose();

        using (NewDisposeScope())
            L2Pgd.Perturb(model, x, targets, attack with { Steps = Math.Min(2, attack.Steps) });
        Synchronize(device);
        Quiesce();
        var seconds = new double[settings.PgdRepeats];
        for (int r = 0; r < seconds.Length; r++)
        {
            long t = Stopwatch.GetTimestamp();
            using (NewDisposeScope())
            {
                L2Pgd.Perturb(model, x, targets, attack);
                Synchronize(device);
            }
            seconds[r] = Stopwatch.GetElapsedTime(t).TotalSeconds;
        }
        double work = (double)batch * attack.Steps;
        double rate = work / Median(seconds);
        double gflops = rate * ModelFlops.PgdForwardMultiple * cost.ForwardFlopsPerImage / 1e9;
        return new PgdThroughput(batch, attack.Steps, seconds.Length, rate, work * seconds.Length / seconds.Sum(), gflops, gflops / matmulGflops, seconds);
    }

    /// <summary>
    /// Training throughput of the profile's recipe at its batch size, through <see cref="Trainer.Train"/>
    /// (one epoch of warm-up plus timed steps). A step's time is the interval between the trainer's
    /// progress reports of consecutive steps, so it covers everything the trainer does per step.
    /// </summary>
    public static TrainingThroughput MeasureTraining(BenchmarkSettings settings, Device device, BenchmarkData data, ModelCost cost, double matmulGflops,
        CancellationToken cancellationToken = default)
    {
        TorchNative.Ensure();
        var options = settings.Training with { Epochs = 1 };
        int batch = options.BatchSize, steps = settings.TrainWarmupSteps + settings.TrainSteps;
        using var model = ModelFactory.Create(settings.Arch, settings.Seed, settings.Width, device);
        var (images, labels) = data.Take((long)batch * steps, stream: 2);
        using (images)
        using (labels)
        {
            var stamps = new List<long>(steps);
            Quiesce();
            Trainer.Train(model, images, labels, options, device,
                progress: new SyncProgress<TrainingProgress>(p => { if (!p.EpochCompleted) stamps.Add(Stopwatch.GetTimestamp()); }),
                log: _ => { }, cancellationToken: cancellationToken);
            if (stamps.Count != steps)
                throw new InvalidOperationException($"The trainer reported {stamps.Count} steps, expected {steps}.");
            var seconds = Enumerable.Range(settings.TrainWarmupSteps, settings.TrainSteps)
                .Select(i => Stopwatch.GetElapsedTime(stamps[i - 1], stamps[i]).TotalSeconds).ToArray();
            double rate = batch / Median(seconds);
            double gflops = rate * ModelFlops.TrainingForwardMultiple * cost.ForwardFlopsPerImage / 1e9;
            return new TrainingThroughput(batch, seconds.Length, settings.TrainWarmupSteps, options.Augmentation.ToString(), rate,
                (double)batch * seconds.Length / seconds.Sum(), gflops, gflops / matmulGflops, seconds);
        }
    }

    /// <summary>
    /// Wall time of <see cref="RobustLinearTrainer.Train"/> with the profile's settings on
    /// <see cref="BenchmarkSettings.RobustImages"/> images, after a one-epoch warm-up on 1,000 images.
    /// </summary>
    public static RobustLinearTiming MeasureRobustLinear(BenchmarkSettings settings, Device device, BenchmarkData data, CancellationToken cancellationToken = default)
    {
        TorchNative.Ensure();
        var options = settings.Robust;
        var (images, labels) = data.Take(settings.RobustImages, stream: 3);
        using (images)
        using (labels)
        {
            using (var warm = images.narrow(0, 0, Math.Min(1_000, images.shape[0])))
            using (var warmLabels = labels.narrow(0, 0, warm.shape[0]))
            using (RobustLinearTrainer.Train(warm, warmLabels, options with { Epochs = 1, WarmupEpochs = 0 }, device, cancellationToken: cancellationToken)) { }
            Quiesce();
            using var result = RobustLinearTrainer.Train(images, labels, options, device, cancellationToken: cancellationToken);
            double seconds = result.Elapsed.TotalSeconds;
            return new RobustLinearTiming(settings.RobustImages, (int)result.Model.weight.shape[1], options.Epochs, options.BatchSize,
                options.Mode.ToString(), options.Units.ToString(), seconds, seconds / options.Epochs);
        }
    }

    static double Median(IReadOnlyList<double> values) => Stats.Median(values);

    /// <summary>Finishes pending garbage collection and finalisers so they do not run inside a timed phase.</summary>
    static void Quiesce()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    static void Synchronize(Device device)
    {
        if (device.type == DeviceType.CUDA) cuda.synchronize();
    }

}
