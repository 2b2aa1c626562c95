using System.Text.Json.Nodes;
using Leakage.Benchmarks;
using Leakage.Cli.Tests.Support;

namespace Leakage.Cli.Tests;

/// <summary>
/// <c>bench --quick</c> runs every measurement in seconds and writes a bench.json with every figure.
/// Benchmarks, not tests of speed: only the presence and sanity of the figures is checked, never a time.
/// </summary>
public class BenchTests
{
    static readonly string[] PositiveFigures =
    [
        "machine.logicalCores", "machine.threads",
        "model.parameters", "model.forwardMacsPerImage", "model.forwardFlopsPerImage",
        "matmul.size", "matmul.gflops",
        "pgd.batchSize", "pgd.steps", "pgd.imageStepsPerSecond", "pgd.imageStepsPerSecondMean", "pgd.gflops", "pgd.mfu",
        "training.batchSize", "training.steps", "training.imagesPerSecond", "training.imagesPerSecondMean", "training.gflops", "training.mfu",
        "robustLinear.images", "robustLinear.dimension", "robustLinear.epochs", "robustLinear.seconds", "robustLinear.secondsPerEpoch",
        "memory.images", "memory.batches", "memory.referenceBatch", "memory.peakRssBytes", "memory.rssBeforeBytes",
        "memory.rssAtReferenceBytes", "memory.rssEndBytes", "memory.seconds", "memory.imagesPerSecond",
        "machine.threadsPerCore",
        "phases.training.forward", "phases.training.backward", "phases.training.optimizer", "phases.training.augmentation",
        "phases.pgd.forward", "phases.pgd.backward", "phases.pgd.update",
        "seconds",
    ];

    static double Figure(JsonNode root, string path)
    {
        JsonNode? node = root;
        foreach (var key in path.Split('.')) node = node?[key];
        Assert.True(node is not null, $"bench.json has no {path}");
        return node!.GetValue<double>();
    }

    static async Task<(CliOutcome Outcome, JsonNode Report, string Dir)> RunQuick(TempDir dir, params string[] more)
    {
        var outcome = await CliProcess.RunAsync(["bench", "--quick", "--threads", "1", "--out", dir["bench"], .. more], dir["cache"], TimeSpan.FromMinutes(3));
        Assert.True(outcome.ExitCode == 0, outcome.ToString());
        var path = Path.Combine(dir["bench"], BenchmarkReport.FileName);
        Assert.True(File.Exists(path), outcome.ToString());
        return (outcome, JsonNode.Parse(File.ReadAllText(path))!, dir["bench"]);
    }

    [Fact]
    public async Task A_quick_bench_writes_every_figure_finite_and_positive_and_leaves_no_scratch_files()
    {
        using var dir = new TempDir();
        var (outcome, report, benchDir) = await RunQuick(dir);

        foreach (var path in PositiveFigures)
        {
            double v = Figure(report, path);
            Assert.True(double.IsFinite(v) && v > 0, $"{path} = {v}");
        }
        Assert.True(double.IsFinite(Figure(report, "memory.drift")), "memory.drift is not finite");
        Assert.Equal(Figure(report, "memory.batches"), report["memory"]!["rssAfterBatchBytes"]!.AsArray().Count);
        Assert.Equal(2 * Figure(report, "model.forwardMacsPerImage"), Figure(report, "model.forwardFlopsPerImage"));
        Assert.Equal(1, Figure(report, "machine.threads"));
        Assert.True(report["quick"]!.GetValue<bool>());
        Assert.Equal("cpu", (string?)report["profile"]);
        Assert.Equal("synthetic", (string?)report["data"]);
        foreach (var key in new[] { "cpu", "os", "dotnet", "torchSharp", "libtorch", "ompWaitPolicy" })
            Assert.False(string.IsNullOrWhiteSpace((string?)report["machine"]![key]), $"machine.{key} is empty");
        // The core generation, named as results.json's provenance names it (where /proc/cpuinfo says).
        Assert.Equal(Leakage.Compute.CpuInfo.Current.Core, (string?)report["machine"]!["cpuCore"]);
        Assert.Null(report["pyTorch"]);

        // The alternating protocol: one entry per round (2 in a quick run), the headline figure their median;
        // what the machine did meanwhile (steal can be zero, never negative or missing).
        var rounds = report["rounds"]!.AsArray();
        Assert.Equal(2, rounds.Count);
        var rates = rounds.Select(r => r!["trainingImagesPerSecond"]!.GetValue<double>()).Order().ToArray();
        Assert.Equal((rates[0] + rates[1]) / 2, Figure(report, "training.imagesPerSecond"), 6);
        Assert.True(Figure(report, "load.stealSeconds") >= 0);
        Assert.True(Figure(report, "load.seconds") > 0);
        Assert.NotNull(report["machine"]!["vectorExtensions"]!.AsArray());

        // The readable table and nothing but bench.json left behind.
        Assert.Contains("PGD image-steps/s", outcome.Stdout);
        Assert.Contains("peak resident memory", outcome.Stdout);
        Assert.Equal([BenchmarkReport.FileName], Directory.GetFileSystemEntries(benchDir).Select(Path.GetFileName));
    }

