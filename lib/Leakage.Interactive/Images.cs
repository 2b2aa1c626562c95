using System.Text;
using Leakage.Native;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Interactive;

/// <summary>How <see cref="Images.Weights"/> turns weight vectors (any real values) into colours.</summary>
public enum WeightStyle
{
    /// <summary>RGB, zero at mid-grey: 0.5 + w / (2 max|w|). Sign and colour channel stay visible.</summary>
    Symmetric,
    /// <summary>RGB, stretched to the full range: (w - min) / (max - min). Shows structure, hides where zero is.</summary>
    MinMax,
    /// <summary>One value per pixel (mean over channels) on a blue-white-red scale: white is zero, red positive, blue negative.</summary>
    Diverging,
}

/// <summary>
/// Pictures of image tensors for notebooks and the report: PNG bytes (SkiaSharp), inline
/// <c>data:</c> URIs and HTML grids with captions. Input images are float tensors in pixel space
/// [0, 1], shaped C x H x W (C = 1 or 3) or H x W, on any device; values outside [0, 1] are clamped.
/// Upscaling is nearest neighbour, so every source pixel stays a crisp square.
/// </summary>
public static class Images
{
    // Kept for the process (Leakage.Native.Scalars says why): 255 (integer), 2, 0.5f and the division floor 1e-12f.
    static readonly Scalar Byte = Scalars.Constant(255L), Two = Scalars.Constant(2L), Half = Scalars.Constant(0.5f), Floor = Scalars.Constant(1e-12f);

    /// <summary>Largest upscaling factor accepted.</summary>
    public const int MaxScale = 32;

    /// <summary>Encodes one image as PNG, each pixel drawn as a <paramref name="scale"/> x <paramref name="scale"/> square.</summary>
    /// <param name="image">C x H x W (C = 1 or 3) or H x W, values in [0, 1].</param>
    /// <param name="scale">Upscaling factor, 1 to <see cref="MaxScale"/>.</param>
    public static byte[] ToPng(Tensor image, int scale = 4)
    {
        var (rgb, w, h) = ToRgbBytes(image);
        return EncodePng(rgb, w, h, scale);
    }

    /// <summary>
    /// 8-bit RGB bytes (row-major, 3 per pixel) of an image tensor: round(255 * clamp(v, 0, 1)).
    /// A single channel is repeated into grey.
    /// </summary>
    public static (byte[] Rgb, int Width, int Height) ToRgbBytes(Tensor image)
    {
        ArgumentNullException.ThrowIfNull(image);
        TorchNative.Ensure();
        using var scope = NewDisposeScope();
        var t = image.detach().cpu().to_type(ScalarType.Float32);
        if (t.dim() == 2) t = t.unsqueeze(0);
        if (t.dim() != 3 || (t.shape[0] != 1 && t.shape[0] != 3))
            throw new ArgumentException($"An image must be C x H x W with C = 1 or 3, or H x W; got shape [{string.Join(", ", image.shape)}].", nameof(image));
        if (t.shape[0] == 1) t = t.expand(3, -1, -1);
        int h = (int)t.shape[1], w = (int)t.shape[2];
        var hwc = t.clamp(Scalars.Zero, Scalars.One).mul(Byte).round().to_type(ScalarType.Byte).permute(1, 2, 0).contiguous();
        return (hwc.data<byte>().ToArray(), w, h);
    }

    /// <summary>Encodes RGB bytes (as from <see cref="ToRgbBytes"/>) as PNG with nearest-neighbour upscaling.</summary>
    public static byte[] EncodePng(byte[] rgb, int width, int height, int scale = 1)
    {
        ArgumentNullException.ThrowIfNull(rgb);
        if (width < 1 || height < 1) throw new ArgumentException($"Image size {width} x {height} is empty.");
        if (rgb.Length != width * height * 3) throw new ArgumentException($"Expected {width * height * 3} RGB bytes for {width} x {height}, got {rgb.Length}.", nameof(rgb));
        if (scale is < 1 or > MaxScale) throw new ArgumentOutOfRangeException(nameof(scale), $"Scale must be 1 to {MaxScale}.");
        SkiaNative.Ensure();
        int W = width * scale, H = height * scale;
        var rgba = new byte[W * H * 4];
        for (int y = 0; y < H; y++)
        {
            int sy = y / scale;
            for (int x = 0; x < W; x++)
            {
                int s = (sy * width + x / scale) * 3, d = (y * W + x) * 4;
                rgba[d] = rgb[s]; rgba[d + 1] = rgb[s + 1]; rgba[d + 2] = rgb[s + 2]; rgba[d + 3] = 255;
            }
        }
        var info = new SKImageInfo(W, H, SKColorType.Rgba8888, SKAlphaType.Opaque);
        using var img = SKImage.FromPixelCopy(info, rgba, W * 4)
                        ?? throw new InvalidOperationException("SkiaSharp could not create an image from the pixels.");
        using var data = img.Encode(SKEncodedImageFormat.Png, 100)
                         ?? throw new InvalidOperationException("SkiaSharp could not encode PNG.");
        return data.ToArray();
    }

