using Leakage.Cli.Tests.Support;
using Leakage.Compute;
using Leakage.Data;

namespace Leakage.Cli.Tests;

/// <summary>
/// Bad input ends the CLI with exit code 1 and exactly one stderr line, starting with "error:",
/// that names what is wrong (the file, folder or setting) and what to do: never a stack trace.
/// </summary>
public class BadInputTests
{
    static async Task<string> ExpectOneErrorLine(IEnumerable<string> args)
    {
        using var cache = new TempDir();
        var outcome = await CliProcess.RunAsync(args, cache.Path, TimeSpan.FromMinutes(2));
        Assert.True(outcome.ExitCode == 1, outcome.ToString());
        var line = Assert.Single(outcome.ErrorLines);
        Assert.StartsWith("error: ", line);
        Assert.DoesNotContain("   at ", outcome.Stdout + outcome.Stderr); // no stack trace anywhere
        return line;
    }

    static string[] Experiment(string data, string outDir, params string[] more) =>
        ["experiment", "--data", data, "--out", outDir, "--threads", "1", .. more];

    [Fact]
    public async Task A_run_pointed_at_a_truncated_data_file_exits_non_zero_with_one_clear_line_naming_the_file()
    {
        using var dir = new TempDir();
        var bin = SyntheticData.WriteSparseBinary(dir["data"]);
        var bad = Path.Combine(bin, "data_batch_3.bin");
        using (var fs = new FileStream(bad, FileMode.Open)) fs.SetLength(CifarBinaryFormat.FileSize - 1234);

        var line = await ExpectOneErrorLine(Experiment(dir["data"], dir["run"]));

        Assert.Contains(bad, line);
        Assert.Contains("truncated", line);
        Assert.Contains(CifarBinaryFormat.FileSize.ToString("N0"), line); // the size it should have
    }

    [Fact]
    public async Task An_oversized_data_file_is_named()
    {
        using var dir = new TempDir();
        var bin = SyntheticData.WriteSparseBinary(dir["data"]);
        var bad = Path.Combine(bin, Cifar10.BinaryTestFile);
        using (var fs = new FileStream(bad, FileMode.Open)) fs.SetLength(CifarBinaryFormat.FileSize + 1);

        var line = await ExpectOneErrorLine(Experiment(dir["data"], dir["run"]));

        Assert.Contains(bad, line);
        Assert.Contains("too large", line);
    }

    [Fact]
    public async Task A_missing_data_folder_says_where_to_put_the_data_and_how_to_download_it_and_creates_no_run_folder()
    {
        using var dir = new TempDir();
        var line = await ExpectOneErrorLine(Experiment(dir["nowhere"], dir["run"]));
        Assert.Contains(dir["nowhere"], line);
        Assert.Contains("download --data", line);
        Assert.Contains("cifar-10-batches-bin", line);
        Assert.False(Directory.Exists(dir["run"]));
    }

    [Theory]
    [InlineData("runs_code.pt", "posix.system")]
    [InlineData("unknown_keys.pt", "layer5.0.conv1.weight")]
    public async Task A_hostile_or_malformed_checkpoint_is_named_in_one_line_and_creates_no_run_folder(string file, string what)
    {
        using var dir = new TempDir();
        SyntheticData.WriteMinimalImageFolder(dir["data"]);
        var checkpoint = ResultsSchema.RepoFile("tests", "Leakage.Tests", "Fixtures", "checkpoints", "bad", file);

        var line = await ExpectOneErrorLine(Experiment(dir["data"], dir["run"], "--set", $"standard.checkpoint={checkpoint}"));

        Assert.StartsWith($"error: {checkpoint}: ", line);
        Assert.Contains(what, line);
        Assert.False(Directory.Exists(dir["run"]));
    }

    [Fact]
    public async Task An_image_of_the_wrong_size_is_named()
    {
        using var dir = new TempDir();
        SyntheticData.WriteMinimalImageFolder(dir["data"]);
        var bad = Path.Combine(dir["data"], "train", "dog", "0000.png");
        WritePng(bad, 31, 32);
        var line = await ExpectOneErrorLine(Experiment(dir["data"], dir["run"]));
        Assert.Contains(bad, line);
        Assert.Contains("31 x 32, expected 32 x 32", line);
    }

