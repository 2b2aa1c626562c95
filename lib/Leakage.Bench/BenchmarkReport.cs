using System.Text.Encodings.Web;
using System.Text.Json;
using Leakage.IO;

namespace Leakage.Benchmarks;

/// <summary>The machine's float32 matrix-multiply rate: the yardstick for model-FLOP utilisation.</summary>
/// <param name="Size">Side n of the n x n matrices.</param>
/// <param name="Repeats">Timed products.</param>
/// <param name="Gflops">2 n^3 / (fastest product time), in 10^9 FLOP/s.</param>
/// <param name="Seconds">Every timed product's wall time.</param>
public sealed record MatmulResult(int Size, int Repeats, double Gflops, IReadOnlyList<double> Seconds);

/// <summary>The benchmarked model and its analytic cost (<see cref="ModelFlops"/>).</summary>
/// <param name="Arch">Architecture name.</param>
/// <param name="Width">Base width.</param>
/// <param name="Parameters">Trainable parameters.</param>
/// <param name="ForwardMacsPerImage">Multiply-adds of one forward pass of one 32 x 32 image.</param>
/// <param name="ForwardFlopsPerImage">2 x <paramref name="ForwardMacsPerImage"/>.</param>
/// <param name="Convention">What is counted, in words.</param>
public sealed record ModelCost(string Arch, int Width, long Parameters, long ForwardMacsPerImage, double ForwardFlopsPerImage, string Convention);

/// <summary>Throughput of the targeted L2 PGD attack that builds D_rand and D_det.</summary>
/// <param name="BatchSize">Images per attacked batch.</param>
/// <param name="Steps">PGD steps per batch.</param>
/// <param name="Repeats">Timed batches.</param>
/// <param name="ImageStepsPerSecond">Batch x steps / median batch time.</param>
/// <param name="ImageStepsPerSecondMean">Batch x steps x repeats / total time.</param>
/// <param name="Gflops">Achieved model FLOP/s (2F per image-step), in 10^9.</param>
/// <param name="Mfu">Model-FLOP utilisation: <paramref name="Gflops"/> / matmul GFLOP/s.</param>
/// <param name="BatchSeconds">Every timed batch's wall time (the whole attack: all steps, keep-best bookkeeping and the final evaluation).</param>
/// <param name="PeakUtilisation"><paramref name="Gflops"/> / the cores' float32 peak (<see cref="ComputePeak.Best"/>: the larger of the peak from the clock and the measured FMA loop), when known.</param>
public sealed record PgdThroughput(int BatchSize, int Steps, int Repeats, double ImageStepsPerSecond, double ImageStepsPerSecondMean,
    double Gflops, double Mfu, IReadOnlyList<double> BatchSeconds, double? PeakUtilisation = null);

/// <summary>Throughput of the standard model's training (<see cref="Training.Trainer"/>, with the profile's augmentation).</summary>
/// <param name="BatchSize">Images per SGD step.</param>
/// <param name="Steps">Timed steps.</param>
/// <param name="WarmupSteps">Untimed steps before them.</param>
/// <param name="Augmentation">Augmentation applied to every batch.</param>
/// <param name="ImagesPerSecond">Batch / median step time.</param>
/// <param name="ImagesPerSecondMean">Batch x steps / total time.</param>
/// <param name="Gflops">Achieved model FLOP/s (3F per image), in 10^9.</param>
/// <param name="Mfu">Model-FLOP utilisation: <paramref name="Gflops"/> / matmul GFLOP/s.</param>
/// <param name="StepSeconds">Every timed step's wall time (batch gathering, augmentation, forward, backward, SGD update, loss and accuracy read-back).</param>
/// <param name="PeakUtilisation"><paramref name="Gflops"/> / the cores' float32 peak (<see cref="ComputePeak.Best"/>: the larger of the peak from the clock and the measured FMA loop), when known.</param>
public sealed record TrainingThroughput(int BatchSize, int Steps, int WarmupSteps, string Augmentation, double ImagesPerSecond, double ImagesPerSecondMean,
    double Gflops, double Mfu, IReadOnlyList<double> StepSeconds, double? PeakUtilisation = null);