    /// <summary>A <c>data:image/png;base64,...</c> URI for inline use in HTML.</summary>
    public static string DataUri(byte[] png) => "data:image/png;base64," + Convert.ToBase64String(png);

    /// <summary>One image as an inline HTML &lt;img&gt;, with an optional caption below it.</summary>
    public static Html Image(Tensor image, int scale = 4, string? caption = null)
    {
        var img = Img(ToPng(image, scale), caption);
        return new Html(caption is null ? img
            : $"<figure class=\"leakage-figure\" style=\"display:inline-block;margin:4px\">{img}<figcaption style=\"text-align:center;font-size:90%\">{Html.Encode(caption)}</figcaption></figure>");
    }

    /// <summary>
    /// An HTML grid of images: <paramref name="cells"/>[row][column], with optional captions on the
    /// left of each row and above each column. Rows may be ragged.
    /// </summary>
    public static Html Grid(IReadOnlyList<IReadOnlyList<Tensor>> cells, IReadOnlyList<string>? rowCaptions = null,
        IReadOnlyList<string>? columnCaptions = null, int scale = 3)
    {
        ArgumentNullException.ThrowIfNull(cells);
        if (rowCaptions != null && rowCaptions.Count != cells.Count)
            throw new ArgumentException($"{rowCaptions.Count} row captions for {cells.Count} rows.", nameof(rowCaptions));
        int columns = cells.Count == 0 ? 0 : cells.Max(r => r.Count);
        if (columnCaptions != null && columnCaptions.Count != columns)
            throw new ArgumentException($"{columnCaptions.Count} column captions for {columns} columns.", nameof(columnCaptions));
        var sb = new StringBuilder("<table class=\"leakage-grid\" style=\"border-collapse:collapse\">");
        if (columnCaptions != null)
        {
            sb.Append("<thead><tr>");
            if (rowCaptions != null) sb.Append("<th></th>");
            foreach (var c in columnCaptions) sb.Append("<th style=\"font-weight:normal;font-size:90%;padding:2px\">").Append(Html.Encode(c)).Append("</th>");
            sb.Append("</tr></thead>");
        }
        sb.Append("<tbody>");
        for (int r = 0; r < cells.Count; r++)
        {
            sb.Append("<tr>");
            if (rowCaptions != null)
                sb.Append("<th style=\"font-weight:normal;font-size:90%;text-align:right;padding:2px 6px\">").Append(Html.Encode(rowCaptions[r])).Append("</th>");
            foreach (var img in cells[r]) sb.Append("<td style=\"padding:1px\">").Append(Img(ToPng(img, scale), null)).Append("</td>");
            sb.Append("</tr>");
        }
        return new Html(sb.Append("</tbody></table>").ToString());
    }

    /// <summary>
    /// A grid of a batch N x C x H x W laid out <paramref name="columns"/> per row (the last row may be short).
    /// </summary>
    public static Html Grid(Tensor images, int columns, IReadOnlyList<string>? rowCaptions = null,
        IReadOnlyList<string>? columnCaptions = null, int scale = 3)
    {
        CheckBatch(images, nameof(images));
        if (columns < 1) throw new ArgumentOutOfRangeException(nameof(columns), "Use at least one column.");
        using var scope = NewDisposeScope();
        int n = (int)images.shape[0];
        var rows = new List<IReadOnlyList<Tensor>>();
        for (int i = 0; i < n; i += columns)
            rows.Add(Enumerable.Range(i, Math.Min(columns, n - i)).Select(j => images[j]).ToList());
        return Grid(rows, rowCaptions, columnCaptions, scale);
    }

