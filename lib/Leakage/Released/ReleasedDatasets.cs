using Leakage.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Released;

/// <summary>
/// Finds and loads the CIFAR-10 data sets Ilyas et al. (2019) released with "Adversarial examples
/// are not bugs, they are features" (<c>datasets.tar</c>, linked from MadryLab/constructed-datasets):
/// <c>release_datasets/{d_robust_CIFAR, d_non_robust_CIFAR, drand_CIFAR, ddet_CIFAR}/{CIFAR_ims, CIFAR_lab}</c>.
/// Each file is a torch.save'd Python list of tensor chunks (the authors load them with
/// <c>torch.cat(torch.load(path))</c>), in the legacy format of 2019 or, if re-saved, the zip format;
/// both are read by <see cref="TorchSaveFile"/> without Python.
/// </summary>
public static class ReleasedDatasets
{
    /// <summary>The images file in each data set folder: a list of float32 chunks N_k x 3 x 32 x 32.</summary>
    public const string ImagesFile = "CIFAR_ims";

    /// <summary>The labels file in each data set folder: a list of int64 chunks N_k.</summary>
    public const string LabelsFile = "CIFAR_lab";

    /// <summary>The top folder inside <c>datasets.tar</c>.</summary>
    public const string ReleaseFolder = "release_datasets";

    /// <summary>
    /// How far outside [0, 1] a pixel may lie and still be accepted (then clamped into [0, 1]):
    /// float noise from a re-save or a conversion, a few ulps at 1.0. Anything further is an error.
    /// </summary>
    public const float RangeTolerance = 1e-6f;

    /// <summary>The number of CIFAR-10 classes; labels lie in 0..<c>Classes - 1</c>.</summary>
    public const int Classes = 10;

    private static readonly long[] ImageShape = [3, 32, 32];

