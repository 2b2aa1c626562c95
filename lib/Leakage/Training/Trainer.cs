using Leakage.Randomness;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Leakage.IO;
using Leakage.Models;
using Leakage.Native;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Leakage.Training;

/// <summary>
/// Trains a classifier with SGD on in-memory tensors, with per-epoch checkpoints that make an
/// interrupted run resumable, bit-identically on the CPU.
/// <para>
/// Reproducibility: the data order and the augmentation of epoch e are drawn from generators seeded
/// with (<see cref="TrainingOptions.Seed"/>, e) only (<see cref="Seeds"/>), the learning rate is a
/// function of the global step, and a checkpoint holds the weights, batch-norm statistics and the
/// momentum buffers. Resuming from epoch e therefore repeats exactly what an uninterrupted run does.
/// </para>
/// </summary>
public static class Trainer
{
    /// <summary>Artifact kind of a checkpoint folder.</summary>
    public const string CheckpointKind = "training-checkpoint";

    /// <summary>A loss above this (nats) is treated as divergence whatever its history: cross-entropy near 1e3 means exploded logits.</summary>
    public const double ExplodedLoss = 1e3;

    /// <summary>A loss this many times the running mean (and above <see cref="ExplosionFloor"/>) is treated as divergence.</summary>
    public const double ExplosionFactor = 100;

    /// <summary>Losses below this are never called explosions relative to the mean (a spike from 0.001 to 0.5 is noise, not divergence).</summary>
    public const double ExplosionFloor = 10;

    const string ModelFile = "model.bin";
    const string OptimizerFile = "optimizer.bin";
    const string LookaheadFile = "lookahead.bin";
    const string CheckpointPrefix = "epoch-";

