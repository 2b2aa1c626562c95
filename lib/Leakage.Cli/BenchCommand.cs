using System.CommandLine;
using System.Diagnostics;
using Leakage.Benchmarks;
using Leakage.Compute;
using Leakage.Native;
using Leakage.Data;
using Leakage.Experiment;
using Spectre.Console;

namespace Leakage.Cli;

/// <summary>
/// <c>bench</c>: measures the profile's heavy steps on this machine (<see cref="Benchmark"/>), optionally
/// against the same network in PyTorch, and writes <c>&lt;out&gt;/bench.json</c> and a table.
/// Benchmarks, not tests: nothing here judges a time.
/// </summary>
static class BenchCommand
{
    static readonly Option<string> ProfileOption = new("--profile")
    {
        Description = $"Profile whose model, batch sizes, PGD and robust-linear settings are measured: {string.Join(", ", Profiles.Names)}.",
        DefaultValueFactory = _ => "cpu",
    };

    static readonly Option<string> OutOption = new("--out")
    {
        Description = "Folder for bench.json (created).",
        DefaultValueFactory = _ => Path.Combine("runs", "bench"),
    };

    static readonly Option<bool> QuickOption = new("--quick")
    {
        Description = "Shrink every measurement to seconds (a smoke run: the figures are present but not meaningful).",
    };

    static readonly Option<int?> ImagesOption = new("--images")
    {
        Description = "Images attacked for the D_rand memory profile (default 10,000; 96 with --quick).",
    };

    static readonly Option<string?> DataOption = new("--data")
    {
        Description = "Use the training images of this CIFAR-10 folder instead of synthetic ones (timings do not depend on pixel values).",
    };

    static readonly Option<int?> RoundsOption = new("--rounds")
    {
        Description = "Rounds of the alternating protocol (default 5; the ratios are the median over rounds).",
    };

    static readonly Option<int?> TrainStepsOption = new("--train-steps")
    {
        Description = "Timed training steps per round and side (default 30; fewer on a crowded machine, where each step takes seconds).",
    };

    static readonly Option<int?> PgdRepeatsOption = new("--pgd-repeats")
    {
        Description = "Timed PGD batches per round and side (default 2).",
    };

    static readonly Option<bool> PyTorchOption = new("--pytorch")
    {
        Description = "Also run tools/bench/pytorch_reference.py (the same network and steps in PyTorch) and record TorchSharp/PyTorch ratios; skipped with a note when no Python can import torch.",
    };

    static readonly Option<string?> PythonOption = new("--python")
    {
        Description = $"Python interpreter for --pytorch (default: ${PyTorchReference.PythonVariable}, python3, /usr/bin/python3, python: the first that can import torch).",
    };

    static readonly Option<bool> NativeHeapOption = new("--native-heap")
    {
        Description = $"Also measure NativeHeap (glibc malloc settings) on against off ({NativeHeap.SwitchVariable}=off) in alternating child processes, one pair per round: training images/s and page faults per step.",
    };

    static readonly Option<bool> NativeHeapChildOption = new("--native-heap-child")
    {
        Description = "Internal: one side of --native-heap (training steps on the main thread, a JSON line on stdout).",
        Hidden = true,
    };

    static readonly Option<bool> KernelsOption = new("--kernels")
    {
        Description = $"Also split one training step and one PGD step into oneDNN's kernels (a child process per step with {OneDnnCall.Variable}={OneDnnCall.ProfileExec}): milliseconds and GFLOP/s per convolution, and the convolutions' share of the step. CPU only.",
    };

    static readonly Option<string?> KernelsChildOption = new("--kernels-child")
    {
        Description = "Internal: one step of --kernels (training or pgd; its phase split alone, a JSON line on stdout).",
        Hidden = true,
    };

