using Leakage.Native;
using System.Diagnostics;
using Leakage.Attacks;
using Leakage.Models;
using Leakage.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Benchmarks;

/// <summary>Seconds per training step spent in each phase (medians over the timed steps).</summary>
/// <param name="Data">index_select of the shuffled batch.</param>
/// <param name="Augmentation">Random crop and flip (<see cref="Augment.Apply"/>).</param>
/// <param name="Forward">Model forward, loss, loss read back.</param>
/// <param name="Backward">loss.backward().</param>
/// <param name="Optimizer">The SGD step, the lookahead where the recipe has one, and zero_grad.</param>
/// <param name="Metrics">The correct count read back.</param>
public sealed record TrainingPhases(double Data, double Augmentation, double Forward, double Backward, double Optimizer, double Metrics)
{
    /// <summary>Sum of the phases.</summary>
    public double Total => Data + Augmentation + Forward + Backward + Optimizer + Metrics;
}

/// <summary>Seconds per PGD step spent in each phase (medians over the steps of one attacked batch).</summary>
/// <param name="Forward">Model forward and per-sample loss.</param>
/// <param name="Backward">The input gradient (autograd.grad).</param>
/// <param name="Update">Keep-best bookkeeping, normalised step, projection and clamp.</param>
public sealed record PgdPhases(double Forward, double Backward, double Update)
{
    /// <summary>Sum of the phases.</summary>
    public double Total => Forward + Backward + Update;
}

/// <summary>
/// Where one training step and one PGD step spend their time. The trainer and the attack are not
/// instrumented (a timer per phase would cost every run); instead their per-step bodies are replayed
/// here call for call (<see cref="Trainer"/>'s step, <see cref="L2Pgd"/>'s targeted keep-best step) with
/// a timestamp between phases. On the CPU every libtorch call returns when its work is done, so the
/// stamps are exact; tools/bench/pytorch_reference.py splits PyTorch's steps the same way.
/// </summary>
public static class PhaseSplit
{
    /// <summary>Timed steps of a bfloat16 training split (at most; float32 uses <see cref="BenchmarkSettings.TrainSteps"/>).</summary>
    public const int Bf16TimedTrainingSteps = 4;

    /// <summary>Steps one <see cref="Training"/> split runs in float32, its warm-up steps included.</summary>
    public static int TrainingSteps(BenchmarkSettings settings) => settings.TrainWarmupSteps + settings.TrainSteps;

    /// <summary>PGD steps one <see cref="Pgd"/> split runs: an untimed batch of at most 2 steps, then the attack's steps.</summary>
    public static int PgdSteps(BenchmarkSettings settings) => PgdWarmupSteps(settings) + settings.Attack.Attack.Steps;

    static int PgdWarmupSteps(BenchmarkSettings settings) => Math.Min(2, settings.Attack.Attack.Steps);

    /// <summary>Phase by phase, the faster of two splits of the same steps.</summary>
    public static StepPhases Faster(StepPhases a, StepPhases b) => new(
        new TrainingPhases(Math.Min(a.Training.Data, b.Training.Data), Math.Min(a.Training.Augmentation, b.Training.Augmentation),
            Math.Min(a.Training.Forward, b.Training.Forward), Math.Min(a.Training.Backward, b.Training.Backward),
            Math.Min(a.Training.Optimizer, b.Training.Optimizer), Math.Min(a.Training.Metrics, b.Training.Metrics)),
        new PgdPhases(Math.Min(a.Pgd.Forward, b.Pgd.Forward), Math.Min(a.Pgd.Backward, b.Pgd.Backward), Math.Min(a.Pgd.Update, b.Pgd.Update)));