    [Fact]
    public async Task An_unreadable_image_is_named()
    {
        using var dir = new TempDir();
        SyntheticData.WriteMinimalImageFolder(dir["data"]);
        var bad = Path.Combine(dir["data"], "test", "ship", "0000.png");
        File.WriteAllText(bad, "this is not an image");
        var line = await ExpectOneErrorLine(Experiment(dir["data"], dir["run"]));
        Assert.Contains(bad, line);
        Assert.Contains("not a readable image", line);
    }

    [Fact]
    public async Task A_missing_class_folder_is_named()
    {
        using var dir = new TempDir();
        SyntheticData.WriteMinimalImageFolder(dir["data"]);
        Directory.Delete(Path.Combine(dir["data"], "train", "cat"), recursive: true);
        var line = await ExpectOneErrorLine(Experiment(dir["data"], dir["run"]));
        Assert.Contains(Path.Combine(dir["data"], "train", "cat"), line);
        Assert.Contains("class folder missing", line);
    }

    [Theory]
    [InlineData("--profile", "huge", "Unknown profile 'huge'. Valid profiles: quick, cpu, cpu-small, paper.")]
    [InlineData("--set", "robust.units=meters", "Valid choices: pixel, normalised.")]
    [InlineData("--set", "standard.arch=vgg", "Valid choices: small-cnn, resnet18, airbench, resnet9.")]
    [InlineData("--set", "attack.stepz=3", "Unknown setting 'attack.stepz'. Valid settings here: attack.eps, attack.step, attack.steps")]
    [InlineData("--set", "attack.steps=many", "Setting 'attack.steps' = 'many' is not a number.")]
    [InlineData("--set", "robust.epochs=3", "Setting 'robust.epochs' = 3 must be at least 6")]
    [InlineData("--set", "standard.momentum=1", "Setting 'standard.momentum' = 1 must be below 1.")]
    [InlineData("--device", "tpu", "Valid choices: auto, cpu, cuda.")]
    public async Task An_unknown_profile_or_a_bad_setting_value_is_refused_with_the_valid_choices(string option, string value, string expected)
    {
        using var dir = new TempDir();
        SyntheticData.WriteMinimalImageFolder(dir["data"]);
        var line = await ExpectOneErrorLine(Experiment(dir["data"], dir["run"], option, value));
        Assert.Contains(expected, line);
        Assert.False(Directory.Exists(dir["run"]), "settings are checked before the run folder is made");
    }

    [Fact]
    public async Task A_bad_seed_list_is_refused_with_an_example()
    {
        using var dir = new TempDir();
        SyntheticData.WriteMinimalImageFolder(dir["data"]);
        var line = await ExpectOneErrorLine(["seeds", "--seeds", "0,one", "--data", dir["data"], "--out", dir["study"]]);
        Assert.Contains("'one' is not a non-negative whole number", line);
        Assert.Contains("--seeds 0,1,2", line);
    }

    [SkippableFact]
    public async Task Cuda_without_a_gpu_is_a_clear_error_naming_the_alternatives()
    {
        Leakage.Native.TorchNative.Ensure();
        Skip.If(Devices.CudaAvailable(), "this machine has a GPU");
        using var dir = new TempDir();
        SyntheticData.WriteMinimalImageFolder(dir["data"]);
        var line = await ExpectOneErrorLine(Experiment(dir["data"], dir["run"], "--device", "cuda"));
        Assert.Contains("Device 'cuda' was requested but CUDA is not available", line);
        Assert.Contains("--device cpu", line);
    }

    [Fact]
    public async Task A_run_pointed_at_bad_data_leaves_an_existing_run_folder_exactly_as_it_was()
    {
        using var dir = new TempDir();
        var run = dir["run"];
        TempDir.Copy(await TestRuns.Reference, run);
        var before = Snapshot(run);
        var bin = SyntheticData.WriteSparseBinary(dir["data"]);
        using (var fs = new FileStream(Path.Combine(bin, "data_batch_1.bin"), FileMode.Open)) fs.SetLength(100);

        var line = await ExpectOneErrorLine(TestRuns.Experiment(run).Select(a => a == TestRuns.Data ? dir["data"] : a));

        Assert.Contains(Path.Combine(bin, "data_batch_1.bin"), line);
        Assert.Equal(before, Snapshot(run));
    }

    static Dictionary<string, string> Snapshot(string root) =>
        Directory.GetFiles(root, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(root, f), f => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f))));

    static void WritePng(string path, int width, int height)
    {
        using var bmp = new SkiaSharp.SKBitmap(width, height);
        using var data = bmp.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100);
        File.WriteAllBytes(path, data.ToArray());
    }
}