    public static Command Create()
    {
        var cmd = new Command("bench", "Measure matmul GFLOP/s, PGD and training throughput (with model-FLOP utilisation), robust linear training time and resident memory while generating D_rand; write <out>/bench.json and print a table.");
        cmd.Options.Add(ProfileOption);
        cmd.Options.Add(OutOption);
        cmd.Options.Add(QuickOption);
        cmd.Options.Add(ImagesOption);
        cmd.Options.Add(DataOption);
        cmd.Options.Add(RoundsOption);
        cmd.Options.Add(TrainStepsOption);
        cmd.Options.Add(PgdRepeatsOption);
        cmd.Options.Add(PyTorchOption);
        cmd.Options.Add(PythonOption);
        cmd.Options.Add(NativeHeapOption);
        cmd.Options.Add(NativeHeapChildOption);
        cmd.Options.Add(KernelsOption);
        cmd.Options.Add(KernelsChildOption);
        cmd.Options.Add(ExperimentCommand.SetOption);
        cmd.Options.Add(ExperimentCommand.DeviceOption);
        cmd.Options.Add(ExperimentCommand.ThreadsOption);
        BenchWorkers.Add(cmd);
        cmd.SetAction((parse, ct) => Cli.Guard(() =>
        {
            var clock = Stopwatch.StartNew();
            void Log(string message) => AnsiConsole.MarkupLine($"[grey]{clock.Elapsed:mm\\:ss}[/] {Markup.Escape(message)}");
            if (parse.GetValue(BenchWorkers.WorkersOption) is int workers)
                return Task.FromResult(BenchWorkers.Run(parse, workers, ProfileOption, RoundsOption, DataOption, Path.GetFullPath(parse.GetValue(OutOption)!), Log, ct));

            var overrides = ExperimentCommand.MachineOverrides(parse);
            overrides.AddRange(parse.GetValue(ExperimentCommand.SetOption) ?? []);
            var profile = SettingsOverrides.Apply(Profiles.Get(parse.GetValue(ProfileOption)!), overrides);
            var images = parse.GetValue(ImagesOption);
            if (images is < 1) throw new ArgumentException($"--images must be at least 1 (images attacked for the D_rand memory profile), got {images}.");
            var settings = BenchmarkSettings.For(profile, parse.GetValue(QuickOption), images);
            if (parse.GetValue(RoundsOption) is int rounds) settings = settings with { Rounds = rounds };
            if (parse.GetValue(TrainStepsOption) is int trainSteps) settings = settings with { TrainSteps = trainSteps };
            if (parse.GetValue(PgdRepeatsOption) is int pgdRepeats) settings = settings with { PgdRepeats = pgdRepeats };
            settings.Validate();
            if (parse.GetValue(NativeHeapChildOption))
            {
                Devices.SetThreads(profile.Threads);
                Console.Out.WriteLine(Benchmark.ToJsonLine(Benchmark.NativeHeapTraining(settings, Devices.Select(profile.Device), ct)));
                return Task.FromResult(0);
            }
            if (parse.GetValue(KernelsChildOption) is string step)
            {
                Devices.SetThreads(profile.Threads);
                Console.Out.WriteLine(Benchmark.ToJsonLine(Benchmark.KernelStep(settings, Devices.Select(profile.Device), step, Console.Out.WriteLine)));
                return Task.FromResult(0);
            }
            var outDir = Path.GetFullPath(parse.GetValue(OutOption)!);
            BenchmarkReport.ReadExisting(outDir); // an unreadable bench.json fails now, not after the measurement

            string? python = null;
            if (parse.GetValue(PyTorchOption))
            {
                var preferred = parse.GetValue(PythonOption);
                python = PyTorchReference.FindPython(preferred, out var tried);
                if (python is null && preferred is not null)
                    throw new ArgumentException($"--python {preferred} cannot import torch ({string.Join("; ", tried)}).");
                if (python is null) Log($"PyTorch reference skipped: no Python can import torch ({string.Join("; ", tried)}).");
            }

            Devices.SetThreads(profile.Threads);
            var device = Devices.Select(profile.Device);
            if (parse.GetValue(KernelsOption) && device.type != TorchSharp.DeviceType.CPU)
                throw new ArgumentException($"--kernels reads oneDNN's log of CPU kernels; this bench runs on {device.type.ToString().ToLowerInvariant()} (use --device cpu).");
            CifarData? cifar = null;
            try
            {
                BenchmarkData? data = null;
                if (parse.GetValue(DataOption) is string dataDir)
                {
                    cifar = CifarLoader.Load(CifarLoader.ResolveFolder(dataDir), new CifarLoadOptions { Log = Log });
                    data = BenchmarkData.From(cifar.Train, CifarLoader.AsNamed(dataDir, cifar.Source));
                }
                Directory.CreateDirectory(outDir);
                var work = Path.Combine(outDir, ".bench-work");
                var report = Benchmark.Run(settings, device, work, data, python, Log, ct);
                if (parse.GetValue(NativeHeapOption))
                {
                    Log($"NativeHeap on against off: {settings.Rounds} rounds of two child processes ...");
                    var heap = Benchmark.MeasureNativeHeap(settings.Rounds, () => Child(parse, overrides, "--native-heap-child"), Log, ct);
                    report = report with { NativeHeap = heap };
                    Log($"NativeHeap: training on/off {heap.Ratio.Median:0.00} [{heap.Ratio.Min:0.00}, {heap.Ratio.Max:0.00}] (median [min, max] of {heap.Rounds.Count} rounds); " +
                        $"per CPU-second {heap.RatioPerCpuSecond.Median:0.00}; minor faults per step {heap.OnMinorFaultsPerStep:N0} on, {heap.OffMinorFaultsPerStep:N0} off.");
                }
                if (parse.GetValue(KernelsOption))
                {
                    Log("oneDNN kernels: a child process per step ...");
                    report = report with { Kernels = Benchmark.MeasureKernels(step => Child(parse, overrides, "--kernels-child", step), Log, ct) };
                }
                if (Directory.Exists(work) && !Directory.EnumerateFileSystemEntries(work).Any()) Directory.Delete(work);
                var path = report.Save(outDir);
                AnsiConsole.Write(Table(report));
                if (report.PyTorch is { } reference) AnsiConsole.Write(ReferenceTable(reference));
                AnsiConsole.Write(PhaseTable(report));
                if (report.Kernels is { } kernels) AnsiConsole.Write(KernelTable(kernels));
                AnsiConsole.MarkupLine($"Wrote [green]{Markup.Escape(path)}[/] ({report.Seconds:0} s).");
            }
            finally
            {
                cifar?.Dispose();
            }
            return Task.FromResult(0);
        }));
        return cmd;
    }