    [SkippableFact]
    public async Task With_pytorch_a_quick_bench_records_the_reference_and_the_ratios()
    {
        var python = PyTorchReference.FindPython(null, out var tried);
        Skip.If(python is null, $"no Python can import torch ({string.Join("; ", tried)})");
        using var dir = new TempDir();
        var (_, report, _) = await RunQuick(dir, "--pytorch", "--python", python!);

        var reference = report["pyTorch"];
        Assert.NotNull(reference);
        foreach (var path in new[] { "pyTorch.pgdImageStepsPerSecond", "pyTorch.trainingImagesPerSecond", "pyTorch.pgdRatio", "pyTorch.trainingRatio", "pyTorch.matmulGflops" })
        {
            double v = Figure(report, path);
            Assert.True(double.IsFinite(v) && v > 0, $"{path} = {v}");
        }
        Assert.Equal(Figure(report, "pgd.imageStepsPerSecond") / Figure(report, "pyTorch.pgdImageStepsPerSecond"), Figure(report, "pyTorch.pgdRatio"), 9);
        // Same work on both sides: thread count, batch sizes and steps.
        Assert.Equal(Figure(report, "machine.threads"), Figure(report, "pyTorch.threads"));
        Assert.Equal(Figure(report, "pgd.batchSize"), Figure(report, "pyTorch.raw.pgd.batchSize"));
        Assert.Equal(Figure(report, "pgd.steps"), Figure(report, "pyTorch.raw.pgd.steps"));
        Assert.Equal(Figure(report, "training.batchSize"), Figure(report, "pyTorch.raw.training.batchSize"));
        // Like for like: the OpenMP policy too.
        Assert.Equal((string?)report["machine"]!["ompWaitPolicy"], (string?)report["pyTorch"]!["ompWaitPolicy"]);

        // Per-round ratios against PyTorch's faster layout: one per round, the headline is their median.
        var rounds = report["pyTorch"]!["rounds"]!.AsArray();
        Assert.Equal(report["rounds"]!.AsArray().Count, rounds.Count);
        foreach (var m in new[] { "pgd", "training" })
        {
            double median = Figure(report, $"pyTorch.ratios.{m}");
            Assert.True(double.IsFinite(median) && median > 0, $"pyTorch.ratios.{m} = {median}");
            Assert.Equal(median, Figure(report, $"pyTorch.ratioSpread.{m}.median"));
            Assert.InRange(median, Figure(report, $"pyTorch.ratioSpread.{m}.min"), Figure(report, $"pyTorch.ratioSpread.{m}.max"));
            Assert.Contains((string?)report["pyTorch"]!["fasterLayout"]![m], new[] { "nchw", "channelsLast" });
        }
        foreach (var layout in new[] { "nchw", "channelsLast" })
            foreach (var phase in new[] { "training.forward", "training.backward", "pgd.forward", "pgd.backward" })
                Assert.True(Figure(report, $"pyTorch.phases.{layout}.{phase}") > 0, $"pyTorch.phases.{layout}.{phase}");
    }