    /// <summary>The same for two answers of the PyTorch reference's "phases" command (numbers at equal paths, the smaller kept).</summary>
    public static System.Text.Json.JsonElement Faster(System.Text.Json.JsonElement a, System.Text.Json.JsonElement b)
    {
        static System.Text.Json.Nodes.JsonNode? Merge(System.Text.Json.JsonElement x, System.Text.Json.JsonElement y) =>
            x.ValueKind switch
            {
                System.Text.Json.JsonValueKind.Object => new System.Text.Json.Nodes.JsonObject(x.EnumerateObject().Select(p =>
                    KeyValuePair.Create(p.Name, y.TryGetProperty(p.Name, out var q) ? Merge(p.Value, q) : System.Text.Json.Nodes.JsonNode.Parse(p.Value.GetRawText())))),
                System.Text.Json.JsonValueKind.Number when y.ValueKind == System.Text.Json.JsonValueKind.Number => Math.Min(x.GetDouble(), y.GetDouble()),
                _ => System.Text.Json.Nodes.JsonNode.Parse(x.GetRawText()),
            };
        return System.Text.Json.JsonSerializer.SerializeToElement(Merge(a, b));
    }

    /// <summary>
    /// Phases of <paramref name="settings"/>' training step: warm-up steps, then the timed ones. With
    /// <paramref name="dtype"/> bfloat16 the model's weights and the augmented batch are cast to it
    /// (logits back to float32 for the loss): a timing of bf16 kernels, not a mixed-precision recipe.
    /// </summary>
    public static TrainingPhases Training(BenchmarkSettings settings, Device device, BenchmarkData data, ScalarType dtype = ScalarType.Float32)
    {
        var options = settings.Training;
        // A bf16 training step costs over ten float32 ones on CPUs measured so far (docs/performance.md):
        // a few timed steps say that as well as thirty.
        int timed = dtype == ScalarType.Float32 ? settings.TrainSteps : Math.Min(settings.TrainSteps, Bf16TimedTrainingSteps);
        int batch = options.BatchSize, steps = settings.TrainWarmupSteps + timed;
        using var model = ModelFactory.Create(settings.Arch, settings.Seed, settings.Width, device);
        if (dtype != ScalarType.Float32) model.to(dtype);
        var (images, labels) = data.Take((long)batch * steps, stream: 2);
        using (images)
        using (labels)
        using (var optimizer = Trainer.CreateOptimizer(model, options))
        using (var lookahead = options.LookaheadEvery is null ? null : Lookahead.Of(model))
        using (var generator = new Generator((ulong)settings.Seed, CPU))
        using (var order = randperm(images.shape[0], generator: generator))
        {
            model.train();
            var times = new List<double[]>();
            for (int step = 0; step < steps; step++)
            {
                using var scope = NewDisposeScope();
                var t = new long[7];
                t[0] = Stopwatch.GetTimestamp();
                var index = order.narrow(0, (long)step * batch, batch);
                var x = images.index_select(0, index).to(device);
                var y = labels.index_select(0, index).to(device);
                t[1] = Stopwatch.GetTimestamp();
                // The trainer's alternating flip takes this epoch's half from a mask drawn once per run; a fresh
                // mask per batch costs the same (one draw and one where) and needs no epoch.
                var flipped = options.Augmentation == Augmentation.CropAlternatingFlip ? rand([batch], generator: generator).lt(Scalars.Half) : null;
                x = Augment.Apply(x, options.Augmentation, options.CropPadding, options.PadMode, generator, flipped);
                if (dtype != ScalarType.Float32) x = x.to(dtype);
                t[2] = Stopwatch.GetTimestamp();
                var logits = model.forward(x).to(ScalarType.Float32);
                var loss = nn.functional.cross_entropy(logits, y);
                loss.item<float>();
                t[3] = Stopwatch.GetTimestamp();
                loss.backward();
                t[4] = Stopwatch.GetTimestamp();
                optimizer.step();
                lookahead?.Step(step + 1, steps, options.LookaheadEvery!.Value);
                optimizer.zero_grad();
                t[5] = Stopwatch.GetTimestamp();
                logits.argmax(1).eq(y).sum().item<long>();
                t[6] = Stopwatch.GetTimestamp();
                if (step >= settings.TrainWarmupSteps)
                    times.Add(Enumerable.Range(0, 6).Select(i => Stopwatch.GetElapsedTime(t[i], t[i + 1]).TotalSeconds).ToArray());
            }
            double M(int i) => Stats.Median(times.Select(r => r[i]).ToList());
            return new TrainingPhases(M(0), M(1), M(2), M(3), M(4), M(5));
        }
    }

