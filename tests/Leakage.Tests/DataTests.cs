using System.Formats.Tar;
using System.IO.Compression;
using System.Net;
using System.Security.Cryptography;
using Leakage.Data;
using Leakage.Tests.Support;
using static TorchSharp.torch;

namespace Leakage.Tests;

public class DataTests
{
    const int PerFile = 7;

    static byte[] PixelsOf(CifarSplit s)
    {
        using var b = s.Images.mul(255f).round().to_type(ScalarType.Byte);
        return b.data<byte>().ToArray();
    }

    [Fact]
    public void Binary_batches_load_into_unit_range_float_tensors_with_their_labels()
    {
        using var dir = new TempDir();
        SyntheticCifar.WriteBinary(dir[Cifar10.BinaryFolderName], PerFile, out var train, out var test);
        using var data = CifarLoader.Load(dir.Path, new CifarLoadOptions { BinaryRecordsPerFile = PerFile });

        Assert.Equal(DataFormat.Binary, data.Format);
        Assert.Equal(new long[] { 5 * PerFile, 3, 32, 32 }, data.Train.Images.shape);
        Assert.Equal(new long[] { PerFile, 3, 32, 32 }, data.Test.Images.shape);
        Assert.Equal(ScalarType.Float32, data.Train.Images.dtype);
        Assert.True(data.Train.Images.min().item<float>() >= 0f && data.Train.Images.max().item<float>() <= 1f);
        Assert.Equal(train.Pixels, PixelsOf(data.Train));
        Assert.Equal(train.Labels, data.Train.Labels.data<long>().ToArray());
        Assert.Equal(test.Pixels, PixelsOf(data.Test));
        Assert.Equal(test.Labels, data.Test.Labels.data<long>().ToArray());
    }

    [Fact]
    public void Binary_batch_files_are_found_directly_in_the_data_folder_too()
    {
        using var dir = new TempDir();
        SyntheticCifar.WriteBinary(dir.Path, PerFile, out _, out _);
        using var data = CifarLoader.Load(dir.Path, new CifarLoadOptions { BinaryRecordsPerFile = PerFile });
        Assert.Equal(5 * PerFile, data.Train.Count);
    }

    [Fact]
    public void Binary_pixels_are_read_as_red_green_blue_planes()
    {
        using var dir = new TempDir();
        var px = new byte[Cifar10.ImageSize];
        for (int i = 0; i < 1024; i++) { px[i] = 255; px[1024 + i] = 0; px[2048 + i] = 51; }
        foreach (var f in Cifar10.BinaryTrainFiles.Append(Cifar10.BinaryTestFile))
            CifarBinaryFormat.WriteFile(Path.Combine(dir.Path, f), px, [3]);
        using var data = CifarLoader.Load(dir.Path, new CifarLoadOptions { BinaryRecordsPerFile = 1 });
        var img = data.Test.Images[0];
        Assert.Equal(1f, img[0].mean().item<float>(), 6);
        Assert.Equal(0f, img[1].mean().item<float>(), 6);
        Assert.Equal(0.2f, img[2].mean().item<float>(), 6);
        Assert.Equal(3, data.Test.Labels[0].item<long>());
    }

    [Theory]
    [InlineData(-1, "truncated")]
    [InlineData(+1, "too large")]
    public void A_binary_batch_of_the_wrong_size_is_refused_naming_the_file_and_expected_size(int delta, string word)
    {
        using var dir = new TempDir();
        SyntheticCifar.WriteBinary(dir.Path, PerFile, out _, out _);
        var bad = Path.Combine(dir.Path, "data_batch_3.bin");
        var bytes = File.ReadAllBytes(bad);
        File.WriteAllBytes(bad, delta < 0 ? bytes[..^100] : [.. bytes, .. new byte[10]]);

        var e = Assert.Throws<InvalidDataException>(() => CifarLoader.Load(dir.Path, new CifarLoadOptions { BinaryRecordsPerFile = PerFile }));
        Assert.Contains(bad, e.Message);
        Assert.Contains(word, e.Message);
        Assert.Contains($"expected {PerFile * CifarBinaryFormat.RecordSize:N0}", e.Message);
    }

    [Fact]
    public void The_official_batch_size_is_thirty_million_seven_hundred_thirty_thousand_bytes()
    {
        using var dir = new TempDir();
        var path = dir["data_batch_1.bin"];
        File.WriteAllBytes(path, new byte[1000]);
        var e = Assert.Throws<InvalidDataException>(() => CifarBinaryFormat.ReadFile(path, new byte[10_000 * 3072], new long[10_000]));
        Assert.Contains("expected 30,730,000", e.Message);
    }

