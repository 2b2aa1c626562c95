using System.Text.Json;
using System.Text.Json.Nodes;
using Leakage.Attacks;
using Leakage.Benchmarks;
using Leakage.Compute;
using Leakage.Experiment;
using Leakage.Models;
using Leakage.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Leakage.Tests;

/// <summary>
/// The benchmark's analytic model cost, its memory probe and the PyTorch reference it compares with.
/// (Timings are never asserted; the CLI test checks that a quick run reports every figure.)
/// </summary>
public sealed class BenchmarkTests
{
    [Theory]
    [InlineData(8)]
    [InlineData(24)]
    [InlineData(32)]
    public void Small_cnn_forward_cost_is_the_closed_form_of_its_four_convolutions_and_classifier(int w)
    {
        // 9 (3w 32^2 + 2w^2 16^2 + 8w^2 8^2 + 32w^2 4^2) + 8w 10 = 13824 w^2 + 27728 w
        Assert.Equal(13_824L * w * w + 27_728L * w, ModelFlops.ForwardMacs(ModelFactory.SmallCnnArch, w));
    }

    [Fact]
    public void Small_cnn_at_width_24_costs_the_documented_8_6_million_multiply_adds()
    {
        Assert.Equal(8_628_096, ModelFlops.ForwardMacs(ModelFactory.SmallCnnArch, 24));
        Assert.Equal(2 * 8_628_096.0, ModelFlops.ForwardFlops(ModelFactory.SmallCnnArch, 24));
    }

    [Fact]
    public void Cifar_resnet18_costs_the_well_known_0_56_billion_multiply_adds()
    {
        Assert.Equal(555_422_720, ModelFlops.ForwardMacs(ModelFactory.ResNet18Arch, 64));
    }

    [Fact]
    public void Airbench94_costs_the_0_24_billion_floating_point_operations_its_author_quotes()
    {
        // 0.118 billion multiply-adds = 0.236 GFLOP per image forward (Keller Jordan: about 0.24).
        Assert.Equal(118_147_360, ModelFlops.ForwardMacs(ModelFactory.AirbenchArch, 64));
    }

    [Theory]
    [InlineData(ModelFactory.SmallCnnArch, 8)]
    [InlineData(ModelFactory.SmallCnnArch, 24)]
    [InlineData(ModelFactory.ResNet18Arch, 4)]
    [InlineData(ModelFactory.ResNet18Arch, 64)]
    [InlineData(ModelFactory.AirbenchArch, 16)]
    [InlineData(ModelFactory.AirbenchArch, 64)]
    [InlineData(ModelFactory.ResNet9Arch, 8)]
    [InlineData(ModelFactory.ResNet9Arch, 64)]
    public void Counted_layers_are_exactly_the_models_convolutions_and_linear_layers(string arch, int width)
    {
        using var model = ModelFactory.Create(arch, seed: 0, width: width);
        var actual = model.modules()
            .Select(m => m switch
            {
                Conv2d c => Shape(c.weight!.shape),
                Linear l => Shape(l.weight!.shape),
                _ => null,
            })
            .OfType<string>().Order().ToList();
        var counted = ModelFlops.Layers(arch, width)
            .Select(l => l.Kernel == 1 && l.OutputSize == 1 && l.Name is "fc" or "linear" or "head"
                ? $"{l.OutChannels}x{l.InChannels}"
                : $"{l.OutChannels}x{l.InChannels}x{l.Kernel}x{l.Kernel}")
            .Order().ToList();
        Assert.Equal(actual, counted);
        long weights = model.modules().Sum(m => m switch { Conv2d c => c.weight!.numel(), Linear l => l.weight!.numel(), _ => 0L });
        Assert.Equal(weights, ModelFlops.Layers(arch, width).Sum(l => l.Weights));

        static string Shape(long[] s) => string.Join("x", s);
    }

