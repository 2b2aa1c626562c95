using System.Diagnostics;
using System.Text.Json.Nodes;
using Leakage.Adversarial;
using Leakage.Benchmarks;
using Leakage.Cli.Tests.Support;
using Leakage.Export;
using Leakage.Released;
using static TorchSharp.torch;

namespace Leakage.Cli.Tests;

/// <summary><c>export</c>: a finished run as files PyTorch reads, checked with Debian's python3-torch where it is installed.</summary>
public class ExportTests
{
    static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Leakage.Notebooks.sln"))) return d.FullName;
        throw new DirectoryNotFoundException("repository root (Leakage.Notebooks.sln) not found above the test folder");
    }

    static async Task<string> Export(TempDir dir)
    {
        var run = await TestRuns.Reference;
        var outcome = await CliProcess.RunAsync(["export", "--out", run, "--to", dir["export"], "--data", TestRuns.Data], TestRuns.Cache);
        Assert.True(outcome.ExitCode == 0, outcome.ToString());
        return dir["export"];
    }

    [Fact]
    public async Task The_clean_test_set_is_exported_with_its_true_labels_in_the_runs_order()
    {
        using var dir = new TempDir();
        var export = await Export(dir);
        var results = Results.Read(await TestRuns.Reference);
        var images = TorchSaveFile.ReadTensors(Path.Combine(export, "release_datasets", PyTorchExport.TestFolder, ReleasedDatasets.ImagesFile));
        var labels = TorchSaveFile.ReadTensors(Path.Combine(export, "release_datasets", PyTorchExport.TestFolder, ReleasedDatasets.LabelsFile));
        try
        {
            using var x = cat(images, 0);
            using var y = cat(labels, 0);
            Assert.Equal((long)results["data"]!["test"]!, y.shape[0]);
            Assert.Equal(new long[] { y.shape[0], 3, 32, 32 }, x.shape);
            Assert.Equal(ScalarType.Float32, x.dtype);
            Assert.Equal(ScalarType.Int64, y.dtype);
            // The run's test split exactly: the standard model scores on it what results.json records.
            using var model = PyTorchExport.LoadStandardModel(await TestRuns.Reference);
            using var logits = Logits(model, x);
            var accuracy = logits.argmax(1).eq(y).to(ScalarType.Float64).mean().item<double>();
            Assert.Equal((double)results["standardModel"]!["testAccuracy"]!, accuracy, 10);
        }
        finally
        {
            foreach (var t in images.Concat(labels)) t.Dispose();
        }
    }

    [Fact]
    public async Task Export_with_data_the_run_was_not_made_from_fails_in_one_line_and_writes_nothing()
    {
        using var dir = new TempDir();
        var run = await TestRuns.Reference;
        SyntheticData.WriteImageFolder(dir["other-data"], trainPerClass: 7, testPerClass: 3);
        var outcome = await CliProcess.RunAsync(["export", "--out", run, "--to", dir["export"], "--data", dir["other-data"]], TestRuns.Cache);
        Assert.Equal(1, outcome.ExitCode);
        var line = Assert.Single(outcome.ErrorLines);
        Assert.Contains(dir["other-data"], line);
        Assert.Contains("not the data this run was made from", line);
        Assert.False(Directory.Exists(dir["export"]) && Directory.EnumerateFileSystemEntries(dir["export"]).Any(), "nothing is written");
    }

    [Fact]
    public async Task Our_released_reader_reads_the_exported_data_sets_back_bit_for_bit_with_the_target_labels()
    {
        using var dir = new TempDir();
        var export = await Export(dir);
        var run = await TestRuns.Reference;

        foreach (var (kind, folder) in new[] { (ReleasedDatasetKind.DRand, "d_rand"), (ReleasedDatasetKind.DDet, "d_det") })
        {
            using var original = AdversarialDataset.Load(Path.Combine(run, folder));
            using var read = ReleasedDatasets.Load(export, kind);
            Assert.Equal(original.Count, read.Count);
            Assert.True(read.Images.equal(original.Images).all().item<bool>(), $"{kind}: images differ after the round trip");
            Assert.True(read.Labels.equal(original.Targets).all().item<bool>(), $"{kind}: labels are not the target labels");
        }
        var meta = JsonNode.Parse(File.ReadAllText(Path.Combine(export, "metadata.json")))!;
        Assert.Equal(PyTorchExport.ArtifactKind, (string?)meta["kind"]);
        foreach (var key in new[] { "standardModel", "robustLinear", "drand", "ddet", "test" })
            Assert.True(meta["settings"]![key] is JsonObject { Count: > 0 }, $"metadata.json lacks the settings of {key}");
        Assert.Equal(8, meta["files"]!.AsObject().Count);
    }

    [Fact]
    public async Task A_run_with_a_finished_D_other_exports_it_beside_D_rand_and_D_det_bit_for_bit()
    {
        using var dir = new TempDir();
        var reference = await TestRuns.Reference;
        // A copy of the reference run with a finished control set in d_other/ (D_rand's files stand in for it:
        // the export reads whatever finished set the folder holds).
        var run = dir["run"];
        foreach (var file in Directory.EnumerateFiles(reference, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(run, Path.GetRelativePath(reference, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        foreach (var file in Directory.EnumerateFiles(Path.Combine(run, AdversarialSet.DRand.Folder), "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(run, AdversarialSet.DOther.Folder, Path.GetRelativePath(Path.Combine(run, AdversarialSet.DRand.Folder), file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        var outcome = await CliProcess.RunAsync(["export", "--out", run, "--to", dir["export"]], TestRuns.Cache);
        Assert.True(outcome.ExitCode == 0, outcome.ToString());

        using var original = AdversarialDataset.Load(Path.Combine(run, AdversarialSet.DOther.Folder));
        var folder = Path.Combine(dir["export"], ReleasedDatasets.ReleaseFolder, AdversarialSet.DOther.ExportFolder);
        var images = TorchSaveFile.ReadTensors(Path.Combine(folder, ReleasedDatasets.ImagesFile));
        var labels = TorchSaveFile.ReadTensors(Path.Combine(folder, ReleasedDatasets.LabelsFile));
        try
        {
            using var x = cat(images, 0);
            using var y = cat(labels, 0);
            Assert.True(x.equal(original.Images).all().item<bool>(), "D_other's images differ after the export");
            Assert.True(y.equal(original.Targets).all().item<bool>(), "D_other's labels are not its target labels");
        }
        finally
        {
            foreach (var t in images.Concat(labels)) t.Dispose();
        }
        var meta = JsonNode.Parse(File.ReadAllText(Path.Combine(dir["export"], "metadata.json")))!;
        Assert.True(meta["settings"]![AdversarialSet.DOther.ResultsKey] is JsonObject { Count: > 0 }, "metadata.json lacks D_other's settings");
        var files = meta["files"]!.AsObject().Select(f => f.Key).ToList();
        foreach (var set in AdversarialSet.All)
            foreach (var file in new[] { ReleasedDatasets.ImagesFile, ReleasedDatasets.LabelsFile })
                Assert.Contains($"{ReleasedDatasets.ReleaseFolder}/{set.ExportFolder}/{file}", files);
        Assert.Contains(AdversarialSet.DOther.ExportFolder, outcome.Stdout);
    }

    [Fact]
    public void The_exported_folders_of_the_paper_sets_are_the_ones_Ilyas_et_al_s_release_uses()
    {
        foreach (var (set, kind) in new[] { (AdversarialSet.DRand, ReleasedDatasetKind.DRand), (AdversarialSet.DDet, ReleasedDatasetKind.DDet) })
            Assert.Equal(ReleasedDatasets.FolderName(kind), set.ExportFolder);
    }

    [Fact]
    public async Task Export_of_a_folder_that_is_not_a_finished_run_fails_with_one_line_naming_what_is_missing()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["empty-run"]);
        var outcome = await CliProcess.RunAsync(["export", "--out", dir["empty-run"], "--to", dir["export"]], TestRuns.Cache);
        Assert.Equal(1, outcome.ExitCode);
        Assert.Single(outcome.ErrorLines);
        Assert.Contains("standard", outcome.ErrorLines[0]);
        Assert.False(File.Exists(Path.Combine(dir["export"], "metadata.json")));
    }

    [SkippableFact]
    public async Task PyTorch_loads_every_exported_file_and_the_python_model_gives_TorchSharps_logits_within_1e_4()
    {
        var python = PyTorchReference.FindPython(null, out var tried);
        Skip.If(python is null, $"No Python with torch (apt-get install python3-torch); tried: {string.Join("; ", tried)}");
        using var dir = new TempDir();
        var export = await Export(dir);
        var run = await TestRuns.Reference;

        // 100 images: the first 100 of D_rand (float pixels in [0, 1], not on the 8-bit grid).
        using var drand = AdversarialDataset.Load(Path.Combine(run, "d_rand"));
        using var images = drand.Images.narrow(0, 0, 100).contiguous();
        using var model = PyTorchExport.LoadStandardModel(run);
        using var expected = Logits(model, images);
        TorchListFile.Write(dir["images.pt"], [images]);

        var script = Path.Combine(RepoRoot(), "tools", "python", "check_export.py");
        var (exit, stdout, stderr) = await RunAsync(python!, [script, export, "--images", dir["images.pt"], "--logits", dir["logits.pt"]]);
        Assert.True(exit == 0, $"check_export.py failed (exit {exit}):\n{stdout}\n{stderr}");
        foreach (var name in new[] { "standard_model.pt", "robust_linear.pt", "release_datasets/drand_CIFAR/CIFAR_ims", "release_datasets/ddet_CIFAR/CIFAR_lab",
                     "release_datasets/test_CIFAR/CIFAR_ims", "release_datasets/test_CIFAR/CIFAR_lab" })
            Assert.Contains($"torch.load {name}: ok", stdout);

        // PyTorch, on the exported model and data sets, finds the attack success that TorchSharp recorded.
        var results = Results.Read(run);
        foreach (var (folder, key) in new[] { ("drand_CIFAR", "drand"), ("ddet_CIFAR", "ddet") })
        {
            var m = System.Text.RegularExpressions.Regex.Match(stdout, folder + @": (\d+) images; the standard model predicts the target label on ([0-9.]+)%");
            Assert.True(m.Success, $"check_export.py printed no line for {folder}:\n{stdout}");
            var recorded = (double)results["adversarial"]![key]!["attackSuccess"]!;
            Assert.Equal(recorded, double.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture) / 100, 4);
        }

        // And on the exported clean test set, the test accuracy that TorchSharp recorded.
        var test = System.Text.RegularExpressions.Regex.Match(stdout, @"test_CIFAR: (\d+) clean test images; accuracy of the standard model ([0-9.]+)%");
        Assert.True(test.Success, $"check_export.py printed no line for test_CIFAR:\n{stdout}");
        Assert.Equal((double)results["standardModel"]!["testAccuracy"]!, double.Parse(test.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture) / 100, 4);

        var actual = TorchSaveFile.ReadTensors(dir["logits.pt"]);
        try
        {
            Assert.Single(actual);
            Assert.Equal(expected.shape, actual[0].shape);
            var diff = (actual[0] - expected).abs().max().item<float>();
            Assert.True(diff < 1e-4, $"PyTorch and TorchSharp logits differ by up to {diff}");
        }
        finally
        {
            foreach (var t in actual) t.Dispose();
        }
    }

    static Tensor Logits(nn.Module<Tensor, Tensor> model, Tensor images)
    {
        using var _ = no_grad();
        model.eval();
        return model.forward(images);
    }

    static async Task<(int Exit, string Stdout, string Stderr)> RunAsync(string file, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(5));
        return (p.ExitCode, await stdout, await stderr);
    }
}