    /// <summary>This CLI again as a bench child (<c>--native-heap-child</c>, <c>--kernels-child STEP</c>) with the parent's profile, overrides and step counts.</summary>
    static ProcessStartInfo Child(ParseResult parse, IEnumerable<string> overrides, params string[] role)
    {
        List<string> args = ["bench", .. role, "--profile", parse.GetValue(ProfileOption)!];
        foreach (var o in overrides) args.AddRange(["--set", o]);
        if (parse.GetValue(QuickOption)) args.Add("--quick");
        if (parse.GetValue(TrainStepsOption) is int steps) args.AddRange(["--train-steps", steps.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        return Cli.Again(args);
    }

    static Table Table(BenchmarkReport r)
    {
        var m = r.Machine;
        var table = new Table()
            .Title($"bench, profile {r.Profile}{(r.Quick ? " (quick: not meaningful)" : "")}: {m.Cpu}{(m.CpuCore is { } core ? $", {core}" : "")} ({string.Join(" ", m.VectorExtensions)}), {m.Threads} threads, OMP_WAIT_POLICY={m.OmpWaitPolicy}, {r.Data} data")
            .AddColumn("measure").AddColumn(new TableColumn("TorchSharp").RightAligned());
        void Row(string measure, string value) => table.AddRow(Markup.Escape(measure), Markup.Escape(value));
        Row($"matmul {r.Matmul.Size}x{r.Matmul.Size} float32, GFLOP/s", $"{r.Matmul.Gflops:0.0}");
        if (m.Peak is { Gflops: > 0 } peak)
            Row($"  float32 peak: {peak.Cores} cores x {peak.ClockGhz:0.00} GHz x {peak.FlopPerCycle} FLOP/cycle, GFLOP/s (matmul share)", $"{peak.Gflops:0.0} ({r.Matmul.Gflops / peak.Gflops:P0})");
        foreach (var f in m.Peak?.Measured ?? [])
            Row($"  FMA loop, {f.VectorBits}-bit vectors on {f.Threads} threads, GFLOP/s (matmul share)", $"{f.Gflops:0.0} ({r.Matmul.Gflops / f.Gflops:P0})");
        Row($"{r.Model.Arch} width {r.Model.Width}: forward MFLOP per image", $"{r.Model.ForwardFlopsPerImage / 1e6:0.0}");
        Row($"PGD image-steps/s (batch {r.Pgd.BatchSize}, {r.Pgd.Steps} steps; median of {r.Rounds.Count} rounds)", $"{r.Pgd.ImageStepsPerSecond:N0}");
        Row("  GFLOP/s (MFU vs matmul; vs the larger peak)", $"{r.Pgd.Gflops:0.0} ({r.Pgd.Mfu:P0}; {Percent(r.Pgd.PeakUtilisation)})");
        Row($"training images/s (batch {r.Training.BatchSize}, {r.Training.Augmentation}; median of {r.Rounds.Count} rounds)", $"{r.Training.ImagesPerSecond:N0}");
        Row("  GFLOP/s (MFU vs matmul; vs the larger peak)", $"{r.Training.Gflops:0.0} ({r.Training.Mfu:P0}; {Percent(r.Training.PeakUtilisation)})");
        Row("  rounds: training images/s", string.Join(" ", r.Rounds.Select(x => x.TrainingImagesPerSecond.ToString("N0"))));
        Row($"robust linear C: {r.RobustLinear.Images:N0} images, {r.RobustLinear.Epochs} epochs, s", $"{r.RobustLinear.Seconds:0.0}");
        Row($"D_rand for {r.Memory.Images:N0} images, s", $"{r.Memory.Seconds:0.0}");
        Row("  peak resident memory, MiB", $"{r.Memory.PeakRssBytes / 1048576.0:N0}");
        Row($"  resident drift, batch {r.Memory.ReferenceBatch} to {r.Memory.Batches}", $"{r.Memory.Drift:+0.00%;-0.00%;0.00%}");
        if (r.Bfloat16 is { } b)
        {
            Row("bfloat16 PGD step, ms (speed-up over float32)", $"{b.Phases.Pgd.Total * 1e3:0.0} ({b.PgdSpeedup:0.00}x)");
            Row("bfloat16 training step, ms (speed-up over float32)", $"{b.Phases.Training.Total * 1e3:0.0} ({b.TrainingSpeedup:0.00}x)");
        }
        if (r.NativeHeap is { } h)
        {
            Row($"NativeHeap on/off training images/s (median [min, max] of {h.Rounds.Count} rounds)", $"{h.Ratio.Median:0.00} [{h.Ratio.Min:0.00}, {h.Ratio.Max:0.00}]");
            Row("  per CPU-second (median [min, max])", $"{h.RatioPerCpuSecond.Median:0.00} [{h.RatioPerCpuSecond.Min:0.00}, {h.RatioPerCpuSecond.Max:0.00}]");
            Row("  minor page faults per training step, on / off", $"{h.OnMinorFaultsPerStep:N0} / {h.OffMinorFaultsPerStep:N0}");
        }
        Row("steal during the run, CPU-s (share)", $"{r.Load.StealSeconds:0.0} ({r.Load.StealFraction:P1})");
        Row("bench wall time, s", $"{r.Seconds:0}");
        return table;
    }

    static string Percent(double? v) => v is double d ? d.ToString("P0") : "n/a";

    static Table ReferenceTable(PyTorchComparison p)
    {
        var table = new Table()
            .Title($"vs PyTorch {p.Torch}, {p.Threads} threads, OMP_WAIT_POLICY={p.OmpWaitPolicy}, {p.Rounds.Count} alternating rounds (ratio = TorchSharp / PyTorch)")
            .AddColumn("measure")
            .AddColumn(new TableColumn("PyTorch NCHW").RightAligned()).AddColumn(new TableColumn("channels-last").RightAligned())
            .AddColumn(new TableColumn("ratio vs faster: median [[min, max]]").RightAligned());
        string S(Spread x) => Markup.Escape($"{x.Median:0.00} [{x.Min:0.00}, {x.Max:0.00}]");
        table.AddRow("PGD image-steps/s", $"{p.PgdImageStepsPerSecond:N0}", $"{p.ChannelsLastPgdImageStepsPerSecond:N0}", S(p.RatioSpread.Pgd));
        table.AddRow("training images/s", $"{p.TrainingImagesPerSecond:N0}", $"{p.ChannelsLastTrainingImagesPerSecond:N0}", S(p.RatioSpread.Training));
        table.AddRow("ratio per CPU-second (PGD, training)", "", "", $"{p.RatiosPerCpuSecond.Pgd:0.00}, {p.RatiosPerCpuSecond.Training:0.00}");
        table.AddRow("matmul GFLOP/s", $"{p.MatmulGflops:0.0}", "", "");
        return table;
    }

    static Table PhaseTable(BenchmarkReport r)
    {
        var table = new Table().Title("ms per step, by phase").AddColumn("phase").AddColumn(new TableColumn("TorchSharp").RightAligned());
        var columns = new List<(string Name, StepPhases Phases)> { ("TorchSharp", r.Phases) };
        foreach (var (layout, phases) in r.PyTorch?.Phases ?? new Dictionary<string, StepPhases>())
        {
            table.AddColumn(new TableColumn($"PyTorch {layout}").RightAligned());
            columns.Add((layout, phases));
        }
        void Row(string name, Func<StepPhases, double> f) => table.AddRow([Markup.Escape(name), .. columns.Select(c => $"{f(c.Phases) * 1e3:0.0}")]);
        Row("training: data", x => x.Training.Data);
        Row("training: augmentation", x => x.Training.Augmentation);
        Row("training: forward", x => x.Training.Forward);
        Row("training: backward", x => x.Training.Backward);
        Row("training: optimiser", x => x.Training.Optimizer);
        Row("training: metrics", x => x.Training.Metrics);
        Row("training: total", x => x.Training.Total);
        Row("PGD: forward", x => x.Pgd.Forward);
        Row("PGD: backward", x => x.Pgd.Backward);
        Row("PGD: update", x => x.Pgd.Update);
        Row("PGD: total", x => x.Pgd.Total);
        return table;
    }

    static Table KernelTable(KernelProfile k)
    {
        var table = new Table().Title($"oneDNN kernels per step ({k.OneDnn}, {k.Isa}): the convolutions' share is what a step would cost if all else were free")
            .AddColumn("step / kernel").AddColumn("oneDNN implementation").AddColumn(new TableColumn("calls").RightAligned())
            .AddColumn(new TableColumn("ms").RightAligned()).AddColumn(new TableColumn("GFLOP/s").RightAligned());
        foreach (var (name, s) in new[] { ("training", k.Training), ("PGD", k.Pgd) })
        {
            table.AddRow(Markup.Escape($"{name} step {s.StepMilliseconds:0.0} ms: convolutions {s.ConvolutionShare:P0}"), "", "", $"{s.ConvolutionMilliseconds:0.0}", $"{s.ConvolutionGflops:0}");
            foreach (var r in s.Kernels.Where(r => r.Primitive == "convolution" || r.MillisecondsPerStep >= 0.01 * s.StepMilliseconds))
                table.AddRow(Markup.Escape($"  {(r.Primitive == "convolution" ? "conv" : r.Primitive)} {Short(r.Propagation)} {(r.Primitive == "convolution" ? r.Problem.Split('_').ElementAtOrDefault(1) : r.Problem)}"), Markup.Escape(r.Implementation),
                    $"{r.CallsPerStep:0.##}", $"{r.MillisecondsPerStep:0.0}", r.Gflops is double g ? $"{g:0}" : "");
        }
        return table;

        static string Short(string propagation) => propagation switch
        {
            "forward_training" or "forward_inference" => "fwd",
            "backward_data" => "bwd-data",
            "backward_weights" => "bwd-weights",
            "undef" => "",
            _ => propagation,
        };
    }
}