/// <summary>One TorchSharp round of the alternating protocol: PGD then training, and what the machine did meanwhile.</summary>
/// <param name="Index">1-based round.</param>
/// <param name="PgdImageStepsPerSecond">PGD throughput of the round (median batch).</param>
/// <param name="TrainingImagesPerSecond">Training throughput of the round (median step).</param>
/// <param name="Load">Steal and busy time of the whole machine during the round.</param>
public sealed record TorchSharpRound(int Index, double PgdImageStepsPerSecond, double TrainingImagesPerSecond, LoadInterval Load);

/// <summary>One PyTorch round, run straight after the TorchSharp round of the same index: both layouts.</summary>
/// <param name="Index">1-based round.</param>
/// <param name="PgdImageStepsPerSecond">PGD, NCHW.</param>
/// <param name="TrainingImagesPerSecond">Training, NCHW.</param>
/// <param name="ChannelsLastPgdImageStepsPerSecond">PGD, channels-last.</param>
/// <param name="ChannelsLastTrainingImagesPerSecond">Training, channels-last.</param>
/// <param name="Load">Steal and busy time during the round.</param>
/// <param name="PgdRatio">TorchSharp / PyTorch PGD in this round pair, against PyTorch's faster layout (<see cref="PyTorchComparison.FasterLayout"/>).</param>
/// <param name="TrainingRatio">The same for training.</param>
/// <param name="CpuShareRatio">TorchSharp's CPU share in the round / PyTorch's (<see cref="LoadInterval.ProcessCpuShare"/>): below 1 when the neighbours left TorchSharp less of the CPU than PyTorch.</param>
public sealed record PyTorchRound(int Index, double PgdImageStepsPerSecond, double TrainingImagesPerSecond,
    double ChannelsLastPgdImageStepsPerSecond, double ChannelsLastTrainingImagesPerSecond, LoadInterval Load, double PgdRatio, double TrainingRatio,
    double CpuShareRatio);

/// <summary>A PGD and a training figure.</summary>
public sealed record PgdTraining<T>(T Pgd, T Training);

/// <summary>bfloat16 against float32, by the per-phase split of the same steps measured back to back.</summary>
/// <param name="Phases">The bf16 split.</param>
/// <param name="Float32">The float32 split measured next to it.</param>
/// <param name="PgdSpeedup">float32 / bf16 time of a PGD step (above 1: bf16 is faster).</param>
/// <param name="TrainingSpeedup">float32 / bf16 time of a training step.</param>
public sealed record Bfloat16Timing(StepPhases Phases, StepPhases Float32, double PgdSpeedup, double TrainingSpeedup);

/// <summary>Where one training step and one PGD step spend their time (<see cref="PhaseSplit"/>).</summary>
public sealed record StepPhases(TrainingPhases Training, PgdPhases Pgd);

/// <summary>Wall time of training the robust linear classifier C.</summary>
/// <param name="Images">Training images.</param>
/// <param name="Dimension">Input dimension (3 x 32 x 32 = 3072).</param>
/// <param name="Epochs">Epochs.</param>
/// <param name="BatchSize">Examples per step.</param>
/// <param name="Mode">Certified or PGD training.</param>
/// <param name="Units">Radius units.</param>
/// <param name="Seconds">Training wall time (data preparation included).</param>
/// <param name="SecondsPerEpoch"><paramref name="Seconds"/> / <paramref name="Epochs"/>.</param>
public sealed record RobustLinearTiming(int Images, int Dimension, int Epochs, int BatchSize, string Mode, string Units, double Seconds, double SecondsPerEpoch);

