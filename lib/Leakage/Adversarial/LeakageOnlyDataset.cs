using System.Text.Json.Nodes;
using Leakage.IO;
using Leakage.Native;
using static TorchSharp.torch;

namespace Leakage.Adversarial;

/// <summary>
/// A leakage-only data set as built by <see cref="LeakageOnlyDatasets.Build"/>: clean images with the
/// fixed pattern of their target class added (float32, in [0, 1]; with Keller Jordan's construction,
/// those the source model already classifies as their target left clean), their original labels, the targets
/// (the labels to train on), whether the source model classifies each as its target, and the ten
/// patterns. Owns its tensors, all on the CPU.
/// </summary>
public sealed class LeakageOnlyDataset : IDisposable
{
    internal const string ImagesFile = "images.bin";
    internal const string LabelsFile = "labels.bin";
    internal const string TargetsFile = "targets.bin";
    internal const string SuccessFile = "success.bin";
    internal const string PatternsFile = "patterns.bin";

    /// <summary>Artifact kind of a complete set folder.</summary>
    public const string ArtifactKind = "leakage-only-dataset";

    /// <summary>Key of <see cref="KeptClean"/> in the set's metadata.json (<c>extra</c>).</summary>
    internal const string KeptCleanKey = "keptClean";

    LeakageOnlyDataset(AdversarialKind rule, Tensor images, Tensor labels, Tensor targets, Tensor success, Tensor patterns, string directory, JsonObject settings, long keptClean)
    {
        KeptClean = keptClean;
        Rule = rule;
        Images = images;
        Labels = labels;
        Targets = targets;
        Success = success;
        Patterns = patterns;
        Directory = directory;
        Settings = settings;
    }

    /// <summary>The target rule (D_rand's, D_det's or D_other's).</summary>
    public AdversarialKind Rule { get; }

    /// <summary>clamp(x + pattern[t], 0, 1), or x where it was kept clean; float32 N x 3 x 32 x 32.</summary>
    public Tensor Images { get; }

    /// <summary>Original (true) labels y, int64 N.</summary>
    public Tensor Labels { get; }

    /// <summary>Target labels t, int64 N: the labels to train on.</summary>
    public Tensor Targets { get; }

    /// <summary>Whether the source model predicts t on the image, bool N.</summary>
    public Tensor Success { get; }

    /// <summary>The pattern of each target class, float32 10 x 3 x 32 x 32, each of L2 norm eps.</summary>
    public Tensor Patterns { get; }

    /// <summary>Folder the set is stored in.</summary>
    public string Directory { get; }

    /// <summary>The settings recorded in its metadata.json.</summary>
    public JsonObject Settings { get; }

    /// <summary>Number of images.</summary>
    public long Count => Images.shape[0];

    /// <summary>Images left without a pattern because the source model already classifies them as their target (Keller Jordan's construction; 0 otherwise).</summary>
    public long KeptClean { get; }

    /// <summary>Fraction of images the source model classifies as their target, in [0, 1]: the attacks' measure of success, for a set made without an attack.</summary>
    public double SuccessRate => Success.to_type(ScalarType.Float64).mean().item<double>();

    /// <summary>"leakage-only D_rand rule", "leakage-only D_det rule" or "leakage-only D_other rule".</summary>
    public static string Name(AdversarialKind rule) => $"leakage-only {AdversarialSet.Of(rule).Name} rule";

    /// <summary>Loads a complete set from <paramref name="dir"/>, verifying every checksum.</summary>
    /// <exception cref="InvalidDataException">Missing, incomplete or corrupt; the message says which file and why.</exception>
    public static LeakageOnlyDataset Load(string dir)
    {
        TorchNative.Ensure();
        var metaPath = Path.Combine(dir, Artifacts.MetadataFile);
        if (!File.Exists(metaPath))
            throw new InvalidDataException($"Leakage-only data set {dir} is missing or incomplete: no {Artifacts.MetadataFile}.");
        var settings = JsonFile.StoredSettings(metaPath);
        Artifacts.Validate(dir, ArtifactKind, settings);
        var ruleName = (string?)settings["rule"];
        if (!Enum.TryParse<AdversarialKind>(ruleName, ignoreCase: true, out var rule))
            throw new InvalidDataException($"{metaPath}: unknown target rule '{ruleName}'.");
        var tensors = new[] { ImagesFile, LabelsFile, TargetsFile, SuccessFile, PatternsFile }.Select(f => TensorFile.Load(Path.Combine(dir, f))).ToArray();
        var (images, labels, targets, success, patterns) = (tensors[0], tensors[1], tensors[2], tensors[3], tensors[4]);
        long n = images.shape[0];
        if (images.dtype != ScalarType.Float32 || images.dim() != 4 || labels.shape[0] != n || targets.shape[0] != n || success.shape[0] != n || patterns.dim() != 4)
        {
            foreach (var t in tensors) t.Dispose();
            throw new InvalidDataException($"Leakage-only data set {dir}: inconsistent tensors (images {images.dtype} [{string.Join(", ", images.shape)}], " +
                $"{labels.shape[0]} labels, {targets.shape[0]} targets, {success.shape[0]} success flags, patterns [{string.Join(", ", patterns.shape)}]).");
        }
        long keptClean = (long?)Artifacts.ReadExtra(dir)?[KeptCleanKey] ?? 0;
        return new LeakageOnlyDataset(rule, images, labels, targets, success, patterns, dir, settings, keptClean);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
        Targets.Dispose();
        Success.Dispose();
        Patterns.Dispose();
    }
}