    /// <summary>
    /// Up to <paramref name="perClass"/> examples of every class, one row per class, captioned with
    /// the class names: the usual first look at a data set.
    /// </summary>
    /// <param name="images">N x C x H x W in [0, 1].</param>
    /// <param name="labels">N class indices (int64).</param>
    /// <param name="classNames">Name of each class index.</param>
    /// <param name="perClass">Examples per class (the first ones found, in data order).</param>
    /// <param name="scale">Upscaling factor.</param>
    public static Html PerClass(Tensor images, Tensor labels, IReadOnlyList<string> classNames, int perClass = 8, int scale = 2)
    {
        CheckBatch(images, nameof(images));
        ArgumentNullException.ThrowIfNull(classNames);
        if (labels.dim() != 1 || labels.shape[0] != images.shape[0])
            throw new ArgumentException($"Expected {images.shape[0]} labels, got shape [{string.Join(", ", labels.shape)}].", nameof(labels));
        using var scope = NewDisposeScope();
        var ys = labels.cpu().to_type(ScalarType.Int64).data<long>().ToArray();
        if (ys.Any(y => y < 0 || y >= classNames.Count))
            throw new ArgumentException($"A label is outside 0..{classNames.Count - 1}.", nameof(labels));
        var rows = Enumerable.Range(0, classNames.Count)
            .Select(c => (IReadOnlyList<Tensor>)ys.Select((y, i) => (y, i)).Where(p => p.y == c).Take(perClass).Select(p => images[p.i]).ToList())
            .ToList();
        return Grid(rows, classNames, null, scale);
    }

