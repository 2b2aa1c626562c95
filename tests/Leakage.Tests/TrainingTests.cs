using Leakage.Models;
using Leakage.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Tests;

public sealed class TrainingTests : IDisposable
{
    readonly string root = Path.Combine(Path.GetTempPath(), "leakage-training-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
    }

    static readonly TrainingOptions Quick = new()
    {
        Epochs = 3,
        BatchSize = 32,
        LearningRate = 0.05,
        WarmupFraction = 0.2,
        Seed = 11,
    };

    static nn.Module<Tensor, Tensor> Fresh(long seed = 5) => ModelFactory.Create("small-cnn", seed, width: 8);

    sealed class Probe(Action<TrainingProgress> onReport) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => onReport(value);
    }

    [Fact]
    public void Training_loss_falls_and_the_model_learns_synthetic_classes()
    {
        var (x, y) = ToyCifar.Make(320, seed: 1);
        var (xt, yt) = ToyCifar.Make(200, seed: 2);
        using var model = Fresh();
        double before = Evaluation.Accuracy(model, xt, yt, CPU);
        var result = Trainer.Train(model, x, y, Quick with { Epochs = 5 }, CPU);

        Assert.Equal(5, result.History.Count);
        Assert.True(result.History[^1].Loss < 0.5 * result.History[0].Loss,
            $"loss went from {result.History[0].Loss:F3} to {result.History[^1].Loss:F3}");
        double after = Evaluation.Accuracy(model, xt, yt, CPU);
        Assert.True(after > 0.9 && after > before + 0.5, $"held-out accuracy {before:P0} -> {after:P0}");
        Assert.False(model.training);
    }

    [Fact]
    public void Same_seed_and_settings_give_identical_weights_and_another_seed_does_not()
    {
        var (x, y) = ToyCifar.Make(128, seed: 3);
        using var a = Fresh();
        using var b = Fresh();
        using var c = Fresh();
        Trainer.Train(a, x, y, Quick with { Epochs = 2 }, CPU);
        Trainer.Train(b, x, y, Quick with { Epochs = 2 }, CPU);
        Trainer.Train(c, x, y, Quick with { Epochs = 2, Seed = 12 }, CPU);
        Assert.Equal(Fingerprint.Of(a), Fingerprint.Of(b));
        Assert.NotEqual(Fingerprint.Of(a), Fingerprint.Of(c));
    }

    [Fact]
    public void Interrupted_training_resumed_from_its_checkpoint_equals_an_uninterrupted_run()
    {
        var (x, y) = ToyCifar.Make(128, seed: 4);
        using var reference = Fresh();
        var full = Trainer.Train(reference, x, y, Quick, CPU);

        var dir = Path.Combine(root, "ckpt");
        using var cts = new CancellationTokenSource();
        using (var interrupted = Fresh())
        {
            var stop = new Probe(p => { if (p.Epoch == 2 && p.Step == 2) cts.Cancel(); });
            Assert.ThrowsAny<OperationCanceledException>(() => Trainer.Train(interrupted, x, y, Quick, CPU, dir, stop, cancellationToken: cts.Token));
        }
        Assert.True(Directory.Exists(Path.Combine(dir, "epoch-0001")));

        var messages = new List<string>();
        using var resumed = Fresh();
        var result = Trainer.Train(resumed, x, y, Quick, CPU, dir, log: messages.Add);

        Assert.Equal(1, result.ResumedFromEpoch);
        Assert.Contains(messages, m => m.Contains("Resuming"));
        Assert.Equal(Fingerprint.Of(reference), Fingerprint.Of(resumed));
        Assert.Equal(full.History.Select(h => h.Loss), result.History.Select(h => h.Loss));
    }

    [Fact]
    public void A_finished_run_is_not_repeated()
    {
        var (x, y) = ToyCifar.Make(64, seed: 4);
        var dir = Path.Combine(root, "done");
        using var first = Fresh();
        Trainer.Train(first, x, y, Quick with { Epochs = 1 }, CPU, dir);
        int steps = 0;
        using var again = Fresh();
        var result = Trainer.Train(again, x, y, Quick with { Epochs = 1 }, CPU, dir, new Probe(_ => steps++));
        Assert.Equal(0, steps);
        Assert.Equal(1, result.ResumedFromEpoch);
        Assert.Equal(Fingerprint.Of(first), Fingerprint.Of(again));
    }

    [Fact]
    public void A_checkpoint_made_with_other_settings_is_not_resumed_and_the_log_says_why()
    {
        var (x, y) = ToyCifar.Make(64, seed: 4);
        var dir = Path.Combine(root, "other");
        using (var first = Fresh()) Trainer.Train(first, x, y, Quick with { Epochs = 2 }, CPU, dir);

        var messages = new List<string>();
        using var second = Fresh();
        var result = Trainer.Train(second, x, y, Quick with { Epochs = 2, LearningRate = 0.02 }, CPU, dir, log: messages.Add);
        Assert.Equal(0, result.ResumedFromEpoch);
        Assert.Contains(messages, m => m.Contains("settings differ") && m.Contains("learningRate"));

        messages.Clear();
        using var third = Fresh(seed: 6);
        result = Trainer.Train(third, x, y, Quick with { Epochs = 2, LearningRate = 0.02 }, CPU, dir, log: messages.Add);
        Assert.Equal(0, result.ResumedFromEpoch);
        Assert.Contains(messages, m => m.Contains("initialWeights"));
    }

    [Fact]
    public void A_nan_loss_raises_divergence_and_the_last_good_checkpoint_stays_usable()
    {
        var (x, y) = ToyCifar.Make(128, seed: 5);
        var dir = Path.Combine(root, "nan");
        var good = Quick with { Epochs = 2 };
        using var cts = new CancellationTokenSource();
        using (var m = Fresh())
        {
            var stopAfterEpoch1 = new Probe(p => { if (p.Epoch == 1 && p.EpochCompleted) cts.Cancel(); });
            Assert.ThrowsAny<OperationCanceledException>(() => Trainer.Train(m, x, y, good, CPU, dir, stopAfterEpoch1, cancellationToken: cts.Token));
        }

        using (var m = Fresh())
        {
            var e = Assert.Throws<TrainingDivergedException>(() => Trainer.Train(m, x, y, good with { LearningRate = 1e6 }, CPU, dir));
            Assert.Equal(1, e.Epoch);
            Assert.Contains("epoch 1", e.Message);
            Assert.Contains("learning rate", e.Message, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("LearningRate", e.Message);
        }

        using var resumed = Fresh();
        var result = Trainer.Train(resumed, x, y, good, CPU, dir);
        Assert.Equal(1, result.ResumedFromEpoch);
        Assert.True(result.History.All(h => double.IsFinite(h.Loss)));
    }

    [Fact]
    public void A_loss_explosion_mid_run_stops_training_and_keeps_the_previous_epoch()
    {
        var (x, y) = ToyCifar.Make(128, seed: 6);
        var dir = Path.Combine(root, "boom");
        using var model = Fresh();
        var fc = model.named_parameters().Single(p => p.name == "fc.weight").parameter;
        var sabotage = new Probe(p =>
        {
            if (p.Epoch == 2 && p.Step == 1)
                using (no_grad()) fc.mul_(1e5f);
        });
        var e = Assert.Throws<TrainingDivergedException>(() => Trainer.Train(model, x, y, Quick, CPU, dir, sabotage));
        Assert.Equal(2, e.Epoch);
        Assert.Equal(2, e.Step);
        Assert.True(e.Loss > Trainer.ExplodedLoss || double.IsNaN(e.Loss) || double.IsInfinity(e.Loss));
        Assert.EndsWith("epoch-0001", e.LastCheckpoint);
        Assert.Equal(["epoch-0001"], Directory.GetDirectories(dir).Select(Path.GetFileName));

        using var resumed = Fresh();
        Assert.Equal(1, Trainer.Train(resumed, x, y, Quick, CPU, dir).ResumedFromEpoch);
    }

    [Theory]
    [InlineData(LrSchedule.OneCycle)]
    [InlineData(LrSchedule.Cosine)]
    public void Learning_rate_warms_up_linearly_to_the_peak_then_decays_towards_zero(LrSchedule schedule)
    {
        var o = new TrainingOptions { LearningRate = 0.4, WarmupFraction = 0.25, Schedule = schedule };
        const int total = 100;
        var lr = Enumerable.Range(0, total).Select(s => o.LearningRateAt(s, total)).ToArray();
        Assert.Equal(0.4 / 25, lr[0], 12);
        Assert.Equal(0.4, lr[24], 12);
        Assert.Equal(0.4, lr[25], 12);
        for (int s = 1; s < 25; s++) Assert.Equal(lr[s - 1] + 0.4 / 25, lr[s], 12);
        for (int s = 26; s < total; s++) Assert.True(lr[s] < lr[s - 1]);
        Assert.True(lr[^1] > 0 && lr[^1] < 0.4 * 0.05);
        double mid = o.LearningRateAt(25 + 75 / 2, total);
        Assert.Equal(schedule == LrSchedule.OneCycle ? 0.4 * (1 - 37.0 / 75) : 0.4 * 0.5 * (1 + Math.Cos(Math.PI * 37 / 75)), mid, 12);
    }

    [Fact]
    public void Crop_and_flip_augmentation_returns_shifted_or_mirrored_copies()
    {
        using var scope = NewDisposeScope();
        var x = rand(6, 3, 32, 32);
        using var g = new Generator(3, CPU);
        var a = Augment.Apply(x, Augmentation.CropFlip, 4, PadMode.Zero, g);
        Assert.Equal(x.shape, a.shape);
        var padded = nn.functional.pad(x, [4, 4, 4, 4]);
        for (int i = 0; i < 6; i++)
        {
            bool found = false;
            for (int dy = 0; dy <= 8 && !found; dy++)
                for (int dx = 0; dx <= 8 && !found; dx++)
                {
                    var crop = padded[i, .., TensorIndex.Slice(dy, dy + 32), TensorIndex.Slice(dx, dx + 32)];
                    found = crop.eq(a[i]).all().item<bool>() || crop.flip(2).eq(a[i]).all().item<bool>();
                }
            Assert.True(found, $"image {i} is not a crop of its padded original");
        }
        var none = Augment.Apply(x, Augmentation.None, 4, PadMode.Zero, g);
        Assert.True(none.eq(x).all().item<bool>());
    }

    [Fact]
    public void Bad_options_and_data_are_rejected_naming_the_setting()
    {
        var (x, y) = ToyCifar.Make(16, seed: 1);
        using var model = Fresh();
        var e = Assert.Throws<ArgumentException>(() => Trainer.Train(model, x, y, Quick with { LearningRate = -1 }, CPU));
        Assert.Contains("LearningRate", e.Message);
        e = Assert.Throws<ArgumentException>(() => Trainer.Train(model, x, y.narrow(0, 0, 8), Quick, CPU));
        Assert.Contains("16 images but 8 labels", e.Message);
        e = Assert.Throws<ArgumentException>(() => Trainer.Train(model, x, y + 10, Quick, CPU));
        Assert.Contains("[0, 10)", e.Message);
    }

    [Fact]
    public void Evaluation_matches_the_argmax_of_the_logits_and_restores_the_mode()
    {
        var (x, y) = ToyCifar.Make(50, seed: 9);
        using var model = Fresh();
        model.train();
        var predicted = Evaluation.Predict(model, x, CPU, batchSize: 7);
        Assert.True(model.training);
        model.eval();
        using var expected = model.forward(x).argmax(1);
        Assert.True(predicted.eq(expected).all().item<bool>());
        Assert.Equal(expected.eq(y).sum().item<long>() / 50.0, Evaluation.Accuracy(model, x, y, CPU, batchSize: 9), 12);
    }
}