    [Fact]
    public void Small_cnn_layers_see_the_resolutions_the_max_pools_leave()
    {
        // Each listed convolution's output size is what the model's own modules produce on the
        // activations before it: run them in order and compare.
        using var scope = NewDisposeScope();
        var model = (SmallCnn)ModelFactory.Create(ModelFactory.SmallCnnArch, seed: 0, width: 4);
        var convs = model.modules().OfType<Conv2d>().ToList();
        var layers = ModelFlops.Layers(ModelFactory.SmallCnnArch, 4).Where(l => l.Name.StartsWith("conv")).ToList();
        Assert.Equal(convs.Count, layers.Count);
        var h = rand(1, 3, 32, 32);
        for (int i = 0; i < convs.Count; i++)
        {
            var y = convs[i].forward(h);
            Assert.Equal(layers[i].OutputSize, y.shape[2]);
            Assert.Equal(layers[i].OutputSize, y.shape[3]);
            h = i < 3 ? nn.functional.max_pool2d(y, 2) : y;
        }
    }

    [Fact]
    public void Resident_memory_is_positive_and_the_peak_never_below_the_current_size()
    {
        long current = ResidentMemory.Current();
        Assert.True(current > 0);
        Assert.True(ResidentMemory.Peak() >= current);
        ResidentMemory.ResetPeak();
        Assert.True(ResidentMemory.Peak() > 0);
    }

    [Fact]
    public void Resident_memory_grows_while_a_large_tensor_is_held_and_the_peak_remembers_it()
    {
        ResidentMemory.ResetPeak();
        long before = ResidentMemory.Current();
        long held;
        using (var big = ones(64L << 20, dtype: ScalarType.Int8)) // 64 MiB, every page written
        {
            held = ResidentMemory.Current();
        }
        Assert.True(held - before > 48L << 20, $"resident size grew by {(held - before) >> 20} MiB while holding 64 MiB");
        // The tensor is gone; the peak still counts it (within the few pages freed or touched meanwhile).
        long peak = ResidentMemory.Peak();
        Assert.True(peak - before > 48L << 20, $"peak {peak >> 20} MiB, held {held >> 20} MiB, before {before >> 20} MiB");
    }

    static int[] Chunks(params int[] batchesPerChunk) =>
        batchesPerChunk.SelectMany((count, c) => Enumerable.Repeat(c + 1, count)).ToArray();

    [Theory]
    [InlineData(new[] { 4, 4, 4, 4, 4 }, 12)] // 10,000 images, chunks of 2,000, batches of 500: the 10th batch is 2nd in its chunk, the last 4th
    [InlineData(new[] { 6, 6, 6, 2 }, 14)]    // a short last chunk: compare with the 2nd batch of a chunk
    [InlineData(new[] { 6, 6 }, 6)]           // nothing aligned at or after the 10th: the latest aligned batch
    [InlineData(new[] { 8 }, 4)]              // one chunk: the middle of a short run
    [InlineData(new[] { 20 }, 10)]            // one chunk: the 10th batch
    public void The_drift_reference_sits_at_the_same_place_in_its_chunk_as_the_last_batch(int[] batchesPerChunk, int expected)
    {
        Assert.Equal(expected, Benchmark.DriftReference(Chunks(batchesPerChunk), preferred: 10));
    }

    [Fact]
    public void Quick_settings_keep_the_profiles_model_and_attack_but_shrink_the_work()
    {
        var profile = Profiles.Get("cpu");
        var full = BenchmarkSettings.For(profile);
        var quick = BenchmarkSettings.For(profile, quick: true, drandImages: 40);
        Assert.Equal((profile.Standard.Arch, profile.Standard.Width), (full.Arch, full.Width));
        Assert.Equal((profile.Attack.BatchSize, profile.Attack.Steps, profile.Attack.Eps), (full.Attack.BatchSize, full.Attack.Steps, full.Attack.Eps));
        Assert.Equal(profile.Standard.BatchSize, full.Training.BatchSize);
        Assert.Equal((profile.Robust.Epochs, profile.Robust.BatchSize), (full.Robust.Epochs, full.Robust.BatchSize));
        Assert.Equal((50_000, 10_000), (full.RobustImages, full.DrandImages));
        Assert.Equal((full.Arch, full.Width, full.Attack.Eps), (quick.Arch, quick.Width, quick.Attack.Eps));
        Assert.True(quick.Attack.Steps < full.Attack.Steps && quick.RobustImages < full.RobustImages);
        Assert.Equal(40, quick.DrandImages);
        quick.Validate();
        full.Validate();
        Assert.Throws<ArgumentOutOfRangeException>(() => BenchmarkSettings.For(profile, drandImages: 0));
    }

