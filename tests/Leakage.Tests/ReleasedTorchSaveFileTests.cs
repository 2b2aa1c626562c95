using System.IO.Compression;
using Leakage.Released;
using TorchSharp;
using static Leakage.Tests.ReleasedFixtures;
using static TorchSharp.torch;

namespace Leakage.Tests;

/// <summary>The torch.save reader on files written by real PyTorch (1.13), in both formats.</summary>
public class ReleasedTorchSaveFileTests
{
    [Theory]
    [InlineData("legacy", "assorted.pt")]
    [InlineData("zip", "assorted.pt")]
    [InlineData("legacy", "assorted_big_endian.pt")]
    [InlineData("zip", "assorted_big_endian.pt")]
    public void Every_supported_dtype_loads_exactly_as_torch_saved_it(string format, string file)
    {
        using var scope = NewDisposeScope();
        var tensors = TorchSaveFile.ReadTensors(Fixture(format, "tensors", file));
        var expected = Expected.GetProperty("tensors").EnumerateArray().ToArray();

        Assert.Equal(expected.Length, tensors.Length);
        for (int i = 0; i < tensors.Length; i++)
        {
            var e = expected[i];
            var t = tensors[i];
            var what = $"{format}/{file} tensor {i} ({e.GetProperty("dtype").GetString()})";
            Assert.True(DType(e.GetProperty("dtype").GetString()!) == t.dtype, $"{what}: dtype {t.dtype}");
            Assert.Equal(e.GetProperty("shape").EnumerateArray().Select(v => v.GetInt64()), t.shape);
            var values = e.GetProperty("values").EnumerateArray().ToArray();
            if (t.dtype is ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Float32 or ScalarType.Float64)
                Assert.Equal(values.Select(v => v.GetDouble()), Doubles(t.to(ScalarType.Float64)));
            else
                Assert.Equal(values.Select(v => v.GetInt64()), Longs(t.to(ScalarType.Int64)));
        }
    }

    [Theory]
    [InlineData("legacy")]
    [InlineData("zip")]
    public void Views_keep_the_strides_and_offsets_they_were_saved_with(string format)
    {
        using var scope = NewDisposeScope();
        var chunks = TorchSaveFile.ReadTensors(Path.Combine(DatasetFolder(format, "strided"), ReleasedDatasets.ImagesFile));
        var set = Expected.GetProperty("datasets").GetProperty("strided");

        Assert.Equal(Shapes(set.GetProperty("image_chunks")), chunks.Select(c => c.shape));
        Assert.Equal(Shapes(set.GetProperty("image_strides")), chunks.Select(c => c.stride()));
        Assert.False(chunks[0].is_contiguous());
        AssertBitwiseEqual(ExpectedImages("strided"), Floats(cat(chunks, 0)), $"{format} strided images");
    }

    [Fact]
    public void A_transposed_tensor_reads_back_transposed()
    {
        using var scope = NewDisposeScope();
        foreach (var format in Formats)
        {
            var last = TorchSaveFile.ReadTensors(Fixture(format, "tensors", "assorted.pt"))[^1];
            // Saved as arange(12).reshape(3, 4).t(): element [i, j] is 4 j + i.
            Assert.Equal(new long[] { 4, 3 }, last.shape);
            Assert.Equal(new long[] { 1, 4 }, last.stride());
            Assert.Equal(4 * 2 + 1, last[1, 2].ToSingle());
        }
    }

    [Theory]
    [InlineData("legacy")]
    [InlineData("zip")]
    public void A_single_saved_tensor_reads_as_a_list_of_one(string format)
    {
        using var scope = NewDisposeScope();
        var tensors = TorchSaveFile.ReadTensors(Fixture(format, "tensors", "single.pt"));
        var expected = Expected.GetProperty("tensors")[1];

        var only = Assert.Single(tensors);
        Assert.Equal(ScalarType.Float64, only.dtype);
        Assert.Equal(expected.GetProperty("values").EnumerateArray().Select(v => v.GetDouble()), Doubles(only));
    }

    [Fact]
    public void The_format_is_recognised_from_the_first_bytes()
    {
        Assert.Equal(TorchSaveFormat.Legacy, TorchSaveFile.DetectFormat(Fixture("legacy", "tensors", "single.pt")));
        Assert.Equal(TorchSaveFormat.Zip, TorchSaveFile.DetectFormat(Fixture("zip", "tensors", "single.pt")));
    }

    [Theory]
    [InlineData("not a tensor file, just text\n")]
    [InlineData("")]
    [InlineData("\u0080\u0002K\u0007.")] // pickle.dumps(7, protocol=2): a pickle, but not torch's
    public void A_file_torch_save_did_not_write_is_rejected_naming_it(string content)
    {
        using var temp = new TempFolder();
        var path = Path.Combine(temp.Path, "CIFAR_ims");
        File.WriteAllText(path, content, System.Text.Encoding.Latin1);

        var e = Assert.Throws<InvalidDataException>(() => TorchSaveFile.ReadTensors(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("not a torch.save file", e.Message);
    }

    [Theory]
    [InlineData("pickled_date.pt", "datetime.date")]
    [InlineData("pickled_module.pt", "'module'")]
    public void Python_objects_other_than_tensors_are_refused_not_built(string file, string named)
    {
        var path = Fixture("invalid", file);
        var e = Assert.Throws<InvalidDataException>(() => TorchSaveFile.ReadTensors(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(named, e.Message);
    }

    [Fact]
    public void A_zip_archive_without_a_pickle_is_rejected_naming_it()
    {
        using var temp = new TempFolder();
        var path = Path.Combine(temp.Path, "weights.zip");
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Create))
            zip.CreateEntry("readme.txt");

        var e = Assert.Throws<InvalidDataException>(() => TorchSaveFile.ReadTensors(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("data.pkl", e.Message);
    }

    [Theory]
    [InlineData("legacy", 0.5)]
    [InlineData("legacy", 0.999)]
    [InlineData("legacy", 0.003)]
    [InlineData("zip", 0.5)]
    [InlineData("zip", 0.999)]
    [InlineData("zip", 0.003)]
    public void A_truncated_file_is_invalid_data_naming_it(string format, double keep)
    {
        using var temp = new TempFolder();
        var path = temp.Copy(Path.Combine(DatasetFolder(format, "contiguous"), ReleasedDatasets.ImagesFile), "cut");
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(int)(bytes.Length * keep)]);

        var e = Assert.Throws<InvalidDataException>(() => TorchSaveFile.ReadTensors(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Extra_bytes_after_the_last_legacy_storage_are_reported()
    {
        using var temp = new TempFolder();
        var path = temp.Copy(Fixture("legacy", "tensors", "single.pt"), "long");
        File.AppendAllText(path, "junk");

        var e = Assert.Throws<InvalidDataException>(() => TorchSaveFile.ReadTensors(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("4 unexpected bytes", e.Message);
    }

    [Fact]
    public void A_missing_file_is_reported_by_name()
    {
        var path = Path.Combine(Root, "no-such-file.pt");
        var e = Assert.Throws<FileNotFoundException>(() => TorchSaveFile.ReadTensors(path));
        Assert.Contains(path, e.Message);
    }
}