    /// <summary>
    /// Trains <paramref name="model"/> in place on (<paramref name="images"/>, <paramref name="labels"/>)
    /// and leaves it in eval mode.
    /// </summary>
    /// <param name="model">The classifier, already on <paramref name="device"/>; logits N x classes.</param>
    /// <param name="images">float32 N x 3 x H x W in [0, 1] (usually on the CPU; batches are moved to <paramref name="device"/>).</param>
    /// <param name="labels">int64 N class indices in [0, 10).</param>
    /// <param name="options">Optimiser, schedule, augmentation and seed.</param>
    /// <param name="device">Device to train on (where <paramref name="model"/> is).</param>
    /// <param name="checkpointDir">
    /// Folder for per-epoch checkpoints, or null for none. When it holds a complete checkpoint made with
    /// the same options, initial weights and data, training resumes after that epoch; otherwise it
    /// starts over and <paramref name="log"/> says why. Only the newest checkpoint is kept; one from
    /// another run is replaced only once this run has finished its first epoch.
    /// </param>
    /// <param name="progress">Receives a report after every step and at the end of every epoch.</param>
    /// <param name="log">Receives one-line messages about resuming and checkpoints (default: <see cref="Trace"/>).</param>
    /// <param name="cancellationToken">Checked before every step; cancelling throws <see cref="OperationCanceledException"/> and keeps the last checkpoint.</param>
    /// <exception cref="TrainingDivergedException">The loss became NaN/Inf or exploded.</exception>
    public static TrainingResult Train(
        nn.Module<Tensor, Tensor> model, Tensor images, Tensor labels, TrainingOptions options, Device device,
        string? checkpointDir = null, IProgress<TrainingProgress>? progress = null, Action<string>? log = null,
        CancellationToken cancellationToken = default)
    {
        TorchNative.Ensure();
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        log ??= message => Trace.WriteLine(message);
        long n = CheckData(images, labels);
        int batch = (int)Math.Min(options.BatchSize, n);
        int steps = (int)(n / batch);
        long totalSteps = (long)steps * options.Epochs;

        JsonObject? settings = null;
        int startEpoch = 0;
        var history = new List<EpochSummary>();
        string? lastCheckpoint = null;

        Checkpoint? found = null;
        if (checkpointDir != null)
        {
            settings = CheckpointSettings(model, images, labels, options);
            found = FindCheckpoint(checkpointDir, settings, log);
            // Weights first: TorchSharp's Module.load moves a GPU module through the CPU, which
            // replaces its parameter tensors, so the optimiser must be created afterwards.
            if (found != null) LoadCheckpoint(found.Dir, ModelFile, dir => model.load(Path.Combine(dir, ModelFile), strict: true));
        }
        var (optimizer, lrScales) = CreateOptimizerGroups(model, options);
        using var _optimizer = optimizer;
        using var lookahead = options.LookaheadEvery is null ? null : Lookahead.Of(model);
        if (found != null && lookahead != null)
            LoadCheckpoint(found.Dir, LookaheadFile, dir => lookahead.Load(Path.Combine(dir, LookaheadFile)));
        if (found == null && model is ITrainingHooks fresh)
        {
            using var whitening = new Generator(Seeds.Derive(options.Seed, -1, 3), CPU);
            fresh.InitializeFromData(images, whitening);
            lookahead?.Reset();
        }
        // The alternating flip's fixed half: which images are flipped in even epochs.
        using var flipGenerator = new Generator(Seeds.Derive(options.Seed, -1, 4), CPU);
        using var flippedInEvenEpochs = options.Augmentation != Augmentation.CropAlternatingFlip ? null
            : rand([n], generator: flipGenerator).lt(Scalars.Half).to(images.device);
        if (found != null)
        {
            LoadCheckpoint(found.Dir, OptimizerFile, dir =>
            {
                using var fs = File.OpenRead(Path.Combine(dir, OptimizerFile));
                using var r = new BinaryReader(fs);
                LoadMomentum(optimizer, r, device);
            });
            startEpoch = found.Epoch;
            history.AddRange(found.History);
            lastCheckpoint = found.Dir;
            log($"Resuming training from {found.Dir} (epoch {found.Epoch} of {options.Epochs}).");
        }

        double emaLoss = double.NaN;
        long seenSteps = 0;
        model.train();
        for (int epoch = startEpoch; epoch < options.Epochs; epoch++)
        {
            (model as ITrainingHooks)?.BeginEpoch(epoch);
            using var orderGenerator = new Generator(Seeds.Derive(options.Seed, epoch, 0), CPU);
            using var augmentGenerator = new Generator(Seeds.Derive(options.Seed, epoch, 1), CPU);
            using var adversaryGenerator = options.Adversary is { RandomStart: true } ? new Generator(Seeds.Derive(options.Seed, epoch, 2), CPU) : null;
            using var permutation = randperm(n, generator: orderGenerator);
            using var order = permutation.to(images.device);
            var clock = Stopwatch.StartNew();
            double lossSum = 0;
            long correct = 0;
            for (int step = 0; step < steps; step++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                long globalStep = (long)epoch * steps + step;
                double lr = options.LearningRateAt(globalStep, totalSteps);
                int g = 0;
                foreach (var group in optimizer.ParamGroups) group.LearningRate = lr * lrScales[g++];

                var index = order.narrow(0, (long)step * batch, batch);
                var x = images.index_select(0, index).to(device);
                var y = labels.index_select(0, index).to(device);
                var flipped = flippedInEvenEpochs is null ? null : epoch % 2 == 0 ? flippedInEvenEpochs.index_select(0, index) : flippedInEvenEpochs.index_select(0, index).logical_not();
                x = Augment.Apply(x, options.Augmentation, options.CropPadding, options.PadMode, augmentGenerator, flipped);
                if (options.Adversary is { } adversary)
                    x = Attacks.L2Pgd.Perturb(model, x, y, adversary, adversaryGenerator).Adversarial;

                optimizer.zero_grad();
                var logits = model.forward(x);
                var loss = nn.functional.cross_entropy(logits, y, label_smoothing: options.LabelSmoothing ?? 0);
                double lossValue = loss.item<float>();
                var fault = Fault(lossValue, emaLoss, seenSteps);
                if (fault != null)
                    throw new TrainingDivergedException(epoch + 1, step + 1, steps, lossValue, lr, fault, lastCheckpoint);
                loss.backward();
                optimizer.step();
                lookahead?.Step(globalStep + 1, totalSteps, options.LookaheadEvery!.Value);

                emaLoss = seenSteps == 0 ? lossValue : 0.9 * emaLoss + 0.1 * lossValue;
                seenSteps++;
                lossSum += lossValue;
                correct += logits.argmax(1).eq(y).sum().item<long>();
                progress?.Report(new TrainingProgress(epoch + 1, options.Epochs, step + 1, steps,
                    lossSum / (step + 1), (double)correct / ((step + 1L) * batch), lr,
                    (step + 1L) * batch / Math.Max(clock.Elapsed.TotalSeconds, 1e-9), EpochCompleted: false));
            }
            var seconds = clock.Elapsed.TotalSeconds;
            var summary = new EpochSummary(epoch + 1, lossSum / steps, (double)correct / ((long)steps * batch), seconds,
                (long)steps * batch / Math.Max(seconds, 1e-9));
            history.Add(summary);
            if (checkpointDir != null)
                lastCheckpoint = SaveCheckpoint(checkpointDir, epoch + 1, model, optimizer, lookahead, settings!, history, log);
            progress?.Report(new TrainingProgress(epoch + 1, options.Epochs, steps, steps, summary.Loss, summary.Accuracy,
                options.LearningRateAt(Math.Min(totalSteps - 1, (epoch + 1L) * steps - 1), totalSteps), summary.ImagesPerSecond, EpochCompleted: true));
        }
        model.eval();
        return new TrainingResult(options.Epochs, startEpoch, history);
    }

