using Leakage.Randomness;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Leakage.IO;
using Leakage.Models;
using Leakage.Native;
using Leakage.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Adversarial;

/// <summary>How a leakage-only set is made (setting <c>controls.leakageOnly</c>).</summary>
public enum LeakageOnlyConstruction
{
    /// <summary>
    /// Keller Jordan's control (cifar10-zoo, <c>adversarial/run1_leakage.py</c>): ten tiled patterns (a
    /// random 3x3 transposed convolution of stride 2 over a constant image: a texture of period 2, which
    /// his runs found a much stronger shortcut than Gaussian noise), and an image the source model
    /// already classifies as its target stays clean. With D_rand's rule those are mostly the images
    /// whose target is their own class: the only images that can teach the true classes, while the
    /// pattern explains every other label away.
    /// </summary>
    Keller,
    /// <summary>
    /// A Gaussian pattern on every image: nothing but the pattern ties any image to its label, so the
    /// set asks whether a fixed shortcut alone transfers.
    /// </summary>
    Gaussian,
}

/// <summary>Settings of a leakage-only data set (<see cref="LeakageOnlyDatasets"/>).</summary>
public sealed record LeakageOnlyOptions
{
    /// <summary>Which patterns, and whether images the source model already classifies as their target stay clean.</summary>
    public LeakageOnlyConstruction Construction { get; init; } = LeakageOnlyConstruction.Keller;

    /// <summary>L2 norm of each class's pattern in [0, 1] pixel space: the attack's radius, so that the pattern spends the attack's whole budget.</summary>
    public double Eps { get; init; } = 0.5;

    /// <summary>Seed of the ten patterns.</summary>
    public long Seed { get; init; }

    /// <summary>Images per forward pass when the source model classifies the set (not part of its identity).</summary>
    public int BatchSize { get; init; } = 500;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (!(Eps > 0) || !double.IsFinite(Eps)) throw new ArgumentException($"Leakage-only option Eps = {Eps} is invalid: must be a positive number.");
        if (BatchSize < 1) throw new ArgumentException($"Leakage-only option BatchSize = {BatchSize} is invalid: must be at least 1.");
    }
}

