using System.Text.Json;
using Leakage.IO;

namespace Leakage.Benchmarks;

// The alternating protocol's bookkeeping: combining rounds, and comparing them with PyTorch's.
public static partial class Benchmark
{
    /// <summary>Two consecutive intervals as one (shares weighted by time).</summary>
    static LoadInterval Add(LoadInterval a, LoadInterval b)
    {
        double s = a.Seconds + b.Seconds;
        if (s <= 0) return b;
        double W(double x, double y) => (x * a.Seconds + y * b.Seconds) / s;
        return new LoadInterval(s, a.StealSeconds + b.StealSeconds, W(a.StealFraction, b.StealFraction), W(a.BusyFraction, b.BusyFraction),
            W(a.ProcessCpuShare, b.ProcessCpuShare), b.LoadAverage);
    }

    static double Pgd(JsonElement e) => e.GetProperty("pgd").GetProperty("imageStepsPerSecond").GetDouble();
    static double Training(JsonElement e) => e.GetProperty("training").GetProperty("imagesPerSecond").GetDouble();

    static string Describe(TrainingPhases p) =>
        $"data {p.Data * 1e3:0.0}, augmentation {p.Augmentation * 1e3:0.0}, forward {p.Forward * 1e3:0.0}, backward {p.Backward * 1e3:0.0}, optimiser {p.Optimizer * 1e3:0.0}, metrics {p.Metrics * 1e3:0.0}";

    static string Describe(PgdPhases p) => $"forward {p.Forward * 1e3:0.0}, backward {p.Backward * 1e3:0.0}, update {p.Update * 1e3:0.0}";

    /// <summary>One figure from the rounds: the median of the rounds' medians, the mean of all units.</summary>
    static PgdThroughput Combine(IReadOnlyList<PgdThroughput> rounds, ComputePeak? peak)
    {
        var first = rounds[0];
        double rate = Stats.Median(rounds.Select(r => r.ImageStepsPerSecond).ToList());
        var seconds = rounds.SelectMany(r => r.BatchSeconds).ToList();
        double gflops = rate * first.Gflops / first.ImageStepsPerSecond;
        return first with
        {
            Repeats = seconds.Count, ImageStepsPerSecond = rate, ImageStepsPerSecondMean = (double)first.BatchSize * first.Steps * seconds.Count / seconds.Sum(),
            Gflops = gflops, Mfu = first.Mfu * rate / first.ImageStepsPerSecond, BatchSeconds = seconds, PeakUtilisation = peak is null || peak.Best <= 0 ? null : gflops / peak.Best,
        };
    }

    static TrainingThroughput Combine(IReadOnlyList<TrainingThroughput> rounds, ComputePeak? peak)
    {
        var first = rounds[0];
        double rate = Stats.Median(rounds.Select(r => r.ImagesPerSecond).ToList());
        var seconds = rounds.SelectMany(r => r.StepSeconds).ToList();
        double gflops = rate * first.Gflops / first.ImagesPerSecond;
        return first with
        {
            Steps = seconds.Count, ImagesPerSecond = rate, ImagesPerSecondMean = (double)first.BatchSize * seconds.Count / seconds.Sum(),
            Gflops = gflops, Mfu = first.Mfu * rate / first.ImagesPerSecond, StepSeconds = seconds, PeakUtilisation = peak is null || peak.Best <= 0 ? null : gflops / peak.Best,
        };
    }

    /// <summary>
    /// The comparison: per-round ratios against PyTorch's faster layout (the layout with the higher
    /// median over rounds, per measurement), their median and spread, and the medians of each side.
    /// </summary>
    static PyTorchComparison Compare(string python, JsonElement header, IReadOnlyList<TorchSharpRound> ts, IReadOnlyList<(JsonElement Json, LoadInterval Load)> pt,
        JsonElement phases, PgdThroughput pgd, TrainingThroughput training, double seconds)
    {
        double M(Func<JsonElement, double> f) => Stats.Median(pt.Select(p => f(p.Json)).ToList());
        double pgdN = M(Pgd), trainN = M(Training);
        double pgdC = M(e => Pgd(e.GetProperty("channelsLast"))), trainC = M(e => Training(e.GetProperty("channelsLast")));
        bool pgdLast = pgdC > pgdN, trainLast = trainC > trainN;
        var rounds = pt.Select((p, i) =>
        {
            var cl = p.Json.GetProperty("channelsLast");
            double pp = pgdLast ? Pgd(cl) : Pgd(p.Json), pt = trainLast ? Training(cl) : Training(p.Json);
            double share = p.Load.ProcessCpuShare > 0 && ts[i].Load.ProcessCpuShare > 0 ? ts[i].Load.ProcessCpuShare / p.Load.ProcessCpuShare : 1;
            return new PyTorchRound(i + 1, Pgd(p.Json), Training(p.Json), Pgd(cl), Training(cl), p.Load,
                ts[i].PgdImageStepsPerSecond / pp, ts[i].TrainingImagesPerSecond / pt, share);
        }).ToList();
        var pgdSpread = Spread.Of(rounds.Select(r => r.PgdRatio).ToList());
        var trainSpread = Spread.Of(rounds.Select(r => r.TrainingRatio).ToList());
        var options = new JsonSerializerOptions(Artifacts.Json);
        var phaseMap = new Dictionary<string, StepPhases>();
        foreach (var layout in phases.EnumerateObject().Where(p => p.Value.ValueKind == JsonValueKind.Object))
            phaseMap[layout.Name] = new StepPhases(
                layout.Value.GetProperty("training").Deserialize<TrainingPhases>(options)!,
                layout.Value.GetProperty("pgd").Deserialize<PgdPhases>(options)!);
        var raw = new System.Text.Json.Nodes.JsonObject();
        foreach (var p in header.EnumerateObject()) raw[p.Name] = System.Text.Json.Nodes.JsonNode.Parse(p.Value.GetRawText());
        foreach (var p in pt[^1].Json.EnumerateObject()) raw[p.Name] = System.Text.Json.Nodes.JsonNode.Parse(p.Value.GetRawText());
        return new PyTorchComparison(python, header.GetProperty("torch").GetString() ?? "", header.GetProperty("threads").GetInt32(),
            header.GetProperty("matmul").GetProperty("gflops").GetDouble(),
            pgdN, trainN, pgd.ImageStepsPerSecond / pgdN, training.ImagesPerSecond / trainN,
            pgdC, trainC, pgd.ImageStepsPerSecond / pgdC, training.ImagesPerSecond / trainC,
            new PgdTraining<string>(pgdLast ? "channelsLast" : "nchw", trainLast ? "channelsLast" : "nchw"),
            new PgdTraining<double>(pgdSpread.Median, trainSpread.Median), new PgdTraining<Spread>(pgdSpread, trainSpread),
            new PgdTraining<double>(Stats.Median(rounds.Select(r => r.PgdRatio / r.CpuShareRatio).ToList()), Stats.Median(rounds.Select(r => r.TrainingRatio / r.CpuShareRatio).ToList())),
            rounds, phaseMap, header.GetProperty("ompWaitPolicy").GetString() ?? "", seconds, JsonSerializer.SerializeToElement(raw));
    }
}