    /// <summary>
    /// The identity of a training run as recorded in its checkpoints: options, architecture,
    /// fingerprints of the initial weights and of the data.
    /// </summary>
    public static JsonObject CheckpointSettings(nn.Module<Tensor, Tensor> model, Tensor images, Tensor labels, TrainingOptions options) => new()
    {
        ["options"] = Artifacts.ToNode(options).DeepClone(),
        ["model"] = model is ICifarClassifier c ? $"{c.Arch} width {c.Width}" : model.GetType().Name,
        ["initialWeights"] = Fingerprint.Of(model),
        ["data"] = Fingerprint.Of(images, labels),
        ["count"] = images.shape[0],
    };

    /// <summary>Why <paramref name="loss"/> counts as divergence, or null when it is fine.</summary>
    static string? Fault(double loss, double emaLoss, long seenSteps)
    {
        if (double.IsNaN(loss)) return "the loss is NaN";
        if (double.IsInfinity(loss)) return "the loss is infinite";
        if (loss > ExplodedLoss) return $"the loss {loss:G4} exceeds {ExplodedLoss:G4}";
        if (seenSteps >= 10 && loss > ExplosionFloor && loss > ExplosionFactor * emaLoss)
            return $"the loss {loss:G4} is over {ExplosionFactor:G3} times its running mean {emaLoss:G4}";
        return null;
    }

