using Leakage.Interactive;
using SkiaSharp;
using static TorchSharp.torch;

namespace Leakage.Notebooks.Tests;

public class InteractiveImagesTests
{
    static SKBitmap Decode(byte[] png) => SKBitmap.Decode(png) ?? throw new InvalidOperationException("not a PNG");

    [Fact]
    public void A_png_keeps_every_pixel_exactly_and_upscales_to_crisp_squares()
    {
        using var scope = NewDisposeScope();
        // 2 x 3 image with distinct 8-bit values: v = k / 255.
        var values = arange(0, 18, dtype: ScalarType.Float32).mul(13).div(255).view(3, 2, 3);

        using var bmp = Decode(Images.ToPng(values, scale: 4));

        Assert.Equal(12, bmp.Width);
        Assert.Equal(8, bmp.Height);
        for (int y = 0; y < 8; y++)
        for (int x = 0; x < 12; x++)
        {
            var c = bmp.GetPixel(x, y);
            int sy = y / 4, sx = x / 4;
            Assert.Equal((byte)(13 * (0 * 6 + sy * 3 + sx)), c.Red);
            Assert.Equal((byte)(13 * (1 * 6 + sy * 3 + sx)), c.Green);
            Assert.Equal((byte)(13 * (2 * 6 + sy * 3 + sx)), c.Blue);
        }
    }

    [Fact]
    public void Values_outside_the_unit_interval_are_clamped_and_grey_images_are_repeated_into_rgb()
    {
        using var scope = NewDisposeScope();
        var (rgb, w, h) = Images.ToRgbBytes(tensor(new[] { -1f, 0.5f, 2f }).view(1, 3));
        Assert.Equal((3, 1), (w, h));
        Assert.Equal(new byte[] { 0, 0, 0, 128, 128, 128, 255, 255, 255 }, rgb);
    }

    [Fact]
    public void A_tensor_that_is_not_an_image_is_refused_with_its_shape()
    {
        using var scope = NewDisposeScope();
        var e = Assert.Throws<ArgumentException>(() => Images.ToPng(zeros(2, 4, 4)));
        Assert.Contains("[2, 4, 4]", e.Message);
    }

    [Fact]
    public void The_symmetric_map_puts_zero_at_mid_grey_and_the_largest_weight_at_the_ends()
    {
        using var scope = NewDisposeScope();
        var w = tensor(new[] { 0f, 2f, -4f, 1f }).view(1, 1, 2, 2).expand(1, 3, 2, 2);
        var img = Images.ColorizeWeights(w, WeightStyle.Symmetric)[0, 0].data<float>().ToArray();
        Assert.Equal(new[] { 0.5f, 0.75f, 0f, 0.625f }, img);
    }

    [Fact]
    public void The_min_max_map_stretches_each_vector_to_the_full_range()
    {
        using var scope = NewDisposeScope();
        var w = stack(new[] { linspace(-3, 5, 12).view(3, 2, 2), linspace(10, 11, 12).view(3, 2, 2) });
        var img = Images.ColorizeWeights(w, WeightStyle.MinMax);
        for (int k = 0; k < 2; k++)
        {
            Assert.Equal(0f, img[k].min().item<float>(), 6);
            Assert.Equal(1f, img[k].max().item<float>(), 6);
        }
    }

    [Fact]
    public void A_shared_scale_keeps_the_ratio_of_magnitudes_between_vectors()
    {
        using var scope = NewDisposeScope();
        var w = stack(new[] { full(3, 2, 2, 1f), full(3, 2, 2, 4f) });
        var own = Images.ColorizeWeights(w, WeightStyle.Symmetric);
        var shared = Images.ColorizeWeights(w, WeightStyle.Symmetric, sharedScale: true);
        Assert.Equal(1f, own[0].max().item<float>(), 6);
        Assert.Equal(0.5f + 1f / 8, shared[0].max().item<float>(), 6);
        Assert.Equal(1f, shared[1].max().item<float>(), 6);
    }