/// <summary>
/// Resident memory while generating D_rand (<see cref="Adversarial.AdversarialDatasets.Build"/>), sampled
/// after every PGD batch. Samples (and the size before) are taken after returning the C heap's free pages
/// to the system (<see cref="ResidentMemory.Trim"/>), so they measure memory in use; the peak is the
/// unmodified high-water mark.
/// </summary>
/// <param name="Images">Images attacked.</param>
/// <param name="BatchSize">Images per PGD batch.</param>
/// <param name="Steps">PGD steps.</param>
/// <param name="Batches">PGD batches (= samples).</param>
/// <param name="ReferenceBatch">1-based batch whose sample is the drift's reference: the first at or after the 10th at the same place in its chunk as the last batch (results accumulate within a chunk until it is written), see <c>Benchmark.DriftReference</c>.</param>
/// <param name="PeakRssBytes">Highest resident size during generation (VmHWM restarted at the start on Linux; else the process peak).</param>
/// <param name="PeakIsPhaseOnly">True when the peak covers generation only, false when it is the process-lifetime peak.</param>
/// <param name="RssBeforeBytes">Resident size just before generation.</param>
/// <param name="RssAtReferenceBytes">Resident size after the reference batch.</param>
/// <param name="RssEndBytes">Resident size after the last batch.</param>
/// <param name="Drift">(end - reference) / reference: growth once everything is warm; a leak of per-batch tensors shows here (one leaked 500-image batch per PGD batch would be about +20%).</param>
/// <param name="Seconds">Generation wall time (chunk files and assembly included).</param>
/// <param name="ImagesPerSecond">Images / seconds.</param>
/// <param name="RssAfterBatchBytes">Every sample.</param>
/// <param name="BatchSeconds">Wall time of every PGD batch (the first includes the set-up; a chunk's first batch also includes writing the previous chunk).</param>
public sealed record MemoryProfile(int Images, int BatchSize, int Steps, int Batches, int ReferenceBatch,
    long PeakRssBytes, bool PeakIsPhaseOnly, long RssBeforeBytes, long RssAtReferenceBytes, long RssEndBytes, double Drift,
    double Seconds, double ImagesPerSecond, IReadOnlyList<long> RssAfterBatchBytes, IReadOnlyList<double> BatchSeconds);

/// <summary>
/// The same network and steps measured in PyTorch (tools/bench/pytorch_reference.py) on the same machine:
/// once in PyTorch's default NCHW layout (the network as it is usually written) and once with model and
/// inputs in channels-last memory format (the layout Leakage's models use on the CPU).
/// </summary>
/// <param name="Python">Interpreter used.</param>
/// <param name="Torch">PyTorch version.</param>
/// <param name="Threads">torch threads.</param>
/// <param name="MatmulGflops">PyTorch's own float32 matmul rate (its BLAS; informative only).</param>
/// <param name="PgdImageStepsPerSecond">PGD throughput, NCHW; same batch, steps and estimator.</param>
/// <param name="TrainingImagesPerSecond">Training throughput, NCHW; same batch, augmentation and estimator.</param>
/// <param name="PgdRatio">TorchSharp / PyTorch (NCHW) PGD throughput (above 1: TorchSharp is faster).</param>
/// <param name="TrainingRatio">TorchSharp / PyTorch (NCHW) training throughput.</param>
/// <param name="ChannelsLastPgdImageStepsPerSecond">PGD throughput, channels-last.</param>
/// <param name="ChannelsLastTrainingImagesPerSecond">Training throughput, channels-last.</param>
/// <param name="ChannelsLastPgdRatio">TorchSharp / PyTorch (channels-last) PGD throughput.</param>
/// <param name="ChannelsLastTrainingRatio">TorchSharp / PyTorch (channels-last) training throughput.</param>
/// <param name="FasterLayout">PyTorch's faster layout for PGD and for training ("nchw" or "channelsLast"), by median over rounds.</param>
/// <param name="Ratios">Median over rounds of the per-round TorchSharp / PyTorch ratio, against PyTorch's faster layout: the headline figures.</param>
/// <param name="RatioSpread">Median, min, max and quartiles of those per-round ratios.</param>
/// <param name="RatiosPerCpuSecond">Medians of the per-round ratios divided by the round's <see cref="PyTorchRound.CpuShareRatio"/>: work per CPU-second of each side, what the ratio would be if the neighbours had left both sides the same share of the CPU.</param>
/// <param name="Rounds">Every PyTorch round, with its ratios.</param>
/// <param name="Phases">PyTorch's per-phase split in each layout (<c>nchw</c>, <c>channelsLast</c>).</param>
/// <param name="OmpWaitPolicy">OMP_WAIT_POLICY the script saw (the same as TorchSharp's).</param>
/// <param name="Seconds">Wall time of the reference's rounds.</param>
/// <param name="Raw">The script's header merged with its last round.</param>
/// <remarks>The throughputs are medians over rounds; the un-suffixed ratios divide TorchSharp's median by PyTorch's median in each layout.</remarks>
public sealed record PyTorchComparison(string Python, string Torch, int Threads, double MatmulGflops,
    double PgdImageStepsPerSecond, double TrainingImagesPerSecond, double PgdRatio, double TrainingRatio,
    double ChannelsLastPgdImageStepsPerSecond, double ChannelsLastTrainingImagesPerSecond, double ChannelsLastPgdRatio, double ChannelsLastTrainingRatio,
    PgdTraining<string> FasterLayout, PgdTraining<double> Ratios, PgdTraining<Spread> RatioSpread, PgdTraining<double> RatiosPerCpuSecond, IReadOnlyList<PyTorchRound> Rounds,
    IReadOnlyDictionary<string, StepPhases>? Phases, string OmpWaitPolicy, double Seconds, JsonElement Raw);