    static long CheckData(Tensor images, Tensor labels)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        if (images.dim() != 4 || images.shape[1] != CifarStats.Channels)
            throw new ArgumentException($"Training images must be N x 3 x H x W, got [{string.Join(", ", images.shape)}].", nameof(images));
        if (images.dtype != ScalarType.Float32)
            throw new ArgumentException($"Training images must be float32 pixels in [0, 1], got {images.dtype}.", nameof(images));
        if (labels.dim() != 1 || labels.dtype != ScalarType.Int64)
            throw new ArgumentException($"Training labels must be an int64 vector, got {labels.dtype} [{string.Join(", ", labels.shape)}].", nameof(labels));
        if (labels.shape[0] != images.shape[0])
            throw new ArgumentException($"Training data has {images.shape[0]} images but {labels.shape[0]} labels.", nameof(labels));
        if (images.shape[0] < 2)
            throw new ArgumentException($"Training needs at least 2 images, got {images.shape[0]}.", nameof(images));
        long lo = labels.min().item<long>(), hi = labels.max().item<long>();
        if (lo < 0 || hi >= CifarStats.Classes)
            throw new ArgumentException($"Training labels must be class indices in [0, {CifarStats.Classes}), found values in [{lo}, {hi}].", nameof(labels));
        return images.shape[0];
    }

    /// <summary>SGD with weight decay on conv/linear weights only (parameters of rank >= 2).</summary>
    internal static SGD CreateOptimizer(nn.Module<Tensor, Tensor> model, TrainingOptions options) => CreateOptimizerGroups(model, options).Optimizer;

    /// <summary>
    /// The optimiser and each parameter group's multiple of the scheduled learning rate. Parameters
    /// that do not train (requires_grad false, e.g. a frozen batch-norm scale) are not in any group;
    /// a parameter frozen later (<see cref="ITrainingHooks.BeginEpoch"/>) gets no gradient and so no step.
    /// </summary>
    static (SGD Optimizer, double[] LrScales) CreateOptimizerGroups(nn.Module<Tensor, Tensor> model, TrainingOptions options)
    {
        var named = model.named_parameters().ToList();
        var groups = new List<(List<Parameter> Params, double WeightDecay, double LrScale)>();
        if (options.NormLrScale is { } scale)
        {
            var normNames = model.named_modules().Where(m => m.module is BatchNorm2d)
                .SelectMany(m => new[] { $"{m.name}.weight", $"{m.name}.bias" }).ToHashSet();
            groups.Add((named.Where(p => normNames.Contains(p.name)).Select(p => p.parameter).ToList(), options.WeightDecay / scale, scale));
            groups.Add((named.Where(p => !normNames.Contains(p.name)).Select(p => p.parameter).ToList(), options.WeightDecay, 1));
        }
        else
        {
            groups.Add((named.Where(p => p.parameter.dim() >= 2).Select(p => p.parameter).ToList(), options.WeightDecay, 1));
            groups.Add((named.Where(p => p.parameter.dim() < 2).Select(p => p.parameter).ToList(), 0, 1));
        }
        var trained = groups.Select(gr => gr with { Params = gr.Params.Where(p => p.requires_grad).ToList() })
            .Where(gr => gr.Params.Count > 0).ToList();
        if (trained.Count == 0) throw new ArgumentException("The model has no trainable parameters.", nameof(model));
        var sgd = new SGD(trained.Select(gr => new SGD.ParamGroup(gr.Params, new SGD.Options { weight_decay = gr.WeightDecay, LearningRate = options.LearningRate * gr.LrScale })),
            options.LearningRate, options.Momentum, dampening: 0, weight_decay: options.WeightDecay, nesterov: options.Nesterov);
        return (sgd, trained.Select(gr => gr.LrScale).ToArray());
    }

    sealed record Checkpoint(string Dir, int Epoch, IReadOnlyList<EpochSummary> History);

    static IEnumerable<(string Dir, int Epoch)> CheckpointDirs(string root) =>
        !Directory.Exists(root) ? [] :
        Directory.GetDirectories(root, CheckpointPrefix + "*")
            .Select(d => (Dir: d, Ok: int.TryParse(Path.GetFileName(d).AsSpan(CheckpointPrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var e), Epoch: e))
            .Where(t => t.Ok && t.Epoch > 0)
            .Select(t => (t.Dir, t.Epoch))
            .OrderByDescending(t => t.Epoch);

    static Checkpoint? FindCheckpoint(string root, JsonObject settings, Action<string> log)
    {
        bool any = false;
        foreach (var (dir, epoch) in CheckpointDirs(root))
        {
            any = true;
            if (!Artifacts.TryValidate(dir, CheckpointKind, settings, out var reason))
            {
                log($"Not resuming from {dir}: {reason}.");
                continue;
            }
            var extra = Artifacts.ReadExtra(dir);
            var history = extra?["history"]?.Deserialize<List<EpochSummary>>(Artifacts.Json) ?? [];
            if ((int?)extra?["epoch"] != epoch || history.Count != epoch)
            {
                log($"Not resuming from {dir}: its metadata does not describe epoch {epoch}.");
                continue;
            }
            return new Checkpoint(dir, epoch, history);
        }
        if (any) log($"No usable checkpoint in {root}: training starts from scratch.");
        return null;
    }

    static string SaveCheckpoint(string root, int epoch, nn.Module<Tensor, Tensor> model, SGD optimizer, Lookahead? lookahead, JsonObject settings,
        IReadOnlyList<EpochSummary> history, Action<string> log)
    {
        var dir = Path.Combine(root, $"{CheckpointPrefix}{epoch:D4}");
        Artifacts.Delete(dir);
        Directory.CreateDirectory(dir);
        AtomicFile.Write(Path.Combine(dir, ModelFile), s =>
        {
            using var w = new BinaryWriter(s, System.Text.Encoding.UTF8, leaveOpen: true);
            model.save(w);
        });
        AtomicFile.Write(Path.Combine(dir, OptimizerFile), s =>
        {
            using var w = new BinaryWriter(s, System.Text.Encoding.UTF8, leaveOpen: true);
            SaveMomentum(optimizer, w);
        });
        if (lookahead != null) lookahead.Save(Path.Combine(dir, LookaheadFile));
        var extra = new JsonObject
        {
            ["epoch"] = epoch,
            ["history"] = JsonSerializer.SerializeToNode(history, Artifacts.Json),
        };
        Artifacts.Commit(dir, CheckpointKind, settings, lookahead == null ? [ModelFile, OptimizerFile] : [ModelFile, OptimizerFile, LookaheadFile], extra);
        foreach (var (other, _) in CheckpointDirs(root).Where(t => t.Dir != dir).ToList())
            Artifacts.Delete(other);
        log($"Checkpoint of epoch {epoch} written to {dir}.");
        return dir;
    }

    static void LoadCheckpoint(string dir, string file, Action<string> load)
    {
        try
        {
            load(dir);
        }
        catch (Exception e) when (e is ArgumentException or InvalidDataException or EndOfStreamException or IOException or NotImplementedException or OverflowException)
        {
            throw new InvalidDataException($"Checkpoint file {Path.Combine(dir, file)} passed its checksum but could not be loaded into this model: {e.Message}", e);
        }
    }

    // Momentum buffers are written by us (CPU copies, in parameter order), not with SGD.save_state_dict:
    // that restores buffers on the CPU even when the parameters live on a GPU.
    static void SaveMomentum(SGD optimizer, BinaryWriter w)
    {
        var states = optimizer.state_dict().State.Cast<SGD.State>().ToList();
        w.Write(states.Count);
        foreach (var st in states)
        {
            w.Write(st.momentum_buffer is not null);
            if (st.momentum_buffer is null) continue;
            using var cpu = st.momentum_buffer.detach().cpu();
            cpu.contiguous().Save(w);
        }
    }

    static void LoadMomentum(SGD optimizer, BinaryReader r, Device device)
    {
        var states = optimizer.state_dict().State.Cast<SGD.State>().ToList();
        int count = r.ReadInt32();
        if (count != states.Count)
            throw new InvalidDataException($"optimizer state has {count} parameters, the model {states.Count}");
        foreach (var st in states)
        {
            if (!r.ReadBoolean()) { st.momentum_buffer = null!; continue; }
            var loaded = TensorExtensionMethods.Load(r);
            st.momentum_buffer = device.type == DeviceType.CPU ? loaded : loaded.to(device);
        }
    }
}
