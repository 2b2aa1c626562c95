using Leakage.Attacks;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Leakage.IO;
using Leakage.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Robust;

/// <summary>
/// Statistics of one training epoch, measured on the training batches as they were trained
/// (the model changes during the epoch, so these are running figures, not a final evaluation).
/// </summary>
/// <param name="Epoch">1-based epoch number.</param>
/// <param name="Epochs">Total epochs.</param>
/// <param name="Radius">Training radius at the end of the epoch (ramps up during warm-up), in the training units.</param>
/// <param name="LearningRate">Learning rate at the end of the epoch.</param>
/// <param name="Loss">Mean training objective (mixed robust/clean loss plus the L2 penalty).</param>
/// <param name="RobustLoss">Mean cross-entropy of the exact worst-case logits at the current radius.</param>
/// <param name="CleanLoss">Mean clean cross-entropy.</param>
/// <param name="CleanAccuracy">Share of training examples classified correctly.</param>
/// <param name="CertifiedAccuracy">Share classified correctly with a certified radius above the current training radius.</param>
/// <param name="Elapsed">Wall time since training started.</param>
public sealed record RobustLinearEpoch(
    int Epoch, int Epochs, double Radius, double LearningRate,
    double Loss, double RobustLoss, double CleanLoss,
    double CleanAccuracy, double CertifiedAccuracy, TimeSpan Elapsed)
{
    /// <inheritdoc/>
    public override string ToString() =>
        $"epoch {Epoch}/{Epochs}  eps {Radius:0.###}  lr {LearningRate:0.####e0}  loss {Loss:0.0000} (robust {RobustLoss:0.0000}, clean {CleanLoss:0.0000})  " +
        $"train acc {CleanAccuracy:P1}, certified {CertifiedAccuracy:P1}  [{Elapsed.TotalSeconds:0.0} s]";
}

/// <summary>A trained robust linear classifier with the settings and history that made it.</summary>
public sealed class RobustLinearResult : IDisposable
{
    internal RobustLinearResult(LinearClassifier model, RobustLinearOptions options, IReadOnlyList<RobustLinearEpoch> history, TimeSpan elapsed, long trainCount, bool loaded)
    {
        Model = model; Options = options; History = history; Elapsed = elapsed; TrainCount = trainCount; Loaded = loaded;
    }

    /// <summary>The classifier <c>z = W x + b</c> on raw pixels (owned by this result).</summary>
    public LinearClassifier Model { get; }
    /// <summary>Settings it was trained with (training radius, certification radius, units, ...).</summary>
    public RobustLinearOptions Options { get; }
    /// <summary>Per-epoch statistics.</summary>
    public IReadOnlyList<RobustLinearEpoch> History { get; }
    /// <summary>Training wall time (of the original run when loaded from an artifact).</summary>
    public TimeSpan Elapsed { get; }
    /// <summary>Number of training examples.</summary>
    public long TrainCount { get; }
    /// <summary>True when the model came from a cached artifact rather than being trained now.</summary>
    public bool Loaded { get; }

    /// <summary>
    /// Certificates of the model on (<paramref name="x"/>, <paramref name="y"/>) at the certification
    /// radius <see cref="RobustLinearOptions.CertifyRadius"/>, in both units.
    /// </summary>
    public CertificateReport Certify(Tensor x, Tensor y, Tensor? reference = null) =>
        Certificates.Certify(Model, x, y, Options.CertifyRadius, reference);

    /// <summary>
    /// Certificates at <see cref="RobustLinearOptions.CertifyRadius"/> in the units of
    /// <paramref name="geometry"/> (for inputs that are not CIFAR images, e.g. in tests).
    /// </summary>
    public UnitCertificate Certify(Tensor x, Tensor y, RadiusGeometry geometry, Tensor? reference = null) =>
        Certificates.Certify(Model, x, y, Options.CertifyRadius, geometry, reference);

