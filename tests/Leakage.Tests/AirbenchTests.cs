using Leakage.IO;
using Leakage.Models;
using Leakage.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Leakage.Tests;

/// <summary>Keller Jordan's airbench94 network and recipe: the whitening layer, the folded copy, and the recipe's pieces in the trainer.</summary>
public sealed class AirbenchTests : IDisposable
{
    readonly string root = Path.Combine(Path.GetTempPath(), "leakage-airbench-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
    }

    /// <summary>The airbench recipe at toy scale: Nesterov SGD with batch-norm learning rate x64, lookahead, alternating flip, translate 2.</summary>
    static readonly TrainingOptions Recipe = new()
    {
        Epochs = 5,
        BatchSize = 32,
        LearningRate = 0.2,
        Momentum = 0.85,
        WeightDecay = 1.33e-3,
        Schedule = LrSchedule.Airbench,
        NormLrScale = 64,
        LookaheadEvery = 5,
        Augmentation = Augmentation.CropAlternatingFlip,
        CropPadding = 2,
        Seed = 7,
    };

    static AirbenchNet Fresh(long seed = 3) => (AirbenchNet)ModelFactory.Create(ModelFactory.AirbenchArch, seed, width: 8);

    sealed class Probe(Action<TrainingProgress> onReport) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => onReport(value);
    }

    /// <summary>400 images with correlated channels and neighbouring pixels, as in natural images.</summary>
    static Tensor CorrelatedImages(Generator g)
    {
        var smooth = nn.functional.avg_pool2d(rand([400, 1, 34, 34], generator: g), 3, stride: 1);
        return cat([smooth, 0.7 * smooth + 0.3 * rand([400, 1, 32, 32], generator: g), rand([400, 1, 32, 32], generator: g)], 1).clamp(0, 1);
    }

    [Fact]
    public void The_whitening_layer_makes_the_normalised_2x2_patches_uncorrelated_with_unit_variance()
    {
        using var scope = NewDisposeScope();
        using var g = new Generator(1, CPU);
        var images = CorrelatedImages(g);
        using var model = Fresh();
        model.InitializeFromData(images, g);
        var weight = model.named_parameters().Single(p => p.name == "whiten.weight").parameter.detach();
        Assert.False(model.named_parameters().Single(p => p.name == "whiten.weight").parameter.requires_grad);
        // Its first 12 filters applied to the normalised patches (the second 12 are their negatives).
        var x = new InputNormalize().forward(images);
        var z = nn.functional.conv2d(x, weight.narrow(0, 0, 12)).permute(1, 0, 2, 3).reshape(12, -1).to_type(ScalarType.Float64);
        var cov = z.matmul(z.t()) / z.shape[1];
        var offDiagonal = (cov - diag(diag(cov))).abs().max().item<double>();
        Assert.True(offDiagonal < 0.02, $"whitened patch channels still correlate up to {offDiagonal:F3}");
        var d = diag(cov).data<double>().ToArray();
        // lambda / (lambda + 5e-4): 1 for every direction with variance well above the regulariser.
        Assert.All(d, v => Assert.InRange(v, 0.5, 1.0001));
        Assert.Equal(weight.narrow(0, 0, 12).neg().data<float>().ToArray(), weight.narrow(0, 12, 12).data<float>().ToArray());
    }

    [Fact]
    public void Flat_whitening_keeps_the_directions_and_gives_them_one_common_scale()
    {
        using var scope = NewDisposeScope();
        var images = CorrelatedImages(new Generator(1, CPU));
        Tensor Filters(bool scale, double eps = AirbenchNet.DefaultWhiteningEps)
        {
            using var model = Fresh();
            (model.ScaleWhitening, model.WhiteningEps) = (scale, eps);
            model.InitializeFromData(images, new Generator(2, CPU));
            return model.named_parameters().Single(p => p.name == "whiten.weight").parameter.detach().narrow(0, 0, 12).reshape(12, -1).to_type(ScalarType.Float64).clone();
        }
        var flat = Filters(false);
        var whitened = Filters(true);
        // Flat: orthogonal filters of one common length, so the layer is a rotation times a constant.
        var gram = flat.matmul(flat.t());
        var length = gram[0, 0].item<double>();
        Assert.True((gram - length * eye(12, dtype: ScalarType.Float64)).abs().max().item<double>() < 1e-4 * length, "flat filters are not orthogonal with one length");
        // The same directions as airbench's whitening: each filter is a multiple of the whitened one.
        var cosine = (flat * whitened).sum(1).abs() / (flat.norm(1) * whitened.norm(1));
        Assert.True(cosine.min().item<double>() > 0.9999, $"a flat filter turned away from its whitened direction (cosine {cosine.min().item<double>():F6})");
        // Whitening scales the directions by very different amounts; flat by one.
        var lengths = whitened.norm(1);
        Assert.True((lengths.max() / lengths.min()).item<double>() > 5);
        // A larger regulariser (1 / sqrt(v + eps)) shortens the rarest direction (the last, variance smallest) far more than the commonest.
        var blunt = Filters(true, 1.0).norm(1);
        double rare = (lengths[11] / blunt[11]).item<double>(), common = (lengths[0] / blunt[0]).item<double>();
        Assert.True(rare > 2 * common, $"eps 1 shortened the rarest direction {rare:F2}x and the commonest {common:F2}x");
    }

    [Fact]
    public void Each_3x3_convolution_starts_as_the_identity_on_its_first_channels()
    {
        using var model = Fresh();
        var convs = model.modules().OfType<Conv2d>().Where(c => c.weight!.shape[2] == 3).ToList();
        Assert.Equal(6, convs.Count);
        foreach (var conv in convs)
        {
            var w = conv.weight!.detach();
            long n = Math.Min(w.shape[0], w.shape[1]);
            using var expected = zeros(n, w.shape[1], 3, 3);
            nn.init.dirac_(expected);
            Assert.True(w.narrow(0, 0, n).eq(expected).all().item<bool>(), "the first output channels pass their input channel through");
        }
        // The batch norms' scales do not train (airbench: weight frozen at 1).
        Assert.All(model.modules().OfType<BatchNorm2d>(), bn => Assert.False(bn.weight!.requires_grad));
    }

    [Fact]
    public void A_folded_airbench_net_gives_the_models_logits_and_input_gradients()
    {
        using var scope = NewDisposeScope();
        using var model = Fresh();
        using var g = new Generator(5, CPU);
        using (no_grad())
            foreach (var bn in model.modules().OfType<BatchNorm2d>())
            {
                bn.running_mean!.copy_(randn(bn.running_mean.shape, generator: g) * 0.3);
                bn.running_var!.copy_(rand(bn.running_var.shape, generator: g) + 0.5);
                bn.bias!.copy_(randn(bn.bias.shape, generator: g) * 0.2);
            }
        model.eval();
        using var folded = model.FoldedCopy();
        var x = rand([8, 3, 32, 32], generator: g);
        var targets = arange(8, dtype: ScalarType.Int64) % 10;
        (Tensor, Tensor) Run(nn.Module<Tensor, Tensor> m)
        {
            var input = x.detach().clone().requires_grad_(true);
            var logits = m.forward(input);
            nn.functional.cross_entropy(logits, targets).backward();
            return (logits.detach(), input.grad!.detach().clone());
        }
        var (l1, g1) = Run(model);
        var (l2, g2) = Run(folded);
        Assert.True((l1 - l2).abs().max().item<float>() <= 1e-5, "logits differ");
        Assert.True(((g1 - g2).abs().max() / g1.abs().max()).item<float>() <= 1e-4, "input gradients differ");
        Assert.NotEqual(Fingerprint.Of(model), Fingerprint.Of(folded));
    }

    [Fact]
    public void The_recipe_learns_and_freezes_the_whitening_bias_after_three_epochs()
    {
        var (x, y) = ToyCifar.Make(320, seed: 1);
        var (xt, yt) = ToyCifar.Make(200, seed: 2);
        using var model = Fresh();
        var biasAfter = new Dictionary<int, float[]>();
        var probe = new Probe(p => { if (p.EpochCompleted) biasAfter[p.Epoch] = model.WhiteningBias.detach().data<float>().ToArray(); });
        Trainer.Train(model, x, y, Recipe, CPU, progress: probe);
        double accuracy = Evaluation.Accuracy(model, xt, yt, CPU);
        Assert.True(accuracy > 0.9, $"held-out accuracy {accuracy:P0}");
        Assert.NotEqual(biasAfter[1], biasAfter[3]);
        // Frozen after epoch 3; lookahead only averages it with its own unchanged value.
        Assert.Equal(biasAfter[3], biasAfter[5]);
        Assert.All(model.modules().OfType<BatchNorm2d>(), bn => Assert.True(bn.weight!.detach().eq(1).all().item<bool>()));
    }

    [Fact]
    public void Interrupted_airbench_training_resumed_from_its_checkpoint_equals_an_uninterrupted_run()
    {
        var (x, y) = ToyCifar.Make(128, seed: 4);
        var options = Recipe with { Epochs = 4 };
        using var reference = Fresh();
        var full = Trainer.Train(reference, x, y, options, CPU);

        var dir = Path.Combine(root, "ckpt");
        using var cts = new CancellationTokenSource();
        using (var interrupted = Fresh())
        {
            // Mid-epoch 4, past the whitening bias's last epoch and between two lookahead updates.
            var stop = new Probe(p => { if (p.Epoch == 4 && p.Step == 2) cts.Cancel(); });
            Assert.ThrowsAny<OperationCanceledException>(() => Trainer.Train(interrupted, x, y, options, CPU, dir, stop, cancellationToken: cts.Token));
        }
        Assert.True(File.Exists(Path.Combine(dir, "epoch-0003", "lookahead.bin")));
        using var resumed = Fresh();
        var result = Trainer.Train(resumed, x, y, options, CPU, dir);
        Assert.Equal(3, result.ResumedFromEpoch);
        Assert.Equal(Fingerprint.Of(reference), Fingerprint.Of(resumed));
        Assert.Equal(full.History.Select(h => h.Loss), result.History.Select(h => h.Loss));
    }

    [Fact]
    public void The_airbench_schedule_rises_from_a_fifth_of_the_peak_and_ends_near_seven_percent()
    {
        var o = new TrainingOptions { LearningRate = 2.0, Schedule = LrSchedule.Airbench };
        const int total = 100;
        var lr = Enumerable.Range(0, total).Select(s => o.LearningRateAt(s, total)).ToArray();
        Assert.Equal(0.4, lr[0], 12);
        Assert.Equal(2.0, lr[23], 12);
        Assert.True(lr.Take(23).Zip(lr.Skip(1)).All(p => p.Second > p.First));
        Assert.True(lr.Skip(23).Zip(lr.Skip(24)).All(p => p.Second < p.First));
        Assert.InRange(lr[^1], 0.14, 0.17); // 2 x (1 - 0.93 x 76/77)
    }

    [Fact]
    public void The_alternating_flip_shows_each_image_mirrored_in_exactly_one_of_two_epochs()
    {
        using var scope = NewDisposeScope();
        var x = rand(6, 3, 32, 32);
        using var g = new Generator(3, CPU);
        var mask = tensor(new[] { true, false, true, true, false, false });
        var even = Augment.Apply(x, Augmentation.CropAlternatingFlip, 0, PadMode.Reflect, g, mask);
        var odd = Augment.Apply(x, Augmentation.CropAlternatingFlip, 0, PadMode.Reflect, g, mask.logical_not());
        for (int i = 0; i < 6; i++)
        {
            bool flippedEven = even[i].eq(x[i].flip(2)).all().item<bool>(), flippedOdd = odd[i].eq(x[i].flip(2)).all().item<bool>();
            Assert.True(flippedEven != flippedOdd, $"image {i}");
            Assert.Equal(mask[i].item<bool>(), flippedEven);
        }
        Assert.Throws<ArgumentException>(() => Augment.Apply(x, Augmentation.CropAlternatingFlip, 2, PadMode.Reflect, g));
    }

    [Fact]
    public void Recipe_settings_left_unset_keep_the_checkpoint_identity_of_older_runs()
    {
        var node = Artifacts.ToNode(new TrainingOptions()).AsObject();
        Assert.False(node.ContainsKey("normLrScale"));
        Assert.False(node.ContainsKey("labelSmoothing"));
        Assert.False(node.ContainsKey("lookaheadEvery"));
        Assert.True(Artifacts.ToNode(Recipe).AsObject().ContainsKey("normLrScale"));
    }
}
