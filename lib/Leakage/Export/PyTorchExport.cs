using System.Text.Json.Nodes;
using Leakage.Adversarial;
using Leakage.IO;
using Leakage.Models;
using Leakage.Native;
using Leakage.Released;
using Leakage.Robust;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Leakage.Export;

/// <summary>
/// A run's clean test set for <see cref="PyTorchExport.Write"/>: images (N x 3 x 32 x 32 in [0, 1]) and
/// true labels in the run's order, the identity of the run's data they come from
/// (<c>ExperimentRun.DataIdentity</c>) and the data folder as the user named it.
/// </summary>
public sealed record CleanTestSet(Tensor Images, Tensor Labels, string DataIdentity, string Source);

/// <summary>What <see cref="PyTorchExport.Write"/> wrote, relative to the export folder.</summary>
/// <param name="Directory">The export folder.</param>
/// <param name="Files">The files written, relative to it.</param>
/// <param name="Arch">The exported models' architecture (the standard model's).</param>
/// <param name="Width">Its width.</param>
/// <param name="Sets">The data sets written and their sizes: D_rand and D_det, and D_other when the run built it (the leakage controls).</param>
public sealed record ExportResult(string Directory, IReadOnlyList<string> Files, string Arch, int Width, IReadOnlyList<(AdversarialSet Set, long Count)> Sets);

/// <summary>
/// Exports a finished run's artifacts as files PyTorch reads with <c>torch.load</c>, so a PyTorch
/// user can train on our data sets and use our models with their own code:
/// <list type="bullet">
/// <item><c>standard_model.pt</c>: the standard model's state_dict (TorchSharp.PyBridge), for the
/// matching module in <c>tools/python/leakage_models.py</c>; inputs are pixels in [0, 1], the
/// normalisation is inside the model (its <c>normalize.mean</c>/<c>normalize.std</c> buffers).</item>
/// <item><c>robust_linear.pt</c>: C's state_dict, <c>weight</c> (10 x 3072) and <c>bias</c> (10), for
/// <c>torch.nn.Linear(3072, 10)</c> applied to <c>x.flatten(1)</c> with x in [0, 1] (no normalisation).</item>
/// <item><c>release_datasets/drand_CIFAR/</c> and <c>release_datasets/ddet_CIFAR/</c> (and <c>dother_CIFAR/</c>
/// when the run built D_other with the leakage controls; <see cref="AdversarialSet.ExportFolder"/>): <c>CIFAR_ims</c>
/// (float32 N x 3 x 32 x 32 in [0, 1]) and <c>CIFAR_lab</c> (int64 target labels, the labels to train
/// on), each a list of chunks as in Ilyas et al.'s release: <c>torch.cat(torch.load(path))</c>; the
/// images are grouped by class, in the order of the run's training set.</item>
/// <item><c>release_datasets/test_CIFAR/</c>, when the run's data is given: its clean test images with
/// their true labels, in the same layout, so a PyTorch user can evaluate without CIFAR-10 of their own.</item>
/// <item><c>metadata.json</c>: the settings that made each artifact (copied from the run's own
/// metadata) and the checksum of every exported file.</item>
/// </list>
/// Every source artifact is verified against its checksums before anything is written.
/// </summary>
public static class PyTorchExport
{
    /// <summary>Artifact kind of the export folder's metadata.json.</summary>
    public const string ArtifactKind = "pytorch-export";

    /// <summary>The standard model's state_dict.</summary>
    public const string StandardModelFile = "standard_model.pt";

    /// <summary>The robust linear classifier C's state_dict.</summary>
    public const string RobustLinearFile = "robust_linear.pt";

    /// <summary>Images per chunk of the exported data sets (a list of chunks, like the release).</summary>
    public const int ChunkSize = 10_000;

    /// <summary>The Python module holding the architectures that read <see cref="StandardModelFile"/>, relative to the repository.</summary>
    public const string PythonModule = "tools/python/leakage_models.py";

    /// <summary>The script that loads and checks an export with PyTorch alone, relative to the repository.</summary>
    public const string CheckScript = "tools/python/check_export.py";

    /// <summary>
    /// Loads the standard model of the run in <paramref name="runDirectory"/> (its <c>standard/</c>
    /// folder) on the CPU in eval mode, with the settings recorded in its metadata, after verifying
    /// its checksums.
    /// </summary>
    /// <exception cref="InvalidDataException">Missing or corrupt; the message names the folder and why.</exception>
    public static nn.Module<Tensor, Tensor> LoadStandardModel(string runDirectory)
    {
        var dir = Path.Combine(runDirectory, "standard");
        var stored = StandardSettings(runDirectory);
        var arch = (string?)stored["arch"] ?? throw new InvalidDataException($"{Path.Combine(dir, Artifacts.MetadataFile)}: no arch in its settings.");
        var width = (int?)stored["width"] ?? throw new InvalidDataException($"{Path.Combine(dir, Artifacts.MetadataFile)}: no width in its settings.");
        return ModelStore.Load(dir, arch, stored["settings"]?.DeepClone() ?? new JsonObject(), CPU, width);
    }

