using System.Diagnostics;
using System.Text.Json;
using Leakage.Released;
using TorchSharp;
using static Leakage.Tests.ReleasedFixtures;
using static TorchSharp.torch;

namespace Leakage.Tests;

/// <summary>
/// Loading Ilyas et al.'s released data sets (look-alikes written by real PyTorch in the legacy and
/// the zip format) and rejecting damaged or wrong ones with messages that name the file.
/// </summary>
public class ReleasedDatasetsTests
{
    [Theory]
    [InlineData("legacy", "contiguous")]
    [InlineData("zip", "contiguous")]
    [InlineData("legacy", "strided")]
    [InlineData("zip", "strided")]
    public void Both_formats_load_to_exactly_the_values_torch_saved(string format, string set)
    {
        using var data = ReleasedDatasets.Load(DatasetFolder(format, set));
        var expectedShape = Expected.GetProperty("datasets").GetProperty(set).GetProperty("images_shape")
            .EnumerateArray().Select(v => v.GetInt64()).ToArray();

        Assert.Equal(expectedShape, data.Images.shape);
        Assert.Equal(ScalarType.Float32, data.Images.dtype);
        Assert.Equal(ScalarType.Int64, data.Labels.dtype);
        Assert.True(data.Images.is_contiguous());
        Assert.Equal(expectedShape[0], data.Count);
        AssertBitwiseEqual(ExpectedImages(set), Floats(data.Images), $"{format} {set} images");
        Assert.Equal(ExpectedLabels(set), Longs(data.Labels));
        Assert.Equal(format == "zip" ? TorchSaveFormat.Zip : TorchSaveFormat.Legacy, data.Format);
    }

    [Theory]
    [InlineData("legacy")]
    [InlineData("zip")]
    public void Chunks_are_concatenated_in_the_order_they_were_saved(string format)
    {
        var folder = DatasetFolder(format, "contiguous");
        using var data = ReleasedDatasets.Load(folder);
        using var scope = NewDisposeScope();
        var chunks = TorchSaveFile.ReadTensors(Path.Combine(folder, ReleasedDatasets.ImagesFile));

        // The fixture's chunks have distinct sizes, so any reordering shows.
        Assert.Equal(new long[] { 4, 2, 1 }, data.ChunkSizes);
        long start = 0;
        foreach (var chunk in chunks)
        {
            Assert.True(data.Images.narrow(0, start, chunk.shape[0]).eq(chunk).all().ToBoolean());
            start += chunk.shape[0];
        }
        // The corners the generator pinned: first pixel of the first image, last of the last.
        Assert.Equal(0f, data.Images[0, 0, 0, 0].ToSingle());
        Assert.Equal(1f, data.Images[6, 2, 31, 31].ToSingle());
        Assert.Equal(new long[] { 0, 9 }, new[] { data.Labels[0].ToInt64(), data.Labels[6].ToInt64() });
    }

    [Fact]
    public void The_data_set_knows_which_release_folder_it_came_from()
    {
        using var data = ReleasedDatasets.Load(DatasetFolder("legacy", "contiguous"));
        Assert.Equal("drand_CIFAR", data.Name);
        Assert.Equal(ReleasedDatasetKind.DRand, data.Kind);
        Assert.Contains("7 images", data.ToString());
    }

    [Theory]
    [InlineData("legacy", 0.5)]
    [InlineData("zip", 0.5)]
    [InlineData("legacy", 0.9999)]
    [InlineData("zip", 0.9999)]
    public void A_truncated_images_file_is_invalid_data_naming_it(string format, double keep)
    {
        using var temp = new TempFolder();
        var source = DatasetFolder(format, "contiguous");
        var images = temp.Copy(Path.Combine(source, ReleasedDatasets.ImagesFile), "drand_CIFAR");
        temp.Copy(Path.Combine(source, ReleasedDatasets.LabelsFile), "drand_CIFAR");
        var bytes = File.ReadAllBytes(images);
        File.WriteAllBytes(images, bytes[..(int)(bytes.Length * keep)]);

        var e = Assert.Throws<InvalidDataException>(() => ReleasedDatasets.Load(Path.GetDirectoryName(images)!));
        Assert.Contains(images, e.Message);
    }