    [SkippableTheory]
    [InlineData(ModelFactory.SmallCnnArch)]
    [InlineData(ModelFactory.AirbenchArch)]
    public void The_pytorch_reference_computes_the_same_logits_and_pgd_iterates_as_the_library(string arch)
    {
        var python = PyTorchReference.FindPython(null, out var tried);
        Skip.If(python is null, $"no Python can import torch ({string.Join("; ", tried)})");
        using var dir = new TempDir();
        using var scope = NewDisposeScope();
        const int width = 4;
        var model = ModelFactory.Create(arch, seed: 3, width: width);
        // airbench's whitening from data, as its trainer sets it, so that the whitening layer is not a random draw.
        if (model is AirbenchNet airbench)
            using (var g = new Generator(5, CPU))
                airbench.InitializeFromData(rand(64, 3, 32, 32, generator: g), g);
        using (no_grad())
        {
            // Non-trivial batch-norm statistics, so that eval-mode normalisation is exercised too.
            model.train();
            for (int i = 0; i < 3; i++) model.forward(rand(16, 3, 32, 32) * 0.8 + 0.1);
        }
        model.eval();
        var images = rand(5, 3, 32, 32);
        var targets = tensor(new long[] { 1, 7, 3, 0, 9 });
        var options = new L2PgdOptions { Eps = 0.5, StepSize = 0.1, Steps = 4, Targeted = true };
        Tensor logits;
        using (no_grad()) logits = model.forward(images);
        var (adversarial, _, _) = L2Pgd.Perturb(model, images, targets, options);

        var state = new JsonObject();
        foreach (var (name, t) in model.state_dict())
            state[name] = Entry(t);
        var spec = new JsonObject
        {
            ["arch"] = arch,
            ["width"] = width,
            ["state"] = state,
            ["images"] = Entry(images),
            ["targets"] = new JsonArray(targets.data<long>().Select(v => (JsonNode)v).ToArray()),
            ["eps"] = options.Eps,
            ["stepSize"] = options.StepSize,
            ["steps"] = options.Steps,
            ["keepBest"] = options.KeepBest,
        };
        var file = dir["spec.json"];
        File.WriteAllText(file, spec.ToJsonString());

        var output = PyTorchReference.RunScript(python!, ["--threads", "1", "--verify", file], TimeSpan.FromMinutes(2));
        using var result = JsonDocument.Parse(output.Trim().Split('\n')[^1]);
        var theirLogits = result.RootElement.GetProperty("logits").EnumerateArray().Select(e => e.GetSingle()).ToArray();
        var theirAdversarial = result.RootElement.GetProperty("adversarial").EnumerateArray().Select(e => e.GetSingle()).ToArray();

        var ourLogits = logits.contiguous().data<float>().ToArray();
        var ourAdversarial = adversarial.contiguous().data<float>().ToArray();
        Assert.Equal(ourLogits.Length, theirLogits.Length);
        Assert.Equal(ourAdversarial.Length, theirAdversarial.Length);
        Assert.True(ourLogits.Zip(theirLogits).Max(p => Math.Abs(p.First - p.Second)) < 1e-4, "logits differ");
        // The attack moved the images, and both implementations moved them the same way.
        Assert.True((adversarial - images).flatten(1).norm(1).min().item<float>() > 0.1f);
        Assert.True(ourAdversarial.Zip(theirAdversarial).Max(p => Math.Abs(p.First - p.Second)) < 1e-3, "PGD iterates differ");

        static JsonObject Entry(Tensor t)
        {
            var values = t.to(ScalarType.Float32).contiguous().data<float>().ToArray();
            return new JsonObject
            {
                ["shape"] = new JsonArray(t.shape.Select(s => (JsonNode)s).ToArray()),
                ["data"] = new JsonArray(values.Select(v => (JsonNode)v).ToArray()),
            };
        }
    }

