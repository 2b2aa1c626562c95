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
        Assert.Null(report["pyTorch"]);

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
}
