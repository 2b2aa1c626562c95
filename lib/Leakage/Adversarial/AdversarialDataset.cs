using System.Text.Json.Nodes;
using Leakage.IO;
using Leakage.Native;
using static TorchSharp.torch;

namespace Leakage.Adversarial;

/// <summary>
/// A relabelled adversarial training set (D_rand, D_det or D_other) as built by
/// <see cref="AdversarialDatasets.Build"/>: the attacked images (float32, never rounded to 8 bits),
/// the original labels, the target labels (the new training labels) and per-image attack success.
/// Owns its tensors, all on the CPU.
/// </summary>
public sealed class AdversarialDataset : IDisposable
{
    internal const string ImagesFile = "images.bin";
    internal const string LabelsFile = "labels.bin";
    internal const string TargetsFile = "targets.bin";
    internal const string SuccessFile = "success.bin";

    /// <summary>Artifact kind of a complete data set folder.</summary>
    public const string ArtifactKind = "adversarial-dataset";

    internal AdversarialDataset(AdversarialKind kind, Tensor images, Tensor labels, Tensor targets, Tensor success, string directory, JsonObject settings)
    {
        Kind = kind;
        Images = images;
        Labels = labels;
        Targets = targets;
        Success = success;
        Directory = directory;
        Settings = settings;
    }

    /// <summary>D_rand, D_det or D_other.</summary>
    public AdversarialKind Kind { get; }

    /// <summary>Adversarial images, float32 N x 3 x 32 x 32 in [0, 1].</summary>
    public Tensor Images { get; }

    /// <summary>Original (true) labels y, int64 N.</summary>
    public Tensor Labels { get; }

    /// <summary>Target labels t, int64 N: the labels to train on.</summary>
    public Tensor Targets { get; }

    /// <summary>Whether the source model predicts t on the adversarial image, bool N.</summary>
    public Tensor Success { get; }

    /// <summary>Folder the data set is stored in.</summary>
    public string Directory { get; }

    /// <summary>The settings recorded in its metadata.json (attack, seed, source model and data fingerprints).</summary>
    public JsonObject Settings { get; }

    /// <summary>Number of images.</summary>
    public long Count => Images.shape[0];

    /// <summary>Fraction of images whose attack reached its target, in [0, 1].</summary>
    public double SuccessRate => Success.to_type(ScalarType.Float64).mean().item<double>();

    /// <summary>Fraction of images whose target equals their original label (about 0.1 for D_rand as in the paper, 0 otherwise).</summary>
    public double TargetEqualsLabelRate => Targets.eq(Labels).to_type(ScalarType.Float64).mean().item<double>();

    /// <summary>
    /// The rows whose attack reached its target, in order (int64, CPU): the set restricted to its
    /// successful attacks is a view of it through these rows, with no new attack. With
    /// <paramref name="within"/> (int64 row indices), only those of its rows, in its order.
    /// </summary>
    public Tensor SuccessfulRows(Tensor? within = null)
    {
        using var scope = NewDisposeScope();
        var rows = within is null ? Scalars.Arange(Count) : within.cpu().to_type(ScalarType.Int64);
        var kept = rows.index_select(0, Success.index_select(0, rows).nonzero().squeeze(1));
        return kept.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Loads a complete data set from <paramref name="dir"/>, verifying every checksum. Use
    /// <see cref="AdversarialDatasets.Build"/> to also check that it was made with given settings.
    /// </summary>
    /// <exception cref="InvalidDataException">Missing, incomplete or corrupt; the message says which file and why.</exception>
    public static AdversarialDataset Load(string dir)
    {
        TorchNative.Ensure();
        var metaPath = Path.Combine(dir, Artifacts.MetadataFile);
        if (!File.Exists(metaPath))
            throw new InvalidDataException($"Adversarial data set {dir} is missing or incomplete: no {Artifacts.MetadataFile}.");
        var settings = JsonFile.StoredSettings(metaPath);
        Artifacts.Validate(dir, ArtifactKind, settings);
        var kindName = (string?)settings["kind"];
        if (!Enum.TryParse<AdversarialKind>(kindName, ignoreCase: true, out var kind))
            throw new InvalidDataException($"{metaPath}: unknown data set kind '{kindName}'.");
        var images = TensorFile.Load(Path.Combine(dir, ImagesFile));
        var labels = TensorFile.Load(Path.Combine(dir, LabelsFile));
        var targets = TensorFile.Load(Path.Combine(dir, TargetsFile));
        var success = TensorFile.Load(Path.Combine(dir, SuccessFile));
        long n = images.shape[0];
        if (images.dtype != ScalarType.Float32 || images.dim() != 4 || labels.shape[0] != n || targets.shape[0] != n || success.shape[0] != n)
        {
            foreach (var t in new[] { images, labels, targets, success }) t.Dispose();
            throw new InvalidDataException($"Adversarial data set {dir}: inconsistent tensors (images {images.dtype} [{string.Join(", ", images.shape)}], " +
                $"{labels.shape[0]} labels, {targets.shape[0]} targets, {success.shape[0]} success flags).");
        }
        return new AdversarialDataset(kind, images, labels, targets, success, dir, settings);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
        Targets.Dispose();
        Success.Dispose();
    }
}