    /// <summary>
    /// Makes a perturbation visible: 0.5 + delta / (2 max|delta|), per image, so mid-grey is zero
    /// and the largest change reaches black or white. Input N x C x H x W (any real values); output
    /// the same shape in [0, 1]. An all-zero perturbation stays mid-grey.
    /// </summary>
    public static Tensor Magnify(Tensor delta)
    {
        CheckBatch(delta, nameof(delta));
        using var scope = NewDisposeScope();
        var d = delta.detach().to_type(ScalarType.Float32);
        var max = d.abs().flatten(1).amax(new long[] { 1 }).clamp_min(Floor).view(-1, 1, 1, 1);
        return d.div(max.mul(Two)).add(Half).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Side by side, one row per example: the original, the adversarial image and the perturbation
    /// magnified with <see cref="Magnify"/>, with its L2 norm in the row caption.
    /// </summary>
    /// <param name="original">N x C x H x W in [0, 1].</param>
    /// <param name="adversarial">Same shape, in [0, 1].</param>
    /// <param name="rowCaptions">Optional captions (e.g. "cat → dog"); the L2 norm is appended.</param>
    /// <param name="scale">Upscaling factor.</param>
    public static Html Perturbations(Tensor original, Tensor adversarial, IReadOnlyList<string>? rowCaptions = null, int scale = 3)
    {
        CheckBatch(original, nameof(original));
        if (!original.shape.SequenceEqual(adversarial.shape))
            throw new ArgumentException($"Original [{string.Join(", ", original.shape)}] and adversarial [{string.Join(", ", adversarial.shape)}] shapes differ.");
        int n = (int)original.shape[0];
        if (rowCaptions != null && rowCaptions.Count != n)
            throw new ArgumentException($"{rowCaptions.Count} captions for {n} examples.", nameof(rowCaptions));
        using var scope = NewDisposeScope();
        var o = original.detach().cpu().to_type(ScalarType.Float32);
        var a = adversarial.detach().cpu().to_type(ScalarType.Float32);
        var delta = a - o;
        var norms = delta.flatten(1).norm(1).data<float>().ToArray();
        var magnified = Magnify(delta);
        var rows = Enumerable.Range(0, n).Select(i => (IReadOnlyList<Tensor>)[o[i], a[i], magnified[i]]).ToList();
        var captions = Enumerable.Range(0, n)
            .Select(i => $"{(rowCaptions is null ? "" : rowCaptions[i] + ", ")}‖δ‖₂ = {norms[i].ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)}")
            .ToList();
        return Grid(rows, captions, ["original", "adversarial", "perturbation (magnified)"], scale);
    }

    /// <summary>
    /// Maps weight vectors to displayable images in [0, 1] (see <see cref="WeightStyle"/>).
    /// </summary>
    /// <param name="weights">K x C x H x W, or K x (3·H·W) with square H = W (CIFAR: K x 3072).</param>
    /// <param name="style">Colour mapping.</param>
    /// <param name="sharedScale">One scale for all K vectors (compare magnitudes across them) instead of one each.</param>
    /// <returns>K x 3 x H x W in [0, 1].</returns>
    public static Tensor ColorizeWeights(Tensor weights, WeightStyle style = WeightStyle.Symmetric, bool sharedScale = false)
    {
        ArgumentNullException.ThrowIfNull(weights);
        TorchNative.Ensure();
        using var scope = NewDisposeScope();
        var w = AsImages(weights.detach().cpu().to_type(ScalarType.Float32));
        long k = w.shape[0];
        Tensor Reduce(Tensor t, Func<Tensor, long[], Tensor> op) =>
            sharedScale ? op(t.flatten(), [0]).expand(k).view(-1, 1, 1, 1) : op(t.flatten(1), [1]).view(-1, 1, 1, 1);
        Tensor result;
        switch (style)
        {
            case WeightStyle.Symmetric:
            {
                var max = Reduce(w.abs(), (t, d) => t.amax(d)).clamp_min(Floor);
                result = w.div(max.mul(Two)).add(Half);
                break;
            }
            case WeightStyle.MinMax:
            {
                var min = Reduce(w, (t, d) => t.amin(d));
                var max = Reduce(w, (t, d) => t.amax(d));
                result = (w - min).div((max - min).clamp_min(Floor));
                break;
            }
            case WeightStyle.Diverging:
            {
                var m = w.mean([1], keepdim: true);
                var max = Reduce(m.abs(), (t, d) => t.amax(d)).clamp_min(Floor);
                var s = m.div(max);
                var pos = s.clamp(Scalars.Zero, Scalars.One);
                var neg = s.neg().clamp(Scalars.Zero, Scalars.One);
                var white = ones(1, 3, 1, 1);
                var red = tensor(new[] { 178f, 24f, 43f }).div(Byte).view(1, 3, 1, 1);
                var blue = tensor(new[] { 33f, 102f, 172f }).div(Byte).view(1, 3, 1, 1);
                result = white * (Scalars.One - pos - neg) + red * pos + blue * neg;
                break;
            }
            default: throw new ArgumentOutOfRangeException(nameof(style));
        }
        return result.clamp(Scalars.Zero, Scalars.One).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Weight vectors (e.g. the 10 rows of a linear CIFAR-10 classifier) as a row of upscaled
    /// images with captions (e.g. class names).
    /// </summary>
    public static Html Weights(Tensor weights, IReadOnlyList<string>? captions = null, WeightStyle style = WeightStyle.Symmetric,
        bool sharedScale = false, int scale = 4)
    {
        using var scope = NewDisposeScope();
        var images = ColorizeWeights(weights, style, sharedScale);
        int k = (int)images.shape[0];
        if (captions != null && captions.Count != k)
            throw new ArgumentException($"{captions.Count} captions for {k} weight vectors.", nameof(captions));
        return Grid([Enumerable.Range(0, k).Select(i => images[i]).ToList()], null, captions, scale);
    }

    static Tensor AsImages(Tensor w)
    {
        if (w.dim() == 4) return w;
        if (w.dim() == 2 && w.shape[1] % 3 == 0)
        {
            long side = (long)Math.Round(Math.Sqrt(w.shape[1] / 3));
            if (side * side * 3 == w.shape[1]) return w.view(w.shape[0], 3, side, side);
        }
        throw new ArgumentException($"Weights must be K x C x H x W or K x (3·H·W) with H = W; got shape [{string.Join(", ", w.shape)}].");
    }

    static void CheckBatch(Tensor t, string name)
    {
        ArgumentNullException.ThrowIfNull(t, name);
        TorchNative.Ensure();
        if (t.dim() != 4 || (t.shape[1] != 1 && t.shape[1] != 3))
            throw new ArgumentException($"Expected a batch N x C x H x W with C = 1 or 3; got shape [{string.Join(", ", t.shape)}].", name);
    }

    static string Img(byte[] png, string? alt) =>
        $"<img src=\"{DataUri(png)}\" alt=\"{Html.Encode(alt ?? "")}\" style=\"image-rendering:pixelated;display:block\"/>";
}