    [Fact]
    public void The_pytorch_reference_is_given_the_profiles_network_and_training_recipe()
    {
        var settings = BenchmarkSettings.For(Profiles.Get("cpu"), quick: true);
        var args = PyTorchReference.Arguments(settings, threads: 2);
        string Value(string option) => args[args.ToList().IndexOf(option) + 1];
        Assert.Equal(ModelFactory.AirbenchArch, Value("--arch"));
        Assert.Equal(AirbenchNet.DefaultWidth.ToString(System.Globalization.CultureInfo.InvariantCulture), Value("--width"));
        Assert.Equal("cropaltflip", Value("--augment"));
        Assert.Equal("2", Value("--crop-padding"));
        Assert.Equal("airbench", Value("--schedule"));
        Assert.Equal("64", Value("--norm-lr-scale"));
        Assert.Equal("5", Value("--lookahead"));
        Assert.Equal("0.85", Value("--momentum"));
        Assert.DoesNotContain("--no-nesterov", args);
        Assert.DoesNotContain("--label-smoothing", args);

        var small = PyTorchReference.Arguments(BenchmarkSettings.For(Profiles.Get("cpu-small"), quick: true), threads: 2);
        Assert.Equal(ModelFactory.SmallCnnArch, small[small.ToList().IndexOf("--arch") + 1]);
        Assert.Equal("cropflip", small[small.ToList().IndexOf("--augment") + 1]);
        Assert.DoesNotContain("--norm-lr-scale", small);
        Assert.DoesNotContain("--lookahead", small);
    }

    [Fact]
    public void The_pytorch_reference_refuses_a_network_whose_training_step_it_does_not_replicate()
    {
        var paper = BenchmarkSettings.For(Profiles.Get("paper"), quick: true);
        // Refused before any process starts: the interpreter is never run.
        var e = Assert.Throws<NotSupportedException>(() => PyTorchReference.Start("/nonexistent/python", paper, threads: 1, ompWaitPolicy: ""));
        Assert.Contains(ModelFactory.ResNet18Arch, e.Message);
        Assert.Contains(ModelFactory.AirbenchArch, e.Message);
    }

    [Fact]
    public void The_bench_warns_when_the_pytorch_reference_runs_on_the_reference_blas()
    {
        static System.Text.Json.JsonElement Header(string json) => System.Text.Json.JsonDocument.Parse(json).RootElement;
        // Debian's python3-torch without an optimised libblas: netlib's blas/libblas.so.3.
        var warning = PyTorchReference.ReferenceBlasWarning(Header("""{"blasLibrary": "blas/libblas.so.3"}"""));
        Assert.NotNull(warning);
        Assert.Contains("libopenblas0-pthread", warning);
        Assert.Null(PyTorchReference.ReferenceBlasWarning(Header("""{"blasLibrary": "openblas-pthread/libblas.so.3, openblas-pthread/libopenblas.so.0"}""")));
        // An older script, or a platform without /proc: nothing to judge by, no warning.
        Assert.Null(PyTorchReference.ReferenceBlasWarning(Header("""{"blas": "generic"}""")));
        Assert.Null(PyTorchReference.ReferenceBlasWarning(Header("""{"blasLibrary": ""}""")));
    }

    [Fact]
    public void The_phase_split_replays_the_airbench_recipes_training_step_with_its_alternating_flip()
    {
        // The recipe of the cpu profile (CropAlternatingFlip, lookahead, batch-norm groups) at a small width.
        var settings = BenchmarkSettings.For(Profiles.Get("cpu"), quick: true) with { Width = 8 };
        Assert.Equal(Leakage.Training.Augmentation.CropAlternatingFlip, settings.Training.Augmentation);
        var phases = PhaseSplit.Training(settings, CPU, BenchmarkData.Synthetic(settings.Seed));
        Assert.True(phases.Augmentation > 0 && phases.Forward > 0 && phases.Backward > 0 && phases.Optimizer > 0, phases.ToString());
    }
}

/// <summary>The statistics and machine facts the alternating protocol reports.</summary>
public sealed class BenchmarkProtocolTests
{
    [Fact]
    public void Spread_gives_the_median_extremes_and_interpolated_quartiles()
    {
        var s = Spread.Of([0.9, 1.3, 1.0, 1.1, 5.0]);
        Assert.Equal(1.1, s.Median, 12);
        Assert.Equal(0.9, s.Min);
        Assert.Equal(5.0, s.Max);
        Assert.Equal(1.0, s.Q1, 12);
        Assert.Equal(1.3, s.Q3, 12);
        Assert.Equal(5, s.Count);
        Assert.Equal(1.5, Spread.Of([1.0, 2.0]).Median, 12);
        Assert.Throws<ArgumentException>(() => Spread.Of([]));
    }