    /// <summary>
    /// Phases of <paramref name="settings"/>' PGD step: an untimed 2-step batch, then one batch of the
    /// full attack. With <paramref name="dtype"/> bfloat16 the model runs on a bf16 copy of its weights
    /// and each step's input is cast to bf16 (the iterate, its gradient and the projection stay float32).
    /// </summary>
    public static PgdPhases Pgd(BenchmarkSettings settings, Device device, BenchmarkData data, ScalarType dtype = ScalarType.Float32)
    {
        var attack = settings.Attack.Attack;
        int batch = settings.Attack.BatchSize;
        using var model = ModelFactory.Create(settings.Arch, settings.Seed, settings.Width, device);
        if (dtype != ScalarType.Float32) model.to(dtype);
        model.eval();
        var parameters = model.parameters().ToList();
        foreach (var p in parameters) p.requires_grad = false;
        var (images, labels) = data.Take(batch, stream: 1);
        using var x0 = images.to(device);
        using var targets = Scalars.With(CifarStats.Classes, k => labels.add(Scalars.One).remainder(k)).to(device);
        images.Dispose();
        labels.Dispose();
        var shape = new long[] { batch, 1, 1, 1 };
        using Scalar sign = (attack.Targeted ? -1.0 : 1.0).ToScalar(), stepSize = attack.StepSize.ToScalar(), floor = 1e-10.ToScalar();
        using Scalar? lo = attack.ClampMin?.ToScalar(), hi = attack.ClampMax?.ToScalar();
        var times = new List<double[]>();
        foreach (var (warm, steps) in new[] { (true, PgdWarmupSteps(settings)), (false, attack.Steps) })
        {
            using var outer = NewDisposeScope();
            var x = x0.clone();
            Tensor? bestX = null, bestLoss = null;
            for (int step = 0; step < steps; step++)
            {
                long t0 = Stopwatch.GetTimestamp();
                var input = x.detach().requires_grad_(true);
                var logits = dtype == ScalarType.Float32 ? model.forward(input) : model.forward(input.to(dtype)).to(ScalarType.Float32);
                var loss = nn.functional.cross_entropy(logits, targets, reduction: nn.Reduction.None);
                long t1 = Stopwatch.GetTimestamp();
                var grad = autograd.grad([loss.sum()], [input])[0];
                long t2 = Stopwatch.GetTimestamp();
                if (attack.KeepBest)
                {
                    var l = loss.detach();
                    if (bestX is null || bestLoss is null) (bestX, bestLoss) = (x.clone(), l.clone());
                    else
                    {
                        var better = attack.Targeted ? l.lt(bestLoss) : l.gt(bestLoss);
                        (bestX, bestLoss) = (where(better.view(shape), x, bestX), where(better, l, bestLoss));
                    }
                }
                var g = grad * sign;
                var gNorm = g.flatten(1).norm(1).view(shape);
                var projected = x0 + (x + stepSize * g / (gNorm + floor) - x0).renorm(2, 0, (float)attack.Eps);
                x = attack.ClampMin is null && attack.ClampMax is null ? projected : projected.clamp(lo, hi);
                long t3 = Stopwatch.GetTimestamp();
                if (!warm)
                    times.Add([Stopwatch.GetElapsedTime(t0, t1).TotalSeconds, Stopwatch.GetElapsedTime(t1, t2).TotalSeconds, Stopwatch.GetElapsedTime(t2, t3).TotalSeconds]);
            }
        }
        foreach (var p in parameters) p.requires_grad = true;
        double M(int i) => Stats.Median(times.Select(r => r[i]).ToList());
        return new PgdPhases(M(0), M(1), M(2));
    }
}