    [Fact]
    public void A_label_outside_zero_to_nine_is_an_error_naming_the_file_and_record()
    {
        using var dir = new TempDir();
        SyntheticCifar.WriteBinary(dir.Path, PerFile, out _, out _);
        var bad = Path.Combine(dir.Path, Cifar10.BinaryTestFile);
        var bytes = File.ReadAllBytes(bad);
        bytes[4 * CifarBinaryFormat.RecordSize] = 12;
        File.WriteAllBytes(bad, bytes);
        var e = Assert.Throws<InvalidDataException>(() => CifarLoader.Load(dir.Path, new CifarLoadOptions { BinaryRecordsPerFile = PerFile }));
        Assert.Contains(bad, e.Message);
        Assert.Contains("record 4", e.Message);
        Assert.Contains("label 12", e.Message);
    }

    [Fact]
    public void A_missing_batch_file_is_named()
    {
        using var dir = new TempDir();
        SyntheticCifar.WriteBinary(dir.Path, PerFile, out _, out _);
        File.Delete(Path.Combine(dir.Path, "data_batch_5.bin"));
        var e = Assert.Throws<FileNotFoundException>(() => CifarLoader.Load(dir.Path, new CifarLoadOptions { BinaryRecordsPerFile = PerFile }));
        Assert.Contains("data_batch_5.bin", e.Message);
    }