    /// <summary>One line naming both radii, for logs and notebooks.</summary>
    public string Describe() =>
        $"{Options.Mode} linear model trained at radius {Options.TrainRadius} ({Options.Units} units), certified at {Options.CertifyRadius}; " +
        $"{TrainCount} examples, {Options.Epochs} epochs, {Elapsed.TotalSeconds:0.0} s{(Loaded ? " (loaded)" : "")}";

    /// <inheritdoc/>
    public void Dispose() => Model.Dispose();
}

/// <summary>
/// Trains the robust linear classifier C of Goh (2019): 10 linear features on raw pixels whose
/// robustness can be certified exactly.
/// </summary>
/// <remarks>
/// <para>Certified mode minimises cross-entropy on the worst-case logits of the L2 ball of radius eps:
/// for a linear model the largest possible value of <c>z_j - z_y</c> over the ball is exactly
/// <c>z_j - z_y + eps * dual(w_j - w_y)</c>, so with <c>z'_j = z_j - z_y + eps * dual(w_j - w_y)</c> for
/// <c>j != y</c> and <c>z'_y = 0</c>, <c>CE(z', y)</c> bounds the adversarial cross-entropy from above
/// (each pair is attained; the bound is loose only in that different pairs need different deltas).
/// The K x K dual norms come from the Gram matrix of the scaled weights once per step.</para>
/// <para>All data stays on the device; each step gathers one shuffled batch and does one
/// <c>B x D</c> by <c>D x K</c> product forward and one back.</para>
/// </remarks>
public static class RobustLinearTrainer
{
    /// <summary>Artifact kind for <see cref="TrainOrLoad"/>.</summary>
    public const string ArtifactKind = LinearClassifier.ArtifactKind;