    /// <summary>
    /// Loads the robust linear classifier C of the run in <paramref name="runDirectory"/> (its
    /// <c>robust_linear/</c> folder) on the CPU, with the settings recorded in its metadata, after
    /// verifying its checksums.
    /// </summary>
    /// <exception cref="InvalidDataException">Missing or corrupt; the message names the folder and why.</exception>
    public static LinearClassifier LoadRobustLinear(string runDirectory)
    {
        var dir = Path.Combine(runDirectory, "robust_linear");
        return LinearClassifier.TryLoad(dir, StoredSettings(dir, "the robust linear classifier C"), out var reason)
            ?? throw new InvalidDataException($"{dir} cannot be read: {reason}.");
    }

    /// <summary>
    /// Writes the export of the run in <paramref name="runDirectory"/> into <paramref name="toDirectory"/>
    /// (created if needed; files of an earlier export are replaced). <paramref name="log"/> receives one
    /// line per file.
    /// </summary>
    /// <exception cref="InvalidDataException">The run lacks an artifact or one fails its checksums; the message names it.</exception>
    /// <param name="runDirectory">The run folder (the --out of a finished experiment).</param>
    /// <param name="toDirectory">Where the PyTorch files go.</param>
    /// <param name="log">Receives one line per file.</param>
    /// <param name="test">
    /// The run's clean test images with their true labels, written as <c>release_datasets/test_CIFAR/</c>;
    /// refused unless their <see cref="CleanTestSet.DataIdentity"/> is the one the standard model was trained with.
    /// </param>
    public static ExportResult Write(string runDirectory, string toDirectory, Action<string>? log = null, CleanTestSet? test = null)
    {
        TorchNative.Ensure();
        if (!Directory.Exists(runDirectory))
            throw new DirectoryNotFoundException($"{runDirectory}: run folder not found (give the --out folder of a finished experiment).");
        var standardSettings = StandardSettings(runDirectory);
        var linearSettings = StoredSettings(Path.Combine(runDirectory, "robust_linear"), "the robust linear classifier C");

        if (test is not null && (string?)standardSettings["settings"]?["data"] is { } identity && identity != test.DataIdentity)
            throw new InvalidDataException($"{test.Source}: not the data this run was made from (its training and test images differ from the ones " +
                                           $"{Path.Combine(runDirectory, "standard")} was trained on); give the run's --data folder.");
        // Load and verify everything first, so a bad run leaves no half-written export.
        using var model = LoadStandardModel(runDirectory);
        using var linear = LoadRobustLinear(runDirectory);
        // D_rand and D_det always; a control set (D_other) when the run has a finished one.
        var sets = new List<(AdversarialSet Set, AdversarialDataset Data)>();
        using var release = new DisposeAll(() => sets.ForEach(s => s.Data.Dispose()));
        foreach (var set in AdversarialSet.All.Where(s => !s.Control || File.Exists(Path.Combine(runDirectory, s.Folder, Artifacts.MetadataFile))))
            sets.Add((set, LoadDataset(runDirectory, set)));

        Directory.CreateDirectory(toDirectory);
        var meta = Path.Combine(toDirectory, Artifacts.MetadataFile);
        if (File.Exists(meta)) File.Delete(meta); // a crash mid-export leaves a folder that says it is incomplete
        var files = new List<string>();

        AtomicFile.Write(Path.Combine(toDirectory, StandardModelFile), s => model.save_py(s, leaveOpen: true));
        files.Add(StandardModelFile);
        log?.Invoke($"{StandardModelFile}: state_dict of the standard model ({(string?)standardSettings["arch"]}, width {(int?)standardSettings["width"]})");

        AtomicFile.Write(Path.Combine(toDirectory, RobustLinearFile), s => linear.save_py(s, leaveOpen: true));
        files.Add(RobustLinearFile);
        log?.Invoke($"{RobustLinearFile}: weight {linear.Classes} x {linear.Dimension} and bias of C");

        foreach (var (set, data) in sets)
        {
            var folder = Path.Combine(ReleasedDatasets.ReleaseFolder, set.ExportFolder);
            Directory.CreateDirectory(Path.Combine(toDirectory, folder));
            WriteChunked(Path.Combine(toDirectory, folder, ReleasedDatasets.ImagesFile), data.Images);
            WriteChunked(Path.Combine(toDirectory, folder, ReleasedDatasets.LabelsFile), data.Targets);
            files.Add(Path.Combine(folder, ReleasedDatasets.ImagesFile).Replace('\\', '/'));
            files.Add(Path.Combine(folder, ReleasedDatasets.LabelsFile).Replace('\\', '/'));
            log?.Invoke($"{folder}/: {data.Count:N0} images with their target labels");
        }

        if (test is not null)
        {
            var folder = Path.Combine(ReleasedDatasets.ReleaseFolder, TestFolder);
            Directory.CreateDirectory(Path.Combine(toDirectory, folder));
            WriteChunked(Path.Combine(toDirectory, folder, ReleasedDatasets.ImagesFile), test.Images);
            WriteChunked(Path.Combine(toDirectory, folder, ReleasedDatasets.LabelsFile), test.Labels);
            files.Add(Path.Combine(folder, ReleasedDatasets.ImagesFile).Replace('\\', '/'));
            files.Add(Path.Combine(folder, ReleasedDatasets.LabelsFile).Replace('\\', '/'));
            log?.Invoke($"{folder}/: {test.Images.shape[0]:N0} clean test images with their true labels");
        }

        var settings = new JsonObject
        {
            ["standardModel"] = standardSettings.DeepClone(),
            ["robustLinear"] = linearSettings.DeepClone(),
        };
        foreach (var (set, data) in sets) settings[set.ResultsKey] = data.Settings.DeepClone();
        if (test is not null) settings["test"] = new JsonObject { ["data"] = test.DataIdentity, ["images"] = test.Images.shape[0] };
        var extra = new JsonObject
        {
            ["pythonModule"] = PythonModule,
            [StandardModelFile] = $"state_dict of leakage_models.{PythonClass((string)standardSettings["arch"]!)}(width={(int)standardSettings["width"]!}); input N x 3 x 32 x 32 pixels in [0, 1], normalisation inside the model",
            [RobustLinearFile] = "state_dict of torch.nn.Linear(3072, 10), applied to x.flatten(1) with x in [0, 1] (no normalisation)",
            [ReleasedDatasets.ReleaseFolder] = "Ilyas et al.'s layout: CIFAR_ims float32 N x 3 x 32 x 32 in [0, 1], CIFAR_lab int64 target labels; torch.cat(torch.load(path)); " +
                                               $"images grouped by class in the run's order; {TestFolder}: the run's clean test images with their true labels",
            ["chunkSize"] = ChunkSize,
        };
        Artifacts.Commit(toDirectory, ArtifactKind, settings, files, extra);
        log?.Invoke($"{Artifacts.MetadataFile}: the settings that made each file, and checksums");
        return new ExportResult(toDirectory, files, (string)standardSettings["arch"]!, (int)standardSettings["width"]!, [.. sets.Select(s => (s.Set, s.Data.Count))]);
    }