/// <summary>Everything <see cref="Benchmark.Run"/> measured; written as <c>bench.json</c>.</summary>
/// <param name="Profile">Experiment profile the settings come from.</param>
/// <param name="Quick">Smoke configuration (figures present but not meaningful).</param>
/// <param name="Data">"synthetic" or the source of the real images.</param>
/// <param name="Started">When the run started.</param>
/// <param name="Machine">Where it ran.</param>
/// <param name="Model">The model and its analytic cost.</param>
/// <param name="Matmul">The machine's matmul rate.</param>
/// <param name="Pgd">PGD throughput.</param>
/// <param name="Training">Training throughput.</param>
/// <param name="RobustLinear">Robust linear training time.</param>
/// <param name="Memory">Resident memory during D_rand generation.</param>
/// <param name="PyTorch">The PyTorch reference, when it was run.</param>
/// <param name="Seconds">Wall time of the whole benchmark.</param>
/// <param name="Rounds">TorchSharp's rounds (<see cref="Pgd"/> and <see cref="Training"/> are their medians); with --pytorch each is followed by a PyTorch round.</param>
/// <param name="Phases">TorchSharp's per-phase split of one training step and one PGD step.</param>
/// <param name="Load">Steal and busy time of the whole machine over the benchmark (steal is CPU time the hypervisor gave to other guests).</param>
/// <param name="Bfloat16">The same per-phase split with bfloat16 weights and activations, where the CPU has AVX512_BF16 or AMX (else null).</param>
public sealed partial record BenchmarkReport(string Profile, bool Quick, string Data, DateTimeOffset Started, MachineInfo Machine, ModelCost Model,
    MatmulResult Matmul, PgdThroughput Pgd, TrainingThroughput Training, RobustLinearTiming RobustLinear, MemoryProfile Memory,
    PyTorchComparison? PyTorch, double Seconds, IReadOnlyList<TorchSharpRound> Rounds, StepPhases Phases, LoadInterval Load, Bfloat16Timing? Bfloat16)
{
    /// <summary>File name of the report in the output folder.</summary>
    public const string FileName = "bench.json";

    // Artifacts' conventions (camelCase, indented, enums as strings), without escaping '+' and friends:
    // the file is read by people and scripts, never embedded in HTML.
    internal static readonly JsonSerializerOptions Json = new(Artifacts.Json) { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The report as indented camelCase JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>
    /// Writes <see cref="FileName"/> into <paramref name="dir"/> atomically, keeping the section another
    /// command wrote into the same file (<c>bench --workers</c>'s <see cref="WorkerBench.Section"/>); returns its path.
    /// </summary>
    public string Save(string dir)
    {
        var path = Path.Combine(Path.GetFullPath(dir), FileName);
        var root = JsonSerializer.SerializeToNode(this, Json)!.AsObject();
        if (ReadExisting(dir)?[WorkerBench.Section] is { } workers) root[WorkerBench.Section] = workers.DeepClone();
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        AtomicFile.WriteAllText(path, root.ToJsonString(Json));
        return path;
    }

    /// <summary>
    /// The <see cref="FileName"/> already in <paramref name="dir"/>, or null when there is none; a file
    /// that is not a JSON object fails with one line naming it (call it before measuring, so that nothing
    /// measured is lost to it and the file is not overwritten).
    /// </summary>
    public static System.Text.Json.Nodes.JsonObject? ReadExisting(string dir)
    {
        var path = Path.Combine(Path.GetFullPath(dir), FileName);
        return File.Exists(path) ? JsonFile.ReadObject(path, "move it away, or choose another --out") : null;
    }
}
