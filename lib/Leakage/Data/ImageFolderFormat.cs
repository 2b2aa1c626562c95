using SkiaSharp;

namespace Leakage.Data;

/// <summary>
/// CIFAR-10 as image files: <c>train/&lt;class&gt;/*</c> and <c>test/&lt;class&gt;/*</c>, one folder per
/// class named as in <see cref="Cifar10.ClassNames"/> (case-insensitive). Any format SkiaSharp
/// decodes (PNG, JPEG, BMP, WebP, GIF); every image must be 32 x 32. Files are taken in ordinal
/// name order within each class, classes in label order, so loading is deterministic.
/// </summary>
public static class ImageFolderFormat
{
    static readonly HashSet<string> Extensions = new(StringComparer.OrdinalIgnoreCase)
        { ".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif" };

    /// <summary>True when <paramref name="dir"/> has <c>train/</c> and <c>test/</c> subfolders.</summary>
    public static bool Looks(string dir) =>
        Directory.Exists(Path.Combine(dir, "train")) && Directory.Exists(Path.Combine(dir, "test"));

    /// <summary>One image file and its label.</summary>
    public readonly record struct Entry(string Path, int Label);

    /// <summary>
    /// Lists the image files of one split, validating the class folders: a missing class folder, an
    /// unexpected folder or an empty class is an <see cref="InvalidDataException"/> naming it.
    /// </summary>
    public static IReadOnlyList<Entry> List(string root, string split)
    {
        var splitDir = Path.Combine(root, split);
        if (!Directory.Exists(splitDir))
            throw new DirectoryNotFoundException($"{splitDir}: folder not found; an image-folder data set needs train/<class>/ and test/<class>/.");
        var folders = Directory.GetDirectories(splitDir)
            .Where(d => !Path.GetFileName(d).StartsWith('.'))
            .ToDictionary(d => Path.GetFileName(d), StringComparer.OrdinalIgnoreCase);
        var unknown = folders.Keys.Where(k => !Cifar10.ClassNames.Contains(k, StringComparer.OrdinalIgnoreCase)).ToList();
        if (unknown.Count > 0)
            throw new InvalidDataException(
                $"{splitDir}: unexpected folder(s) {string.Join(", ", unknown.Select(u => $"'{u}'"))}; class folders must be named " +
                string.Join(", ", Cifar10.ClassNames) + ".");
        var entries = new List<Entry>();
        for (int c = 0; c < Cifar10.Classes; c++)
        {
            if (!folders.TryGetValue(Cifar10.ClassNames[c], out var classDir))
                throw new InvalidDataException($"{Path.Combine(splitDir, Cifar10.ClassNames[c])}: class folder missing (class {c}, '{Cifar10.ClassNames[c]}').");
            var files = Directory.GetFiles(classDir)
                .Where(f => !Path.GetFileName(f).StartsWith('.') && Extensions.Contains(Path.GetExtension(f)))
                .Order(StringComparer.Ordinal)
                .ToList();
            if (files.Count == 0)
                throw new InvalidDataException($"{classDir}: no images (expected files ending in {string.Join(", ", Extensions)}).");
            entries.AddRange(files.Select(f => new Entry(f, c)));
        }
        return entries;
    }

    /// <summary>
    /// Decodes the listed images into CHW bytes, in parallel. An unreadable file or an image that
    /// is not 32 x 32 is an <see cref="InvalidDataException"/> naming the file.
    /// </summary>
    public static (byte[] Pixels, long[] Labels) Decode(IReadOnlyList<Entry> entries, IProgress<int>? progress = null)
    {
        var pixels = new byte[(long)entries.Count * Cifar10.ImageSize];
        var labels = new long[entries.Count];
        int done = 0;
        try
        {
            Parallel.For(0, entries.Count, () => new byte[Cifar10.Height * Cifar10.Width * 4], (i, _, rgba) =>
            {
                DecodeInto(entries[i].Path, rgba, pixels.AsSpan(i * Cifar10.ImageSize, Cifar10.ImageSize));
                labels[i] = entries[i].Label;
                var d = Interlocked.Increment(ref done);
                if (progress != null && d % 1000 == 0) progress.Report(d);
                return rgba;
            }, _ => { });
        }
        catch (AggregateException e)
        {
            // Report the first bad file as itself, not wrapped.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.Flatten().InnerExceptions[0]).Throw();
        }
        progress?.Report(entries.Count);
        return (pixels, labels);
    }

    /// <summary>Decodes one 32 x 32 image into CHW bytes (R plane, G plane, B plane).</summary>
    public static void DecodeInto(string path, byte[] rgbaScratch, Span<byte> chw)
    {
        using var codec = SKCodec.Create(path, out var result);
        if (codec is null)
            throw new InvalidDataException($"{path}: not a readable image ({result}).");
        var info = codec.Info;
        if (info.Width != Cifar10.Width || info.Height != Cifar10.Height)
            throw new InvalidDataException($"{path}: image is {info.Width} x {info.Height}, expected 32 x 32.");
        var target = new SKImageInfo(Cifar10.Width, Cifar10.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        unsafe
        {
            fixed (byte* p = rgbaScratch)
            {
                var r = codec.GetPixels(target, (IntPtr)p);
                if (r != SKCodecResult.Success && r != SKCodecResult.IncompleteInput)
                    throw new InvalidDataException($"{path}: image could not be decoded ({r}).");
                if (r == SKCodecResult.IncompleteInput)
                    throw new InvalidDataException($"{path}: image data is truncated.");
            }
        }
        const int plane = Cifar10.Height * Cifar10.Width;
        for (int i = 0; i < plane; i++)
        {
            chw[i] = rgbaScratch[4 * i];
            chw[plane + i] = rgbaScratch[4 * i + 1];
            chw[2 * plane + i] = rgbaScratch[4 * i + 2];
        }
    }

    /// <summary>Writes one image (CHW bytes) as PNG; used by tests and conversion tools.</summary>
    public static void WritePng(string path, ReadOnlySpan<byte> chw)
    {
        const int plane = Cifar10.Height * Cifar10.Width;
        var info = new SKImageInfo(Cifar10.Width, Cifar10.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bmp = new SKBitmap(info);
        var px = bmp.GetPixelSpan();
        unsafe
        {
            var dst = new Span<byte>((void*)bmp.GetPixels(), px.Length);
            for (int i = 0; i < plane; i++)
            {
                dst[4 * i] = chw[i];
                dst[4 * i + 1] = chw[plane + i];
                dst[4 * i + 2] = chw[2 * plane + i];
                dst[4 * i + 3] = 255;
            }
        }
        using var data = bmp.Encode(SKEncodedImageFormat.Png, 100);
        IO.AtomicFile.WriteAllBytes(path, data.AsSpan());
    }
}
