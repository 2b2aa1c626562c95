using Leakage.IO;
using Leakage.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Tests;

public sealed class ModelsTests : IDisposable
{
    readonly string dir = Path.Combine(Path.GetTempPath(), "leakage-models-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
    }

    [Theory]
    [InlineData(ModelFactory.SmallCnnArch, 8)]
    [InlineData(ModelFactory.ResNet18Arch, 4)]
    public void Every_architecture_maps_images_to_ten_logits_and_normalises_inside(string arch, int width)
    {
        using var scope = NewDisposeScope();
        var model = ModelFactory.Create(arch, seed: 1, width: width);
        model.eval();
        var logits = model.forward(rand(3, 3, 32, 32));
        Assert.Equal(new long[] { 3, CifarStats.Classes }, logits.shape);
        Assert.Contains(model.modules(), m => m is InputNormalize);
        var classifier = Assert.IsAssignableFrom<ICifarClassifier>(model);
        Assert.Equal(arch, classifier.Arch);
        Assert.Equal(width, classifier.Width);
    }

    [Fact]
    public void Input_normalize_clamps_pixels_to_the_unit_range_before_normalising()
    {
        using var scope = NewDisposeScope();
        var norm = new InputNormalize();
        var x = zeros(1, 3, 1, 2);
        x[0, .., 0, 0] = tensor(new[] { -1f, -5f, -0.5f });
        x[0, .., 0, 1] = tensor(new[] { 2f, 7f, 1.5f });
        var y = norm.forward(x);
        for (int c = 0; c < 3; c++)
        {
            Assert.Equal((0 - CifarStats.Mean[c]) / CifarStats.Std[c], y[0, c, 0, 0].item<float>(), 5);
            Assert.Equal((1 - CifarStats.Mean[c]) / CifarStats.Std[c], y[0, c, 0, 1].item<float>(), 5);
        }
    }

    [Fact]
    public void Cifar_constants_are_madrylabs()
    {
        Assert.Equal([0.4914f, 0.4822f, 0.4465f], CifarStats.Mean);
        Assert.Equal([0.2023f, 0.1994f, 0.2010f], CifarStats.Std);
    }

    [Fact]
    public void Unknown_architecture_is_rejected_with_the_valid_names()
    {
        var e = Assert.Throws<ArgumentException>(() => ModelFactory.Create("vgg16"));
        Assert.Contains("vgg16", e.Message);
        Assert.Contains(ModelFactory.SmallCnnArch, e.Message);
        Assert.Contains(ModelFactory.ResNet18Arch, e.Message);
    }

    [Fact]
    public void Same_seed_builds_identical_models_and_another_seed_does_not()
    {
        using var a = ModelFactory.Create("small-cnn", seed: 7, width: 8);
        using var b = ModelFactory.Create("SMALL-CNN", seed: 7, width: 8);
        using var c = ModelFactory.Create("small-cnn", seed: 8, width: 8);
        Assert.Equal(Fingerprint.Of(a), Fingerprint.Of(b));
        Assert.NotEqual(Fingerprint.Of(a), Fingerprint.Of(c));
        using (no_grad()) b.parameters().First().view(-1)[0].add_(1e-3f);
        Assert.NotEqual(Fingerprint.Of(a), Fingerprint.Of(b));
    }

    [Fact]
    public void Default_initialisation_matches_pytorch_bounds()
    {
        using var model = ModelFactory.Create("small-cnn", seed: 3, width: 8);
        foreach (var (name, p) in model.named_parameters())
        {
            if (name.StartsWith("bn")) continue;
            long fanIn = name.StartsWith("fc") ? 64 : p.shape.Skip(1).Aggregate(1L, (x, y) => x * y);
            var bound = 1 / Math.Sqrt(fanIn);
            Assert.True(p.abs().max().item<float>() <= bound + 1e-7, $"{name} exceeds +-1/sqrt(fan_in)");
            Assert.True(p.abs().max().item<float>() > 0.5 * bound, $"{name} is not spread over +-1/sqrt(fan_in)");
        }
    }

    [Fact]
    public void A_saved_model_loads_back_with_identical_outputs()
    {
        using var scope = NewDisposeScope();
        var model = ModelFactory.Create("small-cnn", seed: 2, width: 8);
        model.eval();
        var x = rand(4, 3, 32, 32);
        var expected = model.forward(x);
        ModelStore.Save(model, dir, new { epochs = 3, lr = 0.1 });
        var loaded = ModelStore.Load(dir, "small-cnn", new { epochs = 3, lr = 0.1 }, CPU, width: 8);
        Assert.False(loaded.training);
        Assert.Equal(Fingerprint.Of(model), Fingerprint.Of(loaded));
        Assert.True(expected.eq(loaded.forward(x)).all().item<bool>());
    }

    [Fact]
    public void A_corrupt_model_file_is_refused_with_the_reason()
    {
        using var model = ModelFactory.Create("small-cnn", seed: 2, width: 8);
        ModelStore.Save(model, dir, new { run = 1 });
        var path = Path.Combine(dir, ModelStore.WeightsFile);
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(path, bytes);

        var e = Assert.Throws<InvalidDataException>(() => ModelStore.Load(dir, "small-cnn", new { run = 1 }, CPU, width: 8));
        Assert.Contains("checksum", e.Message);
        Assert.Contains(ModelStore.WeightsFile, e.Message);

        File.WriteAllBytes(path, bytes[..^100]);
        Assert.False(ModelStore.TryLoad(dir, "small-cnn", new { run = 1 }, CPU, out var none, out var reason, width: 8));
        Assert.Null(none);
        Assert.Contains("truncated", reason);
    }

    [Fact]
    public void A_model_saved_with_other_settings_is_not_reused()
    {
        using var model = ModelFactory.Create("small-cnn", seed: 2, width: 8);
        ModelStore.Save(model, dir, new { epochs = 3, lr = 0.1 });

        Assert.False(ModelStore.TryLoad(dir, "small-cnn", new { epochs = 4, lr = 0.1 }, CPU, out _, out var reason, width: 8));
        Assert.Contains("epochs", reason);
        Assert.False(ModelStore.TryLoad(dir, "small-cnn", new { epochs = 3, lr = 0.1 }, CPU, out _, out reason, width: 16));
        Assert.Contains("width", reason);
        Assert.False(ModelStore.TryLoad(dir, "resnet18", new { epochs = 3, lr = 0.1 }, CPU, out _, out reason, width: 8));
        Assert.Contains("arch", reason);
        Assert.True(ModelStore.TryLoad(dir, "small-cnn", new { epochs = 3, lr = 0.1 }, CPU, out var ok, out _, width: 8));
        ok.Dispose();
    }

    [Fact]
    public void Saving_a_model_not_built_by_the_factory_is_rejected()
    {
        using var plain = nn.Sequential(nn.Flatten(), nn.Linear(3072, 10));
        var e = Assert.Throws<ArgumentException>(() => ModelStore.Save(plain, dir, new { }));
        Assert.Contains(nameof(ICifarClassifier), e.Message);
    }
}