    /// <summary>The folder name of a data set in the release, e.g. <c>drand_CIFAR</c>.</summary>
    public static string FolderName(ReleasedDatasetKind kind) => kind switch
    {
        ReleasedDatasetKind.Robust => "d_robust_CIFAR",
        ReleasedDatasetKind.NonRobust => "d_non_robust_CIFAR",
        ReleasedDatasetKind.DRand => "drand_CIFAR",
        ReleasedDatasetKind.DDet => "ddet_CIFAR",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "not a released data set"),
    };

    /// <summary>The data set a release folder name stands for (exact, case-sensitive match), if any.</summary>
    public static ReleasedDatasetKind? KindOf(string folderName) =>
        Enum.GetValues<ReleasedDatasetKind>().Cast<ReleasedDatasetKind?>().FirstOrDefault(k => FolderName(k!.Value) == folderName);

    /// <summary>
    /// Finds the released data sets under <paramref name="root"/>, which may be the folder that holds
    /// <c>release_datasets/</c> (where <c>datasets.tar</c> was extracted), <c>release_datasets/</c>
    /// itself, or one data set's folder. Returns the folders found, in <see cref="ReleasedDatasetKind"/>
    /// order, without loading them; an empty list if there are none.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException"><paramref name="root"/> does not exist.</exception>
    public static IReadOnlyList<ReleasedDatasetFolder> Discover(string root)
    {
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"{root}: folder not found (looking for the released data sets).");
        var found = new List<ReleasedDatasetFolder>();
        foreach (var kind in Enum.GetValues<ReleasedDatasetKind>())
        {
            var name = FolderName(kind);
            var candidates = new[]
            {
                Path.Combine(root, ReleaseFolder, name),
                Path.Combine(root, name),
                Path.GetFileName(Path.TrimEndingDirectorySeparator(root)) == name ? root : null,
            };
            var folder = candidates.FirstOrDefault(Directory.Exists);
            if (folder is not null) found.Add(new ReleasedDatasetFolder(kind, Path.GetFullPath(folder)));
        }
        return found;
    }

    /// <summary>Finds <paramref name="kind"/> under <paramref name="root"/> (as <see cref="Discover"/> does) and loads it.</summary>
    /// <exception cref="DirectoryNotFoundException">The data set is not under <paramref name="root"/>; the message says where it looked.</exception>
    public static ReleasedDataset Load(string root, ReleasedDatasetKind kind)
    {
        var folder = Discover(root).FirstOrDefault(f => f.Kind == kind);
        if (folder is null)
        {
            var name = FolderName(kind);
            var hint = File.Exists(Path.Combine(root, "datasets.tar"))
                ? $" {Path.Combine(root, "datasets.tar")} exists: extract it first (tar -xf datasets.tar)."
                : " Download datasets.tar (linked from MadryLab/constructed-datasets) and extract it there.";
            throw new DirectoryNotFoundException(
                $"{root}: released data set {name} not found (looked for {Path.Combine(ReleaseFolder, name)}/ and {name}/).{hint}");
        }
        return Load(folder.Path);
    }

    /// <summary>
    /// Loads one data set folder: reads every chunk of <c>CIFAR_ims</c> and <c>CIFAR_lab</c> (legacy or
    /// zip torch.save format), checks them and concatenates them in file order, as
    /// <c>torch.cat(torch.load(path))</c> does. Images come back as N x 3 x 32 x 32 float32 in [0, 1]
    /// (values within <see cref="RangeTolerance"/> of the range are clamped into it), labels as N int64
    /// in 0..9, both contiguous on the CPU.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="FileNotFoundException"><c>CIFAR_ims</c> or <c>CIFAR_lab</c> is missing.</exception>
    /// <exception cref="InvalidDataException">
    /// A file is truncated or not a torch.save file, a chunk has the wrong dtype or shape, a pixel lies
    /// outside [0, 1], a label outside 0..9, or the image and label counts differ. The message names
    /// the file and, for values, the offending index.
    /// </exception>
    public static ReleasedDataset Load(string folder)
    {
        TorchNative.Ensure();
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"{folder}: released data set folder not found.");
        var imagesPath = Path.Combine(folder, ImagesFile);
        var labelsPath = Path.Combine(folder, LabelsFile);
        var missing = new[] { imagesPath, labelsPath }.Where(p => !File.Exists(p)).Select(Path.GetFileName).ToList();
        if (missing.Count > 0)
        {
            var inside = missing.Count == 2 ? Discover(folder).Where(f => f.Path != Path.GetFullPath(folder)).ToList() : [];
            var hint = inside.Count > 0
                ? $" It holds the data sets {string.Join(", ", inside.Select(f => f.Name))}: load one with Load(root, kind) or Load(folder of one)."
                : "";
            throw new FileNotFoundException(
                $"{folder}: {string.Join(" and ", missing)} missing; a released data set folder holds {ImagesFile} (images) "
                + $"and {LabelsFile} (labels), as extracted from datasets.tar.{hint}",
                missing.Count == 1 && missing[0] == LabelsFile ? labelsPath : imagesPath);
        }

        using var scope = torch.NewDisposeScope();
        var format = TorchSaveFile.DetectFormat(imagesPath);
        var imageChunks = TorchSaveFile.ReadTensors(imagesPath);
        for (int i = 0; i < imageChunks.Length; i++) CheckImageChunk(imageChunks[i], i, imagesPath);
        var labelChunks = TorchSaveFile.ReadTensors(labelsPath);
        for (int i = 0; i < labelChunks.Length; i++) CheckLabelChunk(labelChunks[i], i, labelsPath);

        long imageCount = imageChunks.Sum(c => c.shape[0]);
        long labelCount = labelChunks.Sum(c => c.shape[0]);
        if (imageCount == 0) throw new InvalidDataException($"{imagesPath}: holds no images.");
        if (imageCount != labelCount)
            throw new InvalidDataException(
                $"{folder}: {ImagesFile} holds {imageCount} images but {LabelsFile} holds {labelCount} labels.");

        var images = Concatenate(imageChunks);
        var labels = Concatenate(labelChunks);
        CheckPixelRange(images, imagesPath);
        CheckLabelRange(labels, labelsPath);

        var name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder)));
        return new ReleasedDataset(name, Path.GetFullPath(folder), KindOf(name), format,
            imageChunks.Select(c => c.shape[0]).ToArray(), images.MoveToOuterDisposeScope(), labels.MoveToOuterDisposeScope());
    }

    private static Tensor Concatenate(Tensor[] chunks) =>
        chunks.Length == 1 ? chunks[0].contiguous() : torch.cat(chunks, 0);

    private static void CheckImageChunk(Tensor chunk, int index, string path)
    {
        if (chunk.dtype != ScalarType.Float32)
            throw new InvalidDataException($"{path}: chunk {index} holds {chunk.dtype} values; released images are float32.");
        if (chunk.dim() != 4 || !chunk.shape.AsSpan(1).SequenceEqual(ImageShape))
        {
            var hint = chunk.dim() == 4 && chunk.shape[3] == 3
                ? " It looks like N x H x W x C; the release stores N x C x H x W."
                : "";
            throw new InvalidDataException(
                $"{path}: chunk {index} has shape [{string.Join(", ", chunk.shape)}]; released images are N x 3 x 32 x 32.{hint}");
        }
    }

    private static void CheckLabelChunk(Tensor chunk, int index, string path)
    {
        if (chunk.dtype != ScalarType.Int64)
            throw new InvalidDataException($"{path}: chunk {index} holds {chunk.dtype} values; released labels are int64.");
        if (chunk.dim() != 1)
            throw new InvalidDataException($"{path}: chunk {index} has shape [{string.Join(", ", chunk.shape)}]; released labels are a vector of N class indices.");
    }

    /// <summary>Rejects pixels (or NaNs) outside [0, 1] by more than the tolerance; clamps the rest.</summary>
    private static void CheckPixelRange(Tensor images, string path)
    {
        using var scope = torch.NewDisposeScope();
        float min = images.min().ToSingle();
        float max = images.max().ToSingle();
        if (!(min >= -RangeTolerance) || !(max <= 1 + RangeTolerance))
        {
            var flat = images.flatten();
            var outside = Scalars.With(-RangeTolerance, lo => Scalars.With(1 + RangeTolerance, hi => flat.lt(lo).logical_or(flat.gt(hi)).logical_or(flat.isnan())));
            long at = outside.to(ScalarType.Byte).argmax().ToInt64(); // first offending element
            float value = flat[at].ToSingle();
            long n = at / 3072, c = at / 1024 % 3, y = at / 32 % 32, x = at % 32;
            throw new InvalidDataException(
                $"{path}: image {n} (channel {c}, row {y}, column {x}) has value {value}, outside [0, 1]; released images are pixels in [0, 1].");
        }
        if (min < 0 || max > 1) images.clamp_(Scalars.Zero, Scalars.One);
    }

    private static void CheckLabelRange(Tensor labels, string path)
    {
        using var scope = torch.NewDisposeScope();
        long min = labels.min().ToInt64();
        long max = labels.max().ToInt64();
        if (min >= 0 && max < Classes) return;
        var outside = Scalars.With(Classes, classes => labels.lt(Scalars.Zero).logical_or(labels.ge(classes)));
        long at = outside.to(ScalarType.Byte).argmax().ToInt64(); // first offending label
        throw new InvalidDataException(
            $"{path}: label {at} is {labels[at].ToInt64()}; CIFAR-10 labels are 0..{Classes - 1}.");
    }
}