    /// <summary>
    /// <c>bench --kernels</c> reads libtorch's own oneDNN log: every convolution the step runs, once per
    /// step, at the step's batch size, and no other. Training runs each layer forward and both gradients
    /// except the first layer's input gradient (autograd skips it: the images need none); PGD runs each
    /// layer forward and its input gradient, never a weight gradient (the parameters are frozen). A plain
    /// bench keeps the section <c>bench --workers</c> wrote into the same bench.json.
    /// </summary>
    [Fact]
    public async Task With_kernels_a_quick_bench_finds_each_steps_convolutions_once_per_step_and_keeps_the_workers_section()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["bench"]);
        File.WriteAllText(Path.Combine(dir["bench"], BenchmarkReport.FileName), """{ "profile": "an earlier bench", "workers": { "ratio": { "median": 1.19 } } }""");
        // The SmallCnn's four 3x3 convolutions (the cpu profile's airbench adds a frozen 2x2 whitening layer in front).
        var (outcome, report, _) = await RunQuick(dir, "--kernels", "--profile", "cpu-small");

        Assert.Equal("cpu-small", (string?)report["profile"]);
        Assert.Equal(1.19, (double)report["workers"]!["ratio"]!["median"]!);

        var k = report["kernels"]!;
        Assert.StartsWith("oneDNN v", (string?)k["oneDnn"]);
        Assert.False(string.IsNullOrWhiteSpace((string?)k["isa"]));
        var convs = ModelFlops.Layers((string)report["model"]!["arch"]!, (int)report["model"]!["width"]!).Where(l => l.Kernel == 3).ToList();
        Assert.Equal(4, convs.Count);
        string Layer(MacLayer l) => $"ic{l.InChannels}oc{l.OutChannels}_ih{l.OutputSize}";
        foreach (var (step, batch, expected) in new[]
        {
            ("training", (int)report["training"]!["batchSize"]!,
                convs.SelectMany(l => new[] { ("forward", Layer(l)), ("backward_weights", Layer(l)) }).Concat(convs.Skip(1).Select(l => ("backward_data", Layer(l))))),
            ("pgd", (int)report["pgd"]!["batchSize"]!,
                convs.SelectMany(l => new[] { ("forward", Layer(l)), ("backward_data", Layer(l)) })),
        })
        {
            var s = k[step]!;
            var rows = s["kernels"]!.AsArray().Where(r => (string?)r!["primitive"] == "convolution").ToList();
            var found = rows.Select(r =>
            {
                var propagation = (string)r!["propagation"]!;
                var problem = (string)r["problem"]!;
                Assert.StartsWith($"mb{batch}_", problem);
                Assert.Equal(1.0, (double)r["callsPerStep"]!, 9);
                Assert.True((double)r["gflops"]! > 0, $"{step} {problem}: {r["gflops"]} GFLOP/s");
                var fields = problem.Split('_'); // mb256, ic24oc48, ih16oh16kh3..., ...
                return (propagation.StartsWith("forward") ? "forward" : propagation, $"{fields[1]}_{fields[2][..fields[2].IndexOf("oh")]}");
            }).ToHashSet();
            Assert.Equal(expected.ToHashSet(), found);
            double share = (double)s["convolutionShare"]!;
            Assert.True(share > 0 && share <= 1, $"{step}: convolutions {share:P0} of the step");
            Assert.Equal(rows.Sum(r => (double)r!["millisecondsPerStep"]!), (double)s["convolutionMilliseconds"]!, 6);
        }
        Assert.Contains("oneDNN kernels per step", outcome.Stdout);
    }

    [Fact]
    public async Task A_bench_into_a_folder_whose_bench_json_is_unreadable_fails_before_measuring_and_leaves_the_file()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["bench"]);
        var path = Path.Combine(dir["bench"], BenchmarkReport.FileName);
        File.WriteAllText(path, "{ not json");
        var outcome = await CliProcess.RunAsync(["bench", "--quick", "--threads", "1", "--out", dir["bench"]], dir["cache"], TimeSpan.FromMinutes(2));
        Assert.True(outcome.ExitCode == 1, outcome.ToString());
        var line = Assert.Single(outcome.ErrorLines);
        Assert.Contains(path, line);
        Assert.Contains("not valid JSON", line);
        Assert.Equal("{ not json", File.ReadAllText(path));
        Assert.DoesNotContain("PGD image-steps/s", outcome.Stdout);
    }

    [Fact]
    public async Task A_bench_with_no_images_fails_with_one_line_naming_the_setting()
    {
        using var dir = new TempDir();
        var outcome = await CliProcess.RunAsync(["bench", "--quick", "--images", "0", "--out", dir["bench"]], dir["cache"], TimeSpan.FromMinutes(2));
        Assert.True(outcome.ExitCode == 1, outcome.ToString());
        var line = Assert.Single(outcome.ErrorLines);
        Assert.StartsWith("error: ", line);
        Assert.Contains("--images", line);
        Assert.False(Directory.Exists(dir["bench"]));
    }

    /// <summary>
    /// <c>bench --workers 2</c>: each round computes the same D_rand units once by one process of two
    /// threads and once by two shard workers of one thread, the arrangement going first alternating;
    /// bench.json gains a <c>workers</c> section and keeps what it held.
    /// </summary>
    [Fact]
    public async Task Bench_workers_records_each_arrangement_per_round_with_every_unit_done_once_by_the_right_workers()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["bench"]);
        File.WriteAllText(Path.Combine(dir["bench"], BenchmarkReport.FileName), """{ "profile": "kept from an earlier bench" }""");
        var outcome = await CliProcess.RunAsync(["bench", "--workers", "2", "--profile", "quick", "--worker-images", "40", "--worker-unit", "10",
            "--rounds", "3", "--out", dir["bench"]], dir["cache"], TimeSpan.FromMinutes(6));
        Assert.True(outcome.ExitCode == 0, outcome.ToString());
        var report = JsonNode.Parse(File.ReadAllText(Path.Combine(dir["bench"], BenchmarkReport.FileName)))!;

        Assert.Equal("kept from an earlier bench", (string?)report["profile"]);
        var w = report["workers"]!;
        Assert.Equal((4, 10, 2), ((int)w["units"]!, (int)w["unitImages"]!, (int)w["workers"]!));
        Assert.False(string.IsNullOrWhiteSpace((string?)w["cpu"]));
        var rounds = w["rounds"]!.AsArray();
        Assert.Equal(3, rounds.Count);
        var ratios = new List<double>();
        for (int r = 0; r < rounds.Count; r++)
        {
            var round = rounds[r]!;
            var one = round["oneProcess"]!;
            var two = round["workers"]!;
            Assert.Equal((1, 2, 4, 1), ((int)one["processes"]!, (int)one["threadsPerProcess"]!, (int)one["units"]!, (int)one["distinctWorkers"]!));
            Assert.Equal((2, 1, 4, 2), ((int)two["processes"]!, (int)two["threadsPerProcess"]!, (int)two["units"]!, (int)two["distinctWorkers"]!));
            Assert.Equal(r % 2 == 0 ? (string?)one["arrangement"] : (string?)two["arrangement"], (string?)round["first"]);  // A B, then B A, ...
            double ratio = (double)round["ratio"]!;
            Assert.Equal((double)two["unitsPerMinute"]! / (double)one["unitsPerMinute"]!, ratio, 9);
            ratios.Add(ratio);
        }
        Assert.Equal(ratios.Order().ElementAt(1), (double)w["ratio"]!["median"]!, 9);
        Assert.Equal((ratios.Min(), ratios.Max()), ((double)w["ratio"]!["min"]!, (double)w["ratio"]!["max"]!));
        Assert.False(Directory.Exists(Path.Combine(dir["bench"], ".bench-workers"))); // scratch removed
    }
}