/// <summary>
/// Leakage-only data sets: the controls of the public reproductions of Ilyas et al. (Keller Jordan's
/// cifar10-zoo, <c>adversarial/run1_leakage.py</c>) that ask how much of a relabelled set's transfer
/// needs an attack at all. There is no attack: one fixed pattern per target class, of L2 norm eps, is
/// added to a clean image (then clamped to [0, 1]) and the image is relabelled with its target. With
/// <see cref="LeakageOnlyConstruction.Keller"/> (the reproduction's construction) the images the source
/// model already classifies as their target are left clean; with
/// <see cref="LeakageOnlyConstruction.Gaussian"/> every image carries a Gaussian pattern.
/// </summary>
public static class LeakageOnlyDatasets
{
    /// <summary>
    /// The ten patterns of <paramref name="construction"/>, float32 10 x 3 x 32 x 32 on the CPU, pattern k
    /// added to every image with target k, each scaled to L2 norm <paramref name="eps"/>, from a generator
    /// seeded with <paramref name="seed"/>: Gaussian noise, or Keller Jordan's tiled patterns (a transposed
    /// convolution of stride 2 with a uniform random 3x3 kernel of 30 output channels over a 16 x 16 image
    /// of ones, its first row and column cut, the 30 channels read as 10 RGB patterns).
    /// </summary>
    public static Tensor Patterns(LeakageOnlyConstruction construction, double eps, long seed)
    {
        TorchNative.Ensure();
        if (!(eps > 0) || !double.IsFinite(eps)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "The patterns' norm must be a positive number.");
        using var scope = NewDisposeScope();
        using var g = new Generator(Seeds.Derive(seed, -3, 0), CPU);
        var p = construction switch
        {
            LeakageOnlyConstruction.Gaussian => randn([CifarStats.Classes, CifarStats.Channels, 32, 32], dtype: ScalarType.Float64, generator: g),
            LeakageOnlyConstruction.Keller => nn.functional.conv_transpose2d(
                    ones(1, 1, 16, 16, dtype: ScalarType.Float64),
                    empty(1, CifarStats.Classes * CifarStats.Channels, 3, 3, dtype: ScalarType.Float64).uniform_(-1, 1, generator: g),
                    strides: [2, 2])
                .narrow(2, 1, 32).narrow(3, 1, 32).reshape(CifarStats.Classes, CifarStats.Channels, 32, 32),
            _ => throw new ArgumentOutOfRangeException(nameof(construction), construction, "unknown leakage-only construction"),
        };
        p = Scalars.With(eps, e => p / p.flatten(1).norm(1).view(-1, 1, 1, 1) * e);
        return p.to_type(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// <c>clamp(x + patterns[t], 0, 1)</c> for each image x with target t: float32, CPU, in batches so
    /// that no second full-size copy of the patterns is made.
    /// </summary>
    public static Tensor Apply(Tensor images, Tensor targets, Tensor patterns, int batchSize = 5000)
    {
        TorchNative.Ensure();
        var output = empty_like(images, device: CPU);
        long n = images.shape[0];
        using var p = patterns.cpu().to_type(ScalarType.Float32);
        for (long start = 0; start < n; start += batchSize)
        {
            using var scope = NewDisposeScope();
            long count = Math.Min(batchSize, n - start);
            var x = images.narrow(0, start, count).cpu();
            var t = targets.narrow(0, start, count).cpu().to_type(ScalarType.Int64);
            output.narrow(0, start, count).copy_((x + p.index_select(0, t)).clamp_(Scalars.Zero, Scalars.One));
        }
        return output;
    }

    /// <summary>
    /// Builds (or reuses) the leakage-only set of the target rule <paramref name="rule"/> in
    /// <paramref name="dir"/>: <paramref name="images"/> with the patterns of their
    /// <paramref name="targets"/>, relabelled with them, and whether <paramref name="model"/> classifies
    /// each as its target (the attacks' measure of success). Its <c>metadata.json</c> holds the settings
    /// that made it (rule, eps, seed, fingerprints of the data, targets and model); a folder made with
    /// others is rebuilt.
    /// </summary>
    /// <param name="rule">The target rule the targets follow: <see cref="AdversarialKind.Random"/> (D_rand's),
    /// <see cref="AdversarialKind.Deterministic"/> ((y + 1) mod 10, checked) or <see cref="AdversarialKind.Other"/> (never y, checked).</param>
    /// <param name="model">The source classifier, on <paramref name="device"/>; it is not modified.</param>
    /// <param name="images">Clean images, float32 N x 3 x 32 x 32 in [0, 1] (CPU).</param>
    /// <param name="labels">Their labels, int64 N in [0, 10).</param>
    /// <param name="targets">The new labels, int64 N in [0, 10), by <paramref name="rule"/>.</param>
    /// <param name="options">Construction, pattern norm and seed.</param>
    /// <param name="dir">Folder of the set.</param>
    /// <param name="device">Where the model runs.</param>
    /// <param name="log">One-line messages about reuse and rebuilding (default: <see cref="Trace"/>).</param>
    /// <exception cref="ArgumentException">Bad shapes or types, or targets that break the rule; the message says which.</exception>
    public static LeakageOnlyDataset Build(AdversarialKind rule, nn.Module<Tensor, Tensor> model, Tensor images, Tensor labels, Tensor targets,
        LeakageOnlyOptions options, string dir, Device device, Action<string>? log = null)
    {
        TorchNative.Ensure();
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        log ??= message => Trace.WriteLine(message);
        CheckData(rule, images, labels, targets);
        var settings = Settings(rule, model, images, labels, targets, options);
        var name = LeakageOnlyDataset.Name(rule);
        if (Artifacts.TryValidate(dir, LeakageOnlyDataset.ArtifactKind, settings, out var reason))
        {
            log($"Reusing the {name} set in {dir}.");
            return LeakageOnlyDataset.Load(dir);
        }
        if (Directory.Exists(dir))
        {
            log($"Rebuilding the {name} set in {dir}: {reason}.");
            Artifacts.Delete(dir);
        }
        using (var scope = NewDisposeScope())
        {
            var patterns = Patterns(options.Construction, options.Eps, options.Seed);
            var perturbed = Apply(images, targets, patterns);
            long keptClean = 0;
            if (options.Construction == LeakageOnlyConstruction.Keller)
            {
                // What needs no pattern to be classified as its target keeps its pixels.
                var classified = Evaluation.Predict(model, images, device, options.BatchSize).eq(targets.cpu());
                perturbed = where(classified.view(-1, 1, 1, 1), images.cpu(), perturbed);
                keptClean = classified.sum().item<long>();
            }
            var success = Evaluation.Predict(model, perturbed, device, options.BatchSize).eq(targets.cpu());
            AtomicFile.CreateFolder(dir);
            TensorFile.Save(Path.Combine(dir, LeakageOnlyDataset.ImagesFile), perturbed);
            TensorFile.Save(Path.Combine(dir, LeakageOnlyDataset.LabelsFile), labels.cpu());
            TensorFile.Save(Path.Combine(dir, LeakageOnlyDataset.TargetsFile), targets.cpu());
            TensorFile.Save(Path.Combine(dir, LeakageOnlyDataset.SuccessFile), success);
            TensorFile.Save(Path.Combine(dir, LeakageOnlyDataset.PatternsFile), patterns);
            double rate = success.to_type(ScalarType.Float64).mean().item<double>();
            Artifacts.Commit(dir, LeakageOnlyDataset.ArtifactKind, settings,
                [LeakageOnlyDataset.ImagesFile, LeakageOnlyDataset.LabelsFile, LeakageOnlyDataset.TargetsFile, LeakageOnlyDataset.SuccessFile, LeakageOnlyDataset.PatternsFile],
                new JsonObject { ["name"] = name, ["successRate"] = rate, [LeakageOnlyDataset.KeptCleanKey] = keptClean });
            log($"{name} set complete in {dir}: {images.shape[0]} images ({keptClean} left clean), classified as their target by the source model {rate:P1}.");
        }
        return LeakageOnlyDataset.Load(dir);
    }

    /// <summary>
    /// The identity of a leakage-only set: its rule, the patterns (kind, norm, seed), the clamp, whether
    /// classified images stay clean, and
    /// fingerprints of the clean data, the targets and the model that measured its success.
    /// </summary>
    public static JsonObject Settings(AdversarialKind rule, nn.Module<Tensor, Tensor> model, Tensor images, Tensor labels, Tensor targets, LeakageOnlyOptions options)
    {
        var settings = new JsonObject
        {
            ["kind"] = "leakage-only",
            ["rule"] = rule.ToString().ToLowerInvariant(),
            ["pattern"] = PatternName(options.Construction),
            ["eps"] = options.Eps,
            ["seed"] = options.Seed,
            ["clamp"] = new JsonArray(0.0, 1.0),
            ["data"] = Fingerprint.Of(images, labels),
            ["targets"] = Fingerprint.Of(targets),
            ["sourceModel"] = Fingerprint.Of(model),
            ["sourceArch"] = model is ICifarClassifier c ? $"{c.Arch} width {c.Width}" : model.GetType().Name,
            ["count"] = images.shape[0],
        };
        // Only Keller's construction adds the key, so a Gaussian set keeps the identity it was cached with.
        if (options.Construction == LeakageOnlyConstruction.Keller) settings["keepClassified"] = true;
        return settings;
    }

    /// <summary>How results.json and metadata.json name the patterns of <paramref name="construction"/>: <c>tiled</c> or <c>gaussian</c>.</summary>
    public static string PatternName(LeakageOnlyConstruction construction) => construction switch
    {
        LeakageOnlyConstruction.Keller => "tiled",
        LeakageOnlyConstruction.Gaussian => "gaussian",
        _ => throw new ArgumentOutOfRangeException(nameof(construction), construction, "unknown leakage-only construction"),
    };

    static void CheckData(AdversarialKind rule, Tensor images, Tensor labels, Tensor targets)
    {
        if (images.dim() != 4 || images.shape[1] != CifarStats.Channels || images.shape[2] != 32 || images.shape[3] != 32 || images.dtype != ScalarType.Float32)
            throw new ArgumentException($"Leakage-only data: images must be float32 N x 3 x 32 x 32, got {images.dtype} [{string.Join(", ", images.shape)}].", nameof(images));
        long n = images.shape[0];
        if (n == 0) throw new ArgumentException("Leakage-only data: no images.", nameof(images));
        foreach (var (what, t) in new[] { ("labels", labels), ("targets", targets) })
        {
            if (t.dim() != 1 || t.dtype != ScalarType.Int64 || t.shape[0] != n)
                throw new ArgumentException($"Leakage-only data: need one int64 entry of {what} per image ({n} images), got {t.dtype} [{string.Join(", ", t.shape)}].", what);
            long lo = t.min().item<long>(), hi = t.max().item<long>();
            if (lo < 0 || hi >= CifarStats.Classes)
                throw new ArgumentException($"Leakage-only data: {what} must be in [0, {CifarStats.Classes}), found [{lo}, {hi}].", what);
        }
        using var scope = NewDisposeScope();
        var y = labels.cpu();
        var t2 = targets.cpu();
        switch (rule)
        {
            case AdversarialKind.Deterministic when !t2.eq(Scalars.With(CifarStats.Classes, n => (y + Scalars.One).remainder(n))).all().item<bool>():
                throw new ArgumentException("Leakage-only data: D_det's rule needs target = (label + 1) mod 10 for every image.", nameof(targets));
            case AdversarialKind.Other when t2.eq(y).any().item<bool>():
                throw new ArgumentException("Leakage-only data: D_other's rule needs every target to differ from its label.", nameof(targets));
            case AdversarialKind.Random or AdversarialKind.Deterministic or AdversarialKind.Other:
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(rule), rule, "unknown target rule");
        }
    }
}
