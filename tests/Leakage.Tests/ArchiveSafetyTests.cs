using System.Formats.Tar;
using System.IO.Compression;
using Leakage.Data;
using Leakage.Tests.Support;

namespace Leakage.Tests;

/// <summary>Unpacking refuses entries that could write outside the target folder, and a refused archive changes nothing.</summary>
public class ArchiveSafetyTests
{
    static void WriteArchive(string path, Action<TarWriter> entries)
    {
        using var fs = File.Create(path);
        using var gz = new GZipStream(fs, CompressionLevel.Fastest);
        using var tar = new TarWriter(gz, TarEntryFormat.Pax);
        entries(tar);
    }

    static void AddFile(TarWriter tar, string name, byte[] content)
    {
        var e = new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(content) };
        tar.WriteEntry(e);
    }

    [Theory]
    [InlineData(TarEntryType.SymbolicLink, "../../outside")]
    [InlineData(TarEntryType.SymbolicLink, "/etc/passwd")]
    [InlineData(TarEntryType.HardLink, "/etc/passwd")]
    public void A_link_entry_is_refused_and_nothing_is_extracted(TarEntryType type, string linkTarget)
    {
        using var dir = new TempDir();
        var target = dir["target"];
        Directory.CreateDirectory(target);
        WriteArchive(dir["links.tar.gz"], tar =>
        {
            AddFile(tar, "cifar-10-batches-bin/ok.bin", [1, 2, 3]);
            tar.WriteEntry(new PaxTarEntry(type, "cifar-10-batches-bin/link.bin") { LinkName = linkTarget });
        });

        var e = Assert.Throws<InvalidDataException>(() => CifarDownloader.Extract(dir["links.tar.gz"], target));

        Assert.Contains("link.bin", e.Message);
        Assert.Contains("links are not extracted", e.Message);
        Assert.Empty(Directory.GetFileSystemEntries(target));
    }

    [Fact]
    public void A_refused_archive_leaves_the_data_already_in_the_folder_untouched()
    {
        using var dir = new TempDir();
        var target = dir["data"];
        var existing = Path.Combine(target, Cifar10.BinaryFolderName, "data_batch_1.bin");
        Directory.CreateDirectory(Path.GetDirectoryName(existing)!);
        File.WriteAllBytes(existing, [9, 9, 9]);
        WriteArchive(dir["evil.tar.gz"], tar =>
        {
            AddFile(tar, "cifar-10-batches-bin/data_batch_1.bin", [1, 1, 1]); // would replace the good file...
            AddFile(tar, "cifar-10-batches-bin/../../escape.bin", [6]);      // ...but the archive is refused as a whole
        });

        var e = Assert.Throws<InvalidDataException>(() => CifarDownloader.Extract(dir["evil.tar.gz"], target));

        Assert.Contains("would be written outside the target folder; refused", e.Message);
        Assert.Equal([9, 9, 9], File.ReadAllBytes(existing));
        Assert.Equal([Path.Combine(target, Cifar10.BinaryFolderName)], Directory.GetFileSystemEntries(target));
        Assert.False(File.Exists(dir["escape.bin"]));
    }
}