    static CpuInfo Cpu(string vendor, int family, string flags, double mhz, int siblings = 2, int cores = 2, int model = 1)
    {
        using var dir = new TempDir();
        var path = dir["cpuinfo"];
        File.WriteAllText(path,
            $"processor\t: 0\nvendor_id\t: {vendor}\ncpu family\t: {family}\nmodel\t\t: {model}\nmodel name\t: Test CPU\ncpu MHz\t\t: {mhz.ToString(System.Globalization.CultureInfo.InvariantCulture)}\n" +
            $"siblings\t: {siblings}\ncpu cores\t: {cores}\nflags\t\t: {flags}\n\nprocessor\t: 1\nflags\t\t: sse2\n");
        return CpuInfo.Read(path);
    }

    [Fact]
    public void The_float32_peak_is_cores_times_clock_times_the_cores_FMA_width()
    {
        // AMD Zen 4 (family 19h, this project's EPYC): AVX-512 runs on two 256-bit FMA pipes, 32 FLOP/cycle.
        var zen4 = Cpu("AuthenticAMD", 25, "fpu sse2 avx avx2 fma avx512f avx512_bf16", 2596.0);
        var peak = ComputePeak.Derive(zen4, cores: 2)!;
        Assert.Equal(32, peak.FlopPerCycle);
        Assert.Equal(2 * 2.596 * 32, peak.Gflops, 9);
        Assert.Equal("Test CPU", zen4.Model);
        Assert.Contains("avx512_bf16", zen4.Flags);
        Assert.DoesNotContain("sse4_1", zen4.Flags);
        // Intel with AVX-512: two 512-bit FMA units; AVX2-only CPUs: two 256-bit ones.
        Assert.Equal(64, ComputePeak.Derive(Cpu("GenuineIntel", 6, "avx avx2 fma avx512f", 2000), 1)!.FlopPerCycle);
        Assert.Equal(32, ComputePeak.Derive(Cpu("GenuineIntel", 6, "avx avx2 fma", 2000), 1)!.FlopPerCycle);
        // AMD family 17h: Zen 1 / Zen+ (models below 30h, e.g. EPYC 7001 "model 1") split a 256-bit FMA over two 128-bit pipes; Zen 2 does not.
        var zen1 = Cpu("AuthenticAMD", 23, "avx avx2 fma", 2000, model: 1);
        Assert.Equal(1, zen1.ModelNumber);
        Assert.Equal(16, ComputePeak.Derive(zen1, 1)!.FlopPerCycle);
        Assert.Equal(32, ComputePeak.Derive(Cpu("AuthenticAMD", 23, "avx avx2 fma", 2000, model: 49), 1)!.FlopPerCycle);
        // No clock, no peak.
        Assert.Null(ComputePeak.Derive(Cpu("GenuineIntel", 6, "avx2 fma", 0), 1));
        // Hyper-threads are not cores.
        Assert.Equal(2, Cpu("GenuineIntel", 6, "avx2", 2000, siblings: 4, cores: 2).ThreadsPerCore);
    }

    [Fact]
    public void Steal_and_the_process_share_come_from_proc_stat_deltas()
    {
        var a = CpuTimes.Read();
        var b = a with { Total = a.Total + 1_000, Steal = a.Steal + 50, Idle = a.Idle + 250, Process = a.Process + 300, At = a.At + System.Diagnostics.Stopwatch.Frequency * 2 };
        var load = b.Since(a, threads: 2);
        Assert.Equal(2.0, load.Seconds, 6);
        Assert.Equal(0.5, load.StealSeconds, 9);
        Assert.Equal(0.05, load.StealFraction, 9);
        Assert.Equal(0.75, load.BusyFraction, 9);
        Assert.Equal(0.75, load.ProcessCpuShare, 9); // 3 CPU-s over 2 s x 2 threads
    }
}