    [Fact]
    public void The_diverging_map_shows_zero_as_white_positive_as_red_and_negative_as_blue()
    {
        using var scope = NewDisposeScope();
        // Channel means per pixel: 0, +1, -1.
        var w = tensor(new[] { 0f, 1f, -1f }).view(1, 1, 1, 3).expand(1, 3, 1, 3);
        var img = Images.ColorizeWeights(w, WeightStyle.Diverging)[0];
        float At(int c, int x) => img[c, 0, x].item<float>();
        Assert.Equal(new[] { 1f, 1f, 1f }, new[] { At(0, 0), At(1, 0), At(2, 0) });
        Assert.True(At(0, 1) > 0.6f && At(2, 1) < 0.2f, "positive is red");
        Assert.True(At(2, 2) > 0.6f && At(0, 2) < 0.2f, "negative is blue");
    }

    [Fact]
    public void Flat_cifar_weight_rows_are_drawn_as_32_by_32_colour_images()
    {
        using var scope = NewDisposeScope();
        var w = randn(10, 3072, generator: new Generator(1));
        Assert.Equal(new long[] { 10, 3, 32, 32 }, Images.ColorizeWeights(w).shape);
        var html = Images.Weights(w, Enumerable.Range(0, 10).Select(i => $"class {i}").ToList()).Markup;
        Assert.Equal(10, Count(html, "<img "));
        Assert.Contains("class 9", html);
    }

    [Fact]
    public void Magnifying_a_perturbation_sends_its_largest_change_to_black_or_white()
    {
        using var scope = NewDisposeScope();
        var delta = tensor(new[] { 0.25f, -0.5f, 0f, 0.125f }).view(1, 1, 2, 2);
        var m = Images.Magnify(delta).flatten().data<float>().ToArray();
        Assert.Equal(new[] { 0.75f, 0f, 0.5f, 0.625f }, m);
        Assert.Equal(0.5f, Images.Magnify(zeros(1, 3, 2, 2)).max().item<float>());
    }

    [Fact]
    public void The_perturbation_view_shows_three_columns_and_the_l2_norm_of_each_change()
    {
        using var scope = NewDisposeScope();
        var original = full(2, 3, 4, 4, 0.5f);
        var adversarial = original.clone();
        adversarial[0, 0, 0, 0] = tensor(0.8f); // ||delta|| = 0.3
        var html = Images.Perturbations(original, adversarial, new[] { "cat → dog", "ship → truck" }).Markup;
        Assert.Equal(6, Count(html, "<img "));
        Assert.Contains("original", html);
        Assert.Contains("perturbation (magnified)", html);
        Assert.Contains("cat → dog, ‖δ‖₂ = 0.3", html);
        Assert.Contains("ship → truck, ‖δ‖₂ = 0", html);
    }

    [Fact]
    public void A_grid_encodes_its_captions_and_inlines_every_image()
    {
        using var scope = NewDisposeScope();
        var html = Images.Grid(rand(5, 3, 4, 4), columns: 2, rowCaptions: new[] { "<a>", "b", "c" }, columnCaptions: new[] { "x&y", "z" }).Markup;
        Assert.Equal(5, Count(html, "<img src=\"data:image/png;base64,"));
        Assert.Contains("&lt;a&gt;", html);
        Assert.Contains("x&amp;y", html);
        Assert.DoesNotContain("<a>", html);
    }

    [Fact]
    public void Per_class_samples_take_the_first_examples_of_each_class_in_rows()
    {
        using var scope = NewDisposeScope();
        var labels = tensor(new long[] { 1, 0, 1, 1, 0 });
        var html = Images.PerClass(rand(5, 3, 2, 2), labels, new[] { "zero", "one", "two" }, perClass: 2).Markup;
        Assert.Equal(4, Count(html, "<img "));
        Assert.Contains(">two<", html);
        Assert.Throws<ArgumentException>(() => Images.PerClass(rand(5, 3, 2, 2), labels, new[] { "zero" }));
    }

    static int Count(string s, string what) => (s.Length - s.Replace(what, "").Length) / what.Length;
}
