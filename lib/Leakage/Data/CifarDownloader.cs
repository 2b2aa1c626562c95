using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;

namespace Leakage.Data;

/// <summary>
/// Downloads and unpacks the official CIFAR-10 binary release: the archive is streamed to a
/// <c>.part</c> file, its MD5 checked against the published value, renamed into place, then
/// extracted into a temporary folder (every entry checked to stay inside it) that is moved to
/// <c>cifar-10-batches-bin/</c> only when complete.
/// </summary>
public static class CifarDownloader
{
    /// <summary>
    /// Ensures <paramref name="dataDir"/>/cifar-10-batches-bin exists, downloading when needed.
    /// Offline or on a failed download: <see cref="IOException"/> saying where to put the files.
    /// </summary>
    public static async Task<string> EnsureAsync(string dataDir, HttpClient? http = null, IProgress<(long Done, long? Total)>? progress = null,
        Action<string>? log = null, string url = Cifar10.BinaryArchiveUrl, string md5 = Cifar10.BinaryArchiveMd5, CancellationToken ct = default)
    {
        Directory.CreateDirectory(dataDir);
        var target = Path.Combine(dataDir, Cifar10.BinaryFolderName);
        if (Directory.Exists(target) && CifarBinaryFormat.FindBatchFolder(dataDir) != null)
        {
            log?.Invoke($"{target} already present");
            return target;
        }
        var archive = Path.Combine(dataDir, Cifar10.BinaryArchiveName);
        if (File.Exists(archive) && Md5(archive) != md5)
        {
            log?.Invoke($"{archive} fails its MD5 check; downloading again");
            File.Delete(archive);
        }
        if (!File.Exists(archive))
            await DownloadAsync(url, archive, md5, http, progress, log, ct);
        log?.Invoke($"Extracting {archive}");
        Extract(archive, dataDir);
        if (CifarBinaryFormat.FindBatchFolder(dataDir) == null)
            throw new InvalidDataException($"{archive}: the archive did not contain {Cifar10.BinaryFolderName}/ with the batch files.");
        return target;
    }

    static async Task DownloadAsync(string url, string archive, string md5, HttpClient? http, IProgress<(long, long?)>? progress, Action<string>? log, CancellationToken ct)
    {
        var part = archive + ".part";
        var owned = http is null;
        http ??= new HttpClient { Timeout = TimeSpan.FromMinutes(30) };
        try
        {
            log?.Invoke($"Downloading {url}");
            using var response = await http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, ct);
            response.EnsureSuccessStatusCode();
            var total = response.Content.Headers.ContentLength;
            await using (var src = await response.Content.ReadAsStreamAsync(ct))
            await using (var dst = new FileStream(part, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            {
                var buffer = new byte[1 << 20];
                long done = 0;
                int n;
                while ((n = await src.ReadAsync(buffer, ct)) > 0)
                {
                    await dst.WriteAsync(buffer.AsMemory(0, n), ct);
                    done += n;
                    progress?.Report((done, total));
                }
                await dst.FlushAsync(ct);
                dst.Flush(flushToDisk: true);
            }
            var actual = Md5(part);
            if (actual != md5)
            {
                File.Delete(part);
                throw new InvalidDataException($"{url}: downloaded archive has MD5 {actual}, expected {md5}; the download is corrupt. Try again.");
            }
            File.Move(part, archive, overwrite: true);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            TryDelete(part);
            throw new IOException(
                $"Could not download {url} ({e.Message}). Without internet access, download {Cifar10.BinaryArchiveName} on another " +
                $"machine and put it in {Path.GetDirectoryName(Path.GetFullPath(archive))} (it is MD5-checked and unpacked on the next run), " +
                $"or unpack it there so that {Path.Combine(Path.GetDirectoryName(Path.GetFullPath(archive))!, Cifar10.BinaryFolderName)}/ holds " +
                $"data_batch_1..5.bin and test_batch.bin, or use an image folder (train/<class>/, test/<class>/) with --data.", e);
        }
        finally
        {
            if (owned) http.Dispose();
        }
    }

    /// <summary>
    /// Extracts a .tar.gz into <paramref name="destination"/>. Entries with absolute paths, '..'
    /// segments or links pointing outside are refused with an <see cref="InvalidDataException"/>
    /// and nothing is left behind; the contents appear only when extraction succeeded.
    /// </summary>
    public static void Extract(string archive, string destination)
    {
        var destFull = Path.GetFullPath(destination);
        var staging = Path.Combine(destFull, $".extract-{Guid.NewGuid():N}");
        Directory.CreateDirectory(staging);
        try
        {
            using (var fs = File.OpenRead(archive))
            using (var gz = new GZipStream(fs, CompressionMode.Decompress))
            using (var tar = new TarReader(gz))
            {
                TarEntry? entry;
                while ((entry = tar.GetNextEntry()) != null)
                {
                    var path = SafePath(staging, entry.Name, archive);
                    switch (entry.EntryType)
                    {
                        case TarEntryType.Directory:
                            Directory.CreateDirectory(path);
                            break;
                        case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                            entry.ExtractToFile(path, overwrite: true);
                            break;
                        case TarEntryType.SymbolicLink or TarEntryType.HardLink:
                            throw new InvalidDataException($"{archive}: entry '{entry.Name}' is a link; links are not extracted.");
                        default:
                            break; // pax/global headers etc. carry no files
                    }
                }
            }
            foreach (var item in Directory.EnumerateFileSystemEntries(staging))
            {
                var dest = Path.Combine(destFull, Path.GetFileName(item));
                if (Directory.Exists(dest)) Directory.Delete(dest, recursive: true);
                else if (File.Exists(dest)) File.Delete(dest);
                if (Directory.Exists(item)) Directory.Move(item, dest); else File.Move(item, dest);
            }
        }
        catch (Exception e) when ((e is EndOfStreamException or FormatException or InvalidDataException) && !e.Message.StartsWith(archive, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{archive}: damaged archive ({e.Message}).", e);
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    static string SafePath(string root, string entryName, string archive)
    {
        if (Path.IsPathRooted(entryName) || entryName.Split('/', '\\').Contains(".."))
            throw new InvalidDataException($"{archive}: entry '{entryName}' would be written outside the target folder; refused.");
        var full = Path.GetFullPath(Path.Combine(root, entryName));
        var rootFull = Path.GetFullPath(root) + Path.DirectorySeparatorChar;
        if (!full.StartsWith(rootFull, StringComparison.Ordinal) && full + Path.DirectorySeparatorChar != rootFull)
            throw new InvalidDataException($"{archive}: entry '{entryName}' would be written outside the target folder; refused.");
        return full;
    }

    public static string Md5(string path)
    {
        using var fs = File.OpenRead(path);
        return Convert.ToHexStringLower(MD5.HashData(fs));
    }

    static void TryDelete(string p)
    {
        try { if (File.Exists(p)) File.Delete(p); } catch (IOException) { }
    }
}