    [Fact]
    public void Labels_out_of_range_are_reported_with_the_file_and_index()
    {
        using var temp = new TempFolder();
        temp.Copy(Path.Combine(DatasetFolder("legacy", "contiguous"), ReleasedDatasets.ImagesFile), "bad");
        var labels = temp.Copy(Fixture("invalid", "labels_out_of_range", ReleasedDatasets.LabelsFile), "bad");

        var e = Assert.Throws<InvalidDataException>(() => ReleasedDatasets.Load(Path.Combine(temp.Path, "bad")));
        Assert.Contains(labels, e.Message);
        Assert.Contains("label 5 is 10", e.Message);
    }

    [Fact]
    public void Labels_of_the_wrong_dtype_are_rejected()
    {
        using var temp = new TempFolder();
        temp.Copy(Path.Combine(DatasetFolder("legacy", "contiguous"), ReleasedDatasets.ImagesFile), "bad");
        var labels = temp.Copy(Fixture("invalid", "labels_int32", ReleasedDatasets.LabelsFile), "bad");

        var e = Assert.Throws<InvalidDataException>(() => ReleasedDatasets.Load(Path.Combine(temp.Path, "bad")));
        Assert.Contains(labels, e.Message);
        Assert.Contains("Int32", e.Message);
        Assert.Contains("int64", e.Message);
    }

    [Fact]
    public void Pixels_outside_the_unit_range_are_reported_with_their_position()
    {
        var folder = Fixture("invalid", "images_out_of_range");
        var e = Assert.Throws<InvalidDataException>(() => ReleasedDatasets.Load(folder));
        Assert.Contains(Path.Combine(folder, ReleasedDatasets.ImagesFile), e.Message);
        Assert.Contains("image 1 (channel 1, row 2, column 3) has value 1.5", e.Message);
    }

    [Fact]
    public void Pixels_a_hair_outside_the_unit_range_are_clamped_into_it()
    {
        using var data = ReleasedDatasets.Load(Fixture("edge", "within_epsilon"));
        Assert.Equal(0f, data.Images[0, 0, 0, 0].ToSingle());
        Assert.Equal(1f, data.Images[0, 2, 31, 31].ToSingle());
        Assert.True(data.Images.min().ToSingle() >= 0f && data.Images.max().ToSingle() <= 1f);
    }

    [Fact]
    public void Images_in_height_width_channel_layout_are_rejected_with_a_hint()
    {
        var folder = Fixture("invalid", "images_hwc");
        var e = Assert.Throws<InvalidDataException>(() => ReleasedDatasets.Load(folder));
        Assert.Contains(Path.Combine(folder, ReleasedDatasets.ImagesFile), e.Message);
        Assert.Contains("[1, 32, 32, 3]", e.Message);
        Assert.Contains("N x H x W x C", e.Message);
    }

    [Fact]
    public void Image_and_label_counts_must_match()
    {
        using var temp = new TempFolder();
        temp.Copy(Path.Combine(DatasetFolder("zip", "contiguous"), ReleasedDatasets.ImagesFile), "mixed");
        temp.Copy(Path.Combine(DatasetFolder("zip", "strided"), ReleasedDatasets.LabelsFile), "mixed");

        var e = Assert.Throws<InvalidDataException>(() => ReleasedDatasets.Load(Path.Combine(temp.Path, "mixed")));
        Assert.Contains("7 images but CIFAR_lab holds 3 labels", e.Message);
    }

    [Fact]
    public void A_folder_without_its_labels_file_is_a_clear_error()
    {
        using var temp = new TempFolder();
        temp.Copy(Path.Combine(DatasetFolder("legacy", "contiguous"), ReleasedDatasets.ImagesFile), "drand_CIFAR");
        var folder = Path.Combine(temp.Path, "drand_CIFAR");

        var e = Assert.Throws<FileNotFoundException>(() => ReleasedDatasets.Load(folder));
        Assert.Contains(folder, e.Message);
        Assert.Contains("CIFAR_lab missing", e.Message);
        Assert.Equal(Path.Combine(folder, ReleasedDatasets.LabelsFile), e.FileName);
    }