    /// <summary>
    /// Trains on <paramref name="images"/> (N x 3 x 32 x 32 or N x D, pixels in [0,1]) with
    /// <paramref name="labels"/> (N, int64 in [0, K)). Data is copied to <paramref name="device"/>
    /// (default: the images' device) once, as float32.
    /// </summary>
    public static RobustLinearResult Train(
        Tensor images, Tensor labels, RobustLinearOptions options, Device? device = null,
        IProgress<RobustLinearEpoch>? progress = null, CancellationToken cancellationToken = default)
    {
        options.Validate();
        TorchNative.Ensure();
        device ??= images.device;
        var clock = Stopwatch.StartNew();
        var history = new List<RobustLinearEpoch>();

        var (x, y) = PrepareData(images, labels, options.Classes, device);
        using var dataScope = new DisposeOnExit(x, y);
        long n = x.shape[0], dim = x.shape[1];
        var geometry = RadiusGeometry.For(options.Units, dim);
        if (options.Mode == RobustTrainingMode.Pgd && (x.min().item<float>() < 0 || x.max().item<float>() > 1))
            throw new ArgumentException("PGD training needs images in [0,1] (pixel space); these images leave that range.", nameof(images));

        using var gen = new Generator((ulong)options.Seed, device);
        var model = new LinearClassifier(options.Classes, dim, device);
        try
        {
            using (no_grad())
            using (NewDisposeScope())
            {
                // nn.Linear's default initialisation, U(-1/sqrt(D), 1/sqrt(D)), seeded.
                var bound = 1.0 / Math.Sqrt(dim);
                model.weight.copy_(Scalars.With(2 * bound, width => Scalars.With(bound, b => rand(model.weight.shape, generator: gen, device: device) * width - b)));
            }
            using var mean = options.CentreInputs ? x.mean([0L]) : zeros(dim, device: device);

            using var optimizer = options.Optimizer switch
            {
                RobustOptimizer.Adam => (optim.Optimizer)optim.Adam(model.parameters(), lr: options.LearningRate),
                RobustOptimizer.Sgd => optim.SGD(model.parameters(), options.LearningRate, momentum: options.Momentum),
                _ => throw new ArgumentOutOfRangeException(nameof(options), options.Optimizer, "Unknown optimiser."),
            };

            long stepsPerEpoch = (n + options.BatchSize - 1) / options.BatchSize;
            long totalSteps = stepsPerEpoch * options.Epochs, warmupSteps = stepsPerEpoch * options.WarmupEpochs, step = 0;
            var pgd = options.Mode == RobustTrainingMode.Pgd
                ? new LinearPgdOptions(options.TrainRadius, options.PgdSteps, options.PgdStepSize, Seed: options.Seed)
                : null;
            double eps = 0, lr = options.LearningRate;

            using Scalar adversarialWeight = (1 - options.CleanLossWeight).ToScalar(), cleanWeight = options.CleanLossWeight.ToScalar(),
                decay = (0.5 * options.WeightDecay).ToScalar();
            for (int epoch = 1; epoch <= options.Epochs; epoch++)
            {
                using var epochScope = NewDisposeScope();
                var sums = zeros(5, dtype: ScalarType.Float64, device: device); // loss, robust, clean, correct, certified
                var perm = randperm(n, generator: gen, device: device);
                for (long start = 0; start < n; start += options.BatchSize)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    using var scope = NewDisposeScope();
                    eps = warmupSteps == 0 ? options.TrainRadius : options.TrainRadius * Math.Min(1.0, (step + 1.0) / warmupSteps);
                    lr = options.CosineSchedule
                        ? options.LearningRate * 0.5 * (1 + Math.Cos(Math.PI * step / totalSteps))
                        : options.LearningRate;
                    foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;

                    var idx = perm.narrow(0, start, Math.Min(options.BatchSize, n - start));
                    var xb = x.index_select(0, idx);
                    var yb = y.index_select(0, idx);
                    var onehot = nn.functional.one_hot(yb, options.Classes).to(ScalarType.Float32);
                    using var epsScalar = eps.ToScalar();

                    // The model is trained in centred coordinates, z = W (x - m) + b', written as W x + (b' - W m)
                    // so that no centred copy of the batch is made; the gradients are those of the centred problem.
                    var rawBias = model.bias - model.weight.matmul(mean);
                    Tensor xTrain = xb;
                    if (pgd is not null && eps > 0)
                        xTrain = LinearPgd.Attack(model.weight.detach(), rawBias.detach(), xb, yb, geometry,
                            pgd with { Radius = eps, Seed = unchecked(options.Seed + (int)step) });

                    var z = nn.functional.linear(xb, model.weight, rawBias);
                    var pair = geometry.PairwiseDualNorms(model.weight);
                    var zr = z - z.gather(1, yb.unsqueeze(1)) + epsScalar * pair.index_select(0, yb) * (Scalars.One - onehot);
                    var clean = nn.functional.cross_entropy(z, yb);
                    var worst = nn.functional.cross_entropy(zr, yb);
                    var adversarial = pgd is null ? worst
                        : ReferenceEquals(xTrain, xb) ? clean
                        : nn.functional.cross_entropy(nn.functional.linear(xTrain, model.weight, rawBias), yb);
                    var loss = adversarialWeight * adversarial + cleanWeight * clean;
                    if (options.WeightDecay > 0) loss = loss + decay * model.weight.square().sum();

                    optimizer.zero_grad();
                    loss.backward();
                    optimizer.step();

                    using (no_grad())
                    {
                        using var b = ((double)xb.shape[0]).ToScalar();
                        var correct = z.argmax(1).eq(yb).sum();
                        var certified = zr.masked_fill(onehot.to(ScalarType.Bool), Scalars.NegativeInfinity).amax([1L]).lt(Scalars.Zero).sum();
                        sums.add_(stack([loss.detach() * b, worst.detach() * b, clean.detach() * b, correct.to(ScalarType.Float32), certified.to(ScalarType.Float32)]).to(ScalarType.Float64));
                    }
                    step++;
                }
                var s = sums.cpu().data<double>().ToArray();
                var record = new RobustLinearEpoch(epoch, options.Epochs, eps, lr,
                    s[0] / n, s[1] / n, s[2] / n, s[3] / n, s[4] / n, clock.Elapsed);
                if (!double.IsFinite(record.Loss))
                    throw new InvalidOperationException($"Robust linear training diverged at epoch {epoch} (loss {record.Loss}); lower LearningRate (now {options.LearningRate}).");
                history.Add(record);
                progress?.Report(record);
            }

            if (options.CentreInputs)
                using (no_grad())
                    model.bias.sub_(model.weight.matmul(mean));
            return new RobustLinearResult(model, options, history, clock.Elapsed, n, loaded: false);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Loads the classifier cached in <paramref name="dir"/> when its <c>metadata.json</c> matches
    /// <paramref name="options"/> and <paramref name="dataIdentity"/> (anything that identifies the
    /// training data, e.g. its checksums) and every checksum verifies; otherwise trains, saves
    /// atomically and returns the new model. <paramref name="log"/> receives the reason for retraining.
    /// </summary>
    public static RobustLinearResult TrainOrLoad(
        string dir, object dataIdentity, Tensor images, Tensor labels, RobustLinearOptions options,
        Device? device = null, IProgress<RobustLinearEpoch>? progress = null, Action<string>? log = null,
        CancellationToken cancellationToken = default)
    {
        var settings = new JsonObject { ["options"] = Artifacts.ToNode(options), ["data"] = Artifacts.ToNode(dataIdentity) };
        var loaded = LinearClassifier.TryLoad(dir, settings, out var reason, device ?? images.device);
        if (loaded is not null)
        {
            var extra = Artifacts.ReadExtra(dir);
            var history = extra?["history"]?.Deserialize<List<RobustLinearEpoch>>(Artifacts.Json) ?? [];
            var seconds = (double?)extra?["seconds"] ?? 0;
            log?.Invoke($"Loaded robust linear classifier from {dir}.");
            return new RobustLinearResult(loaded, options, history, TimeSpan.FromSeconds(seconds), labels.shape[0], loaded: true);
        }
        log?.Invoke($"Training robust linear classifier ({reason}).");
        var result = Train(images, labels, options, device, progress, cancellationToken);
        result.Model.Save(dir, settings, new JsonObject
        {
            ["history"] = JsonSerializer.SerializeToNode(result.History, Artifacts.Json),
            ["seconds"] = result.Elapsed.TotalSeconds,
        });
        return result;
    }

    /// <summary>Disposes tensors when leaving a block (for tensors made outside any dispose scope).</summary>
    sealed class DisposeOnExit(params Tensor[] tensors) : IDisposable
    {
        public void Dispose() { foreach (var t in tensors) t.Dispose(); }
    }

    /// <summary>Validates and moves the data: images to N x D float32, labels to int64, on <paramref name="device"/>.</summary>
    static (Tensor X, Tensor Y) PrepareData(Tensor images, Tensor labels, int classes, Device device)
    {
        if (images.dim() < 2 || images.shape[0] == 0)
            throw new ArgumentException($"Expected a non-empty batch of images N x ..., got shape [{string.Join(", ", images.shape)}].", nameof(images));
        if (labels.dim() != 1 || labels.shape[0] != images.shape[0])
            throw new ArgumentException($"Expected one label per image ({images.shape[0]}), got label shape [{string.Join(", ", labels.shape)}].", nameof(labels));
        if (!images.is_floating_point())
            throw new ArgumentException($"Images must be floating point in [0,1], got dtype {images.dtype}.", nameof(images));
        using var scope = NewDisposeScope();
        var x = images.flatten(1).to(ScalarType.Float32, device).contiguous();
        var y = labels.to(ScalarType.Int64, device);
        long lo = y.min().item<long>(), hi = y.max().item<long>();
        if (lo < 0 || hi >= classes)
            throw new ArgumentException($"Labels must lie in [0, {classes - 1}], found values from {lo} to {hi}.", nameof(labels));
        return (x.DetachFromDisposeScope(), y.DetachFromDisposeScope());
    }
}