    [Fact]
    public void A_missing_data_folder_says_where_to_put_the_data_and_how_to_download_it()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<DirectoryNotFoundException>(() => CifarLoader.Load(dir["nope"]));
        Assert.Contains(dir["nope"], e.Message);
        Assert.Contains("download", e.Message);
        Assert.Contains(Cifar10.BinaryFolderName, e.Message);
        var e2 = Assert.Throws<DirectoryNotFoundException>(() => CifarLoader.Load(dir.Path));
        Assert.Contains("neither", e2.Message);
    }

    [Fact]
    public void Image_folders_load_in_class_order_with_exact_pixels()
    {
        using var dir = new TempDir();
        var (train, test) = SyntheticCifar.WriteImageFolder(dir["imgs"], perClass: 3);
        using var data = CifarLoader.Load(dir["imgs"], new CifarLoadOptions { CacheFolder = dir["cache"] });
        Assert.Equal(DataFormat.ImageFolder, data.Format);
        Assert.Equal(30, data.Train.Count);
        Assert.Equal(train.Pixels, PixelsOf(data.Train));
        Assert.Equal(train.Labels, data.Train.Labels.data<long>().ToArray());
        Assert.Equal(test.Pixels, PixelsOf(data.Test));
        Assert.Equal(Enumerable.Repeat(3L, 10), data.Test.ClassCounts());
    }

    [Fact]
    public void Image_folder_cache_is_used_and_invalidated_when_a_source_file_changes()
    {
        using var dir = new TempDir();
        SyntheticCifar.WriteImageFolder(dir["imgs"], perClass: 2);
        var log = new List<string>();
        var opts = new CifarLoadOptions { CacheFolder = dir["cache"], Log = log.Add };
        byte[] first;
        using (var d = CifarLoader.Load(dir["imgs"], opts)) first = PixelsOf(d.Train);
        Assert.Contains(log, l => l.StartsWith("Decoding") && l.Contains("no cache yet"));

        log.Clear();
        using (var d = CifarLoader.Load(dir["imgs"], opts)) Assert.Equal(first, PixelsOf(d.Train));
        Assert.Contains(log, l => l.Contains("from cache"));

        // Replace one image with a different one: the cache must not be reused.
        var (px, _) = SyntheticCifar.Make(1, 1234);
        var victim = Path.Combine(dir["imgs"], "train", "cat", "0001.png");
        ImageFolderFormat.WritePng(victim, px);
        File.SetLastWriteTimeUtc(victim, DateTime.UtcNow.AddMinutes(1));
        log.Clear();
        using (var d = CifarLoader.Load(dir["imgs"], opts))
        {
            Assert.Contains(log, l => l.Contains("changed"));
            var got = PixelsOf(d.Train).AsSpan((3 * 2 + 1) * Cifar10.ImageSize, Cifar10.ImageSize).ToArray();
            Assert.Equal(px, got);
        }
    }

    [Fact]
    public void A_corrupt_cache_file_is_detected_and_rebuilt()
    {
        using var dir = new TempDir();
        SyntheticCifar.WriteImageFolder(dir["imgs"], perClass: 2);
        var log = new List<string>();
        var opts = new CifarLoadOptions { CacheFolder = dir["cache"], Log = log.Add };
        byte[] first;
        using (var d = CifarLoader.Load(dir["imgs"], opts)) first = PixelsOf(d.Train);
        var cache = TensorCache.PathFor(dir["cache"], dir["imgs"]);
        var bytes = File.ReadAllBytes(cache);
        bytes[^50] ^= 0xFF;
        File.WriteAllBytes(cache, bytes);
        log.Clear();
        using (var d = CifarLoader.Load(dir["imgs"], opts)) Assert.Equal(first, PixelsOf(d.Train));
        Assert.Contains(log, l => l.Contains("checksum"));
    }

    [Fact]
    public void An_image_of_the_wrong_size_is_named()
    {
        using var dir = new TempDir();
        SyntheticCifar.WriteImageFolder(dir.Path, perClass: 1);
        var bad = Path.Combine(dir.Path, "test", "dog", "0000.png");
        using (var bmp = new SkiaSharp.SKBitmap(31, 32))
        using (var png = bmp.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100))
            File.WriteAllBytes(bad, png.ToArray());
        var e = Assert.Throws<InvalidDataException>(() => CifarLoader.Load(dir.Path, new CifarLoadOptions { UseCache = false }));
        Assert.Contains(bad, e.Message);
        Assert.Contains("31 x 32", e.Message);
    }

    [Fact]
    public void An_unreadable_image_is_named()
    {
        using var dir = new TempDir();
        SyntheticCifar.WriteImageFolder(dir.Path, perClass: 1);
        var bad = Path.Combine(dir.Path, "train", "frog", "0000.png");
        File.WriteAllText(bad, "this is not an image");
        var e = Assert.Throws<InvalidDataException>(() => CifarLoader.Load(dir.Path, new CifarLoadOptions { UseCache = false }));
        Assert.Contains(bad, e.Message);
    }

    [Fact]
    public void A_missing_class_folder_is_named()
    {
        using var dir = new TempDir();
        SyntheticCifar.WriteImageFolder(dir.Path, perClass: 1);
        Directory.Delete(Path.Combine(dir.Path, "train", "horse"), recursive: true);
        var e = Assert.Throws<InvalidDataException>(() => CifarLoader.Load(dir.Path, new CifarLoadOptions { UseCache = false }));
        Assert.Contains(Path.Combine(dir.Path, "train", "horse"), e.Message);
        Assert.Contains("class folder missing", e.Message);
    }

    [Fact]
    public void An_unexpected_class_folder_is_refused()
    {
        using var dir = new TempDir();
        SyntheticCifar.WriteImageFolder(dir.Path, perClass: 1);
        Directory.CreateDirectory(Path.Combine(dir.Path, "test", "unicorn"));
        var e = Assert.Throws<InvalidDataException>(() => CifarLoader.Load(dir.Path, new CifarLoadOptions { UseCache = false }));
        Assert.Contains("unicorn", e.Message);
    }

    [Fact]
    public void Class_names_follow_the_official_label_order()
    {
        Assert.Equal(["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"], Cifar10.ClassNames);
    }

    [Fact]
    public void A_stratified_subset_keeps_the_classes_balanced()
    {
        using var dir = new TempDir();
        SyntheticCifar.WriteBinary(dir.Path, 40, out _, out _);
        using var data = CifarLoader.Load(dir.Path, new CifarLoadOptions { BinaryRecordsPerFile = 40 });
        using var sub = data.Train.Subset(50, seed: 3);
        Assert.Equal(50, sub.Count);
        Assert.All(sub.ClassCounts(), c => Assert.Equal(5, c));
        using var again = data.Train.Subset(50, seed: 3);
        Assert.True(sub.Images.eq(again.Images).all().item<bool>());
    }

    [SkippableFact]
    public void The_shared_jpeg_copy_loads_as_fifty_thousand_and_ten_thousand_balanced_images()
    {
        var shared = Repo.SharedCifarJpg();
        Skip.If(shared is null, "../shared/data/cifar10-jpg is not present on this machine");
        using var data = CifarLoader.Load(shared!);
        Assert.Equal(DataFormat.ImageFolder, data.Format);
        Assert.Equal(50_000, data.Train.Count);
        Assert.Equal(10_000, data.Test.Count);
        Assert.All(data.Train.ClassCounts(), c => Assert.Equal(5_000, c));
        Assert.All(data.Test.ClassCounts(), c => Assert.Equal(1_000, c));
        // Real photographs: mean pixel near the published CIFAR-10 mean (0.49, 0.48, 0.45).
        var mean = data.Train.Images.mean([0, 2, 3]).data<float>().ToArray();
        Assert.InRange(mean[0], 0.47, 0.51);
        Assert.InRange(mean[2], 0.43, 0.47);
    }

    // ---- download and extraction ----

    static byte[] TarGz(params (string Name, byte[] Content)[] files)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true))
        using (var tar = new TarWriter(gz, TarEntryFormat.Pax, leaveOpen: true))
            foreach (var (name, content) in files)
                tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(content) });
        return ms.ToArray();
    }

    sealed class FakeHandler(Func<HttpRequestMessage, HttpResponseMessage> respond) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct) => Task.FromResult(respond(request));
    }

    static byte[] OfficialLikeArchive(int perFile)
    {
        using var src = new TempDir();
        SyntheticCifar.WriteBinary(src.Path, perFile, out _, out _);
        return TarGz(Cifar10.BinaryTrainFiles.Append(Cifar10.BinaryTestFile)
            .Select(f => ($"{Cifar10.BinaryFolderName}/{f}", File.ReadAllBytes(Path.Combine(src.Path, f)))).ToArray());
    }

    [Fact]
    public async Task Download_checks_the_md5_then_unpacks_the_batches()
    {
        using var dir = new TempDir();
        var archive = OfficialLikeArchive(PerFile);
        var md5 = Convert.ToHexStringLower(MD5.HashData(archive));
        using var http = new HttpClient(new FakeHandler(_ => new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(archive) }));
        var target = await CifarDownloader.EnsureAsync(dir.Path, http, md5: md5);
        Assert.Equal(Path.Combine(dir.Path, Cifar10.BinaryFolderName), target);
        using var data = CifarLoader.Load(dir.Path, new CifarLoadOptions { BinaryRecordsPerFile = PerFile });
        Assert.Equal(PerFile, data.Test.Count);
        Assert.Empty(Directory.GetFiles(dir.Path, "*.part"));
    }

    [Fact]
    public async Task A_download_with_the_wrong_md5_is_discarded()
    {
        using var dir = new TempDir();
        var archive = OfficialLikeArchive(2);
        using var http = new HttpClient(new FakeHandler(_ => new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(archive) }));
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => CifarDownloader.EnsureAsync(dir.Path, http));
        Assert.Contains(Cifar10.BinaryArchiveMd5, e.Message);
        Assert.False(File.Exists(Path.Combine(dir.Path, Cifar10.BinaryArchiveName)));
        Assert.False(Directory.Exists(Path.Combine(dir.Path, Cifar10.BinaryFolderName)));
    }

    [Fact]
    public async Task Offline_the_download_error_says_where_to_put_the_files()
    {
        using var dir = new TempDir();
        using var http = new HttpClient(new FakeHandler(_ => throw new HttpRequestException("Name or service not known")));
        var e = await Assert.ThrowsAsync<IOException>(() => CifarDownloader.EnsureAsync(dir.Path, http));
        Assert.Contains(Cifar10.BinaryArchiveName, e.Message);
        Assert.Contains(dir.Path, e.Message);
        Assert.Contains("data_batch_1..5.bin", e.Message);
    }

    [Theory]
    [InlineData("../escape.bin")]
    [InlineData("cifar-10-batches-bin/../../escape.bin")]
    [InlineData("/tmp/escape.bin")]
    public void An_archive_entry_that_would_escape_the_target_folder_is_refused(string evil)
    {
        using var dir = new TempDir();
        var target = dir["target"];
        Directory.CreateDirectory(target);
        File.WriteAllBytes(dir["evil.tar.gz"], TarGz(("cifar-10-batches-bin/ok.bin", [1, 2, 3]), (evil, [6, 6, 6])));
        var e = Assert.Throws<InvalidDataException>(() => CifarDownloader.Extract(dir["evil.tar.gz"], target));
        Assert.Contains("refused", e.Message);
        Assert.False(File.Exists(dir["escape.bin"]));
        Assert.False(File.Exists("/tmp/escape.bin") && File.ReadAllBytes("/tmp/escape.bin").SequenceEqual(new byte[] { 6, 6, 6 }));
        Assert.Empty(Directory.GetFileSystemEntries(target)); // nothing half-extracted
    }
}