    [Fact]
    public void Loading_the_extraction_folder_itself_points_to_the_data_sets_inside()
    {
        var root = Path.Combine(Root, "legacy");
        var e = Assert.Throws<FileNotFoundException>(() => ReleasedDatasets.Load(root));
        Assert.Contains(root, e.Message);
        Assert.Contains("drand_CIFAR, ddet_CIFAR", e.Message);
    }

    [Fact]
    public void A_missing_folder_is_a_clear_error()
    {
        var folder = Path.Combine(Root, "no_such_CIFAR");
        var e = Assert.Throws<DirectoryNotFoundException>(() => ReleasedDatasets.Load(folder));
        Assert.Contains(folder, e.Message);
    }

    [Theory]
    [InlineData("legacy")]
    [InlineData("legacy/release_datasets")]
    public void Discover_finds_the_data_sets_under_the_extraction_folder_or_release_datasets(string root)
    {
        var found = ReleasedDatasets.Discover(Path.Combine(Root, root));

        Assert.Equal(new[] { ReleasedDatasetKind.DRand, ReleasedDatasetKind.DDet }, found.Select(f => f.Kind));
        Assert.All(found, f => Assert.Equal(Path.Combine(Root, "legacy", "release_datasets", f.Name), f.Path));
    }

    [Fact]
    public void Discover_accepts_a_single_data_set_folder_and_returns_nothing_for_an_empty_one()
    {
        var one = ReleasedDatasets.Discover(DatasetFolder("zip", "strided"));
        Assert.Equal(ReleasedDatasetKind.DDet, Assert.Single(one).Kind);

        using var temp = new TempFolder();
        Assert.Empty(ReleasedDatasets.Discover(temp.Path));
    }

    [Fact]
    public void Loading_by_kind_finds_the_folder_and_explains_where_it_looked_when_absent()
    {
        using (var data = ReleasedDatasets.Load(Path.Combine(Root, "zip"), ReleasedDatasetKind.DDet))
            Assert.Equal(3, data.Count);

        using var temp = new TempFolder();
        File.WriteAllText(Path.Combine(temp.Path, "datasets.tar"), "");
        var e = Assert.Throws<DirectoryNotFoundException>(() => ReleasedDatasets.Load(temp.Path, ReleasedDatasetKind.NonRobust));
        Assert.Contains("d_non_robust_CIFAR", e.Message);
        Assert.Contains("tar -xf datasets.tar", e.Message);
    }

    /// <summary>
    /// Runs the fixture generator when a Python with torch is at hand and checks that the files it
    /// writes load to the committed expected values: the script is reproducible and the reader agrees
    /// with the PyTorch that is installed, whatever its version.
    /// </summary>
    [SkippableFact]
    public void Regenerated_fixtures_load_to_the_committed_values()
    {
        var script = FindGenerator();
        Skip.If(script is null, "tests/fixtures-src/make_released_fixtures.py not found above the test folder");
        var python = Leakage.Benchmarks.PyTorchReference.FindPython(null, out var tried);
        Skip.If(python is null, $"No Python with torch (apt-get install python3-torch); tried: {string.Join("; ", tried)}");

        using var temp = new TempFolder();
        var (code, output) = Run(python!, $"\"{script}\" --out \"{temp.Path}\"", TimeSpan.FromMinutes(2));
        Assert.True(code == 0, $"generator failed ({code}): {output}");

        using var fresh = JsonDocument.Parse(File.ReadAllText(Path.Combine(temp.Path, "expected.json")));
        foreach (var set in new[] { "contiguous", "strided" })
        {
            AssertBitwiseEqual(ExpectedImages(set), ExpectedImages(set, fresh.RootElement), $"regenerated expected.json, {set}");
            foreach (var format in Formats)
            {
                using var data = ReleasedDatasets.Load(DatasetFolder(format, set, temp.Path));
                AssertBitwiseEqual(ExpectedImages(set), Floats(data.Images), $"regenerated {format} {set}");
                Assert.Equal(ExpectedLabels(set), Longs(data.Labels));
            }
        }
    }

    private static string? FindGenerator()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "fixtures-src", "make_released_fixtures.py");
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    private static (int Code, string Output) Run(string exe, string args, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(exe, args) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            return (-1, $"timed out after {timeout}");
        }
        return (p.ExitCode, stdout.Result + stderr.Result);
    }
}
