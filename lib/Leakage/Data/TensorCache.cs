using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Leakage.IO;

namespace Leakage.Data;

/// <summary>
/// A one-file cache of a decoded image-folder data set, so 60,000 JPEGs are decoded once. The file
/// holds a JSON header (source folder, a fingerprint of every image file's path, size and
/// modification time, counts, SHA-256 of the payload) followed by the raw 8-bit pixels and labels.
/// It is rebuilt when the fingerprint changes (files added, removed, replaced or touched) or the
/// file fails its checksum; written atomically.
/// </summary>
public static class TensorCache
{
    static readonly byte[] Magic = "LKCIFAR1"u8.ToArray();

    /// <summary>The default cache folder: $LEAKAGE_CACHE, else $XDG_CACHE_HOME/leakage-notebooks, else ~/.cache/leakage-notebooks.</summary>
    public static string DefaultFolder()
    {
        var env = Environment.GetEnvironmentVariable("LEAKAGE_CACHE");
        if (!string.IsNullOrWhiteSpace(env)) return env;
        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        var baseDir = !string.IsNullOrWhiteSpace(xdg) ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(baseDir, "leakage-notebooks");
    }

    /// <summary>Cache file for a source folder (one per absolute path).</summary>
    public static string PathFor(string cacheFolder, string sourceDir)
    {
        var full = Path.GetFullPath(sourceDir).TrimEnd(Path.DirectorySeparatorChar);
        var h = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(full)))[..16];
        return Path.Combine(cacheFolder, $"cifar10-images-{h}.bin");
    }

    /// <summary>Fingerprint of the listed files: relative path, size and last-write time of each.</summary>
    public static string Fingerprint(string root, IEnumerable<ImageFolderFormat.Entry> entries)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var e in entries)
        {
            var fi = new FileInfo(e.Path);
            sha.AppendData(Encoding.UTF8.GetBytes($"{Path.GetRelativePath(root, e.Path)}\t{e.Label}\t{fi.Length}\t{fi.LastWriteTimeUtc.Ticks}\n"));
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    public sealed record Payload(byte[] TrainPixels, long[] TrainLabels, byte[] TestPixels, long[] TestLabels);

    /// <summary>
    /// Reads the cache when it exists and matches <paramref name="fingerprint"/>; otherwise returns
    /// null and says why in <paramref name="reason"/>.
    /// </summary>
    public static Payload? TryRead(string file, string fingerprint, out string reason)
    {
        if (!File.Exists(file)) { reason = "no cache yet"; return null; }
        try
        {
            using var fs = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
            using var r = new BinaryReader(fs);
            if (!r.ReadBytes(Magic.Length).AsSpan().SequenceEqual(Magic)) { reason = $"{file} is not a cache file"; return null; }
            var headerLen = r.ReadInt32();
            if (headerLen is <= 0 or > 1 << 20) { reason = $"{file} has a damaged header"; return null; }
            var header = JsonNode.Parse(r.ReadBytes(headerLen))!;
            if ((string?)header["fingerprint"] != fingerprint) { reason = "the image files changed since the cache was written"; return null; }
            int nTrain = (int)header["trainCount"]!, nTest = (int)header["testCount"]!;
            long payloadLen = (long)(nTrain + nTest) * (Cifar10.ImageSize + 1);
            if (fs.Length - fs.Position != payloadLen) { reason = $"{file} is truncated ({fs.Length - fs.Position} of {payloadLen} payload bytes)"; return null; }
            var start = fs.Position;
            var sha = Convert.ToHexStringLower(SHA256.HashData(fs));
            if (sha != (string?)header["payloadSha256"]) { reason = $"{file} fails its checksum"; return null; }
            fs.Position = start;
            var p = new Payload(r.ReadBytes(nTrain * Cifar10.ImageSize), r.ReadBytes(nTrain).Select(b => (long)b).ToArray(),
                r.ReadBytes(nTest * Cifar10.ImageSize), r.ReadBytes(nTest).Select(b => (long)b).ToArray());
            reason = "";
            return p;
        }
        catch (Exception e) when (e is IOException or JsonException or InvalidOperationException or FormatException or NullReferenceException)
        {
            reason = $"{file} could not be read ({e.Message})";
            return null;
        }
    }

    /// <summary>Writes the cache atomically.</summary>
    public static void Write(string file, string fingerprint, string source, Payload p)
    {
        var payloadSha = HashPayload(p);
        var header = new JsonObject
        {
            ["source"] = Path.GetFullPath(source),
            ["fingerprint"] = fingerprint,
            ["trainCount"] = p.TrainLabels.Length,
            ["testCount"] = p.TestLabels.Length,
            ["payloadSha256"] = payloadSha,
            ["created"] = DateTime.UtcNow.ToString("o"),
        };
        var headerBytes = Encoding.UTF8.GetBytes(header.ToJsonString());
        AtomicFile.Write(file, s =>
        {
            using var w = new BinaryWriter(s, Encoding.UTF8, leaveOpen: true);
            w.Write(Magic);
            w.Write(headerBytes.Length);
            w.Write(headerBytes);
            WritePayload(s, p);
        });
    }

    static void WritePayload(Stream s, Payload p)
    {
        s.Write(p.TrainPixels);
        s.Write(p.TrainLabels.Select(l => (byte)l).ToArray());
        s.Write(p.TestPixels);
        s.Write(p.TestLabels.Select(l => (byte)l).ToArray());
    }

    static string HashPayload(Payload p)
    {
        using var ms = new HashingStream();
        WritePayload(ms, p);
        return ms.Hex();
    }

    sealed class HashingStream : Stream
    {
        readonly IncrementalHash _h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        public string Hex() => Convert.ToHexStringLower(_h.GetHashAndReset());
        public override void Write(byte[] buffer, int offset, int count) => _h.AppendData(buffer, offset, count);
        public override void Write(ReadOnlySpan<byte> buffer) => _h.AppendData(buffer);
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        protected override void Dispose(bool disposing) { if (disposing) _h.Dispose(); base.Dispose(disposing); }
    }
}