    /// <summary>The folder of the clean test set under <see cref="ReleasedDatasets.ReleaseFolder"/>.</summary>
    public const string TestFolder = "test_CIFAR";

    /// <summary>The Python class in <see cref="PythonModule"/> for an architecture name.</summary>
    public static string PythonClass(string arch) => ModelFactory.Canonical(arch) switch
    {
        ModelFactory.SmallCnnArch => "SmallCnn",
        ModelFactory.AirbenchArch => "AirbenchNet",
        ModelFactory.ResNet9Arch => "ResNet9",
        _ => "ResNet18",
    };

    static AdversarialDataset LoadDataset(string runDirectory, AdversarialSet set)
    {
        var dir = Path.Combine(runDirectory, set.Folder);
        if (!File.Exists(Path.Combine(dir, Artifacts.MetadataFile)))
            throw new InvalidDataException($"{dir}: no finished {set.Name} data set here (no {Artifacts.MetadataFile}); finish the run first.");
        return AdversarialDataset.Load(dir);
    }

    /// <summary>Runs <paramref name="dispose"/> once, at the end of a <c>using</c> (the data sets loaded so far, also when a later one fails to load).</summary>
    sealed class DisposeAll(Action dispose) : IDisposable
    {
        public void Dispose() => dispose();
    }

    static void WriteChunked(string path, Tensor t)
    {
        var chunks = new List<Tensor>();
        try
        {
            for (long start = 0; start < t.shape[0]; start += ChunkSize)
                chunks.Add(t.narrow(0, start, Math.Min(ChunkSize, t.shape[0] - start)));
            TorchListFile.Write(path, chunks);
        }
        finally
        {
            foreach (var c in chunks) c.Dispose();
        }
    }

    /// <summary>The settings of the run's trained standard model; a model read from a checkpoint (<c>standard.checkpoint</c>) has nothing to export.</summary>
    static JsonObject StandardSettings(string runDirectory)
    {
        var dir = Path.Combine(runDirectory, "standard");
        var stored = StoredSettings(dir, "the standard model");
        var meta = Path.Combine(dir, Artifacts.MetadataFile);
        if ((string?)JsonFile.ReadObject(meta)["kind"] == Experiment.StandardStep.ImportedKind)
            throw new InvalidDataException($"{meta}: the standard model of this run was read from a PyTorch checkpoint "
                + $"({(string?)JsonFile.ReadObject(meta)["extra"]?["path"]}, sha256 {(string?)stored["checkpoint"]?["sha256"]}); use that file itself rather than an export of it.");
        return stored;
    }

    /// <summary>The "settings" block of an artifact's metadata.json.</summary>
    static JsonObject StoredSettings(string dir, string what)
    {
        var path = Path.Combine(dir, Artifacts.MetadataFile);
        if (!File.Exists(path)) throw new InvalidDataException($"{dir}: {what} is not finished here (no {Artifacts.MetadataFile}); finish the run first.");
        return JsonFile.StoredSettings(path);
    }
}
