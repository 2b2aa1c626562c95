using System.Text.Json.Nodes;
using Leakage.Tests.Support;
using Leakage.Experiment;
using Leakage.Adversarial;
using Leakage.Models;
using Leakage.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Tests;

public sealed class AdversarialTests(ToyModelFixture toy) : IClassFixture<ToyModelFixture>, IDisposable
{
    readonly string root = Path.Combine(Path.GetTempPath(), "leakage-adversarial-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
    }

    static readonly AdversarialOptions Quick = new() { Steps = 3, ChunkSize = 16, BatchSize = 8, Seed = 5 };

    sealed class Probe(Action<AdversarialProgress> onReport) : IProgress<AdversarialProgress>
    {
        public void Report(AdversarialProgress value) => onReport(value);
    }

    static Tensor Labels(int n, long seed)
    {
        using var g = new Generator((ulong)seed, CPU);
        return randint(0, 10, [n], generator: g);
    }

    static double Fraction(Tensor mask) => mask.to_type(ScalarType.Float64).mean().item<double>();

    [Fact]
    public void D_det_targets_are_the_next_class()
    {
        using var scope = NewDisposeScope();
        var y = arange(0, 10, dtype: ScalarType.Int64).repeat(3);
        var t = AdversarialSet.Of(AdversarialKind.Deterministic).DrawTargets(y, Quick, chunk: 0);
        Assert.Equal(new long[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 0 }, t.narrow(0, 0, 10).data<long>().ToArray());
        Assert.True(t.eq((y + 1).remainder(10)).all().item<bool>());
    }

    [Fact]
    public void D_rand_targets_are_uniform_over_all_ten_classes_as_in_the_paper()
    {
        using var scope = NewDisposeScope();
        const int n = 50_000;
        var y = Labels(n, seed: 1);
        var t = AdversarialSet.Of(AdversarialKind.Random).DrawTargets(y, Quick, chunk: 3);
        // Binomial(50000, 0.1): standard deviation 0.0013, so +-0.006 is more than 4 sigma.
        Assert.InRange(Fraction(t.eq(y)), 0.094, 0.106);
        for (int k = 0; k < 10; k++) Assert.InRange(Fraction(t.eq(k)), 0.094, 0.106);
        Assert.InRange(Fraction(t.eq(y.remainder(10).add(1).remainder(10))), 0.094, 0.106);
    }

    [Fact]
    public void D_rand_targets_can_exclude_the_source_class()
    {
        using var scope = NewDisposeScope();
        const int n = 45_000;
        var y = Labels(n, seed: 2);
        var t = AdversarialSet.Of(AdversarialKind.Random).DrawTargets(y, Quick with { RandomTargetExcludesSource = true }, chunk: 0);
        Assert.False(t.eq(y).any().item<bool>());
        var offset = (t - y + 10).remainder(10);
        for (int d = 1; d < 10; d++) Assert.InRange(Fraction(offset.eq(d)), 1 / 9.0 - 0.007, 1 / 9.0 + 0.007);
        for (int k = 0; k < 10; k++) Assert.InRange(Fraction(t.eq(k)), 0.093, 0.107);
    }

    [Fact]
    public void D_rand_targets_depend_only_on_the_seed_and_the_chunk()
    {
        using var scope = NewDisposeScope();
        var y = Labels(500, seed: 3);
        var a = AdversarialSet.Of(AdversarialKind.Random).DrawTargets(y, Quick, chunk: 1);
        var b = AdversarialSet.Of(AdversarialKind.Random).DrawTargets(y, Quick, chunk: 1);
        var c = AdversarialSet.Of(AdversarialKind.Random).DrawTargets(y, Quick, chunk: 2);
        var d = AdversarialSet.Of(AdversarialKind.Random).DrawTargets(y, Quick with { Seed = 6 }, chunk: 1);
        Assert.True(a.eq(b).all().item<bool>());
        Assert.False(a.eq(c).all().item<bool>());
        Assert.False(a.eq(d).all().item<bool>());
    }

    [Fact]
    public void A_data_set_holds_float_images_within_eps_labelled_with_their_targets()
    {
        var x = toy.Images.narrow(0, 0, 40);
        var y = toy.Labels.narrow(0, 0, 40);
        var dir = Path.Combine(root, "det");
        using var set = AdversarialDatasets.Build(AdversarialKind.Deterministic, toy.Model, x, y, Quick with { Eps = 1.0, StepSize = 0.4 }, dir, CPU);

        Assert.Equal(AdversarialKind.Deterministic, set.Kind);
        Assert.Equal(40, set.Count);
        Assert.True(set.Labels.eq(y).all().item<bool>());
        Assert.True(set.Targets.eq((y + 1).remainder(10)).all().item<bool>());
        Assert.Equal(ScalarType.Float32, set.Images.dtype);
        var distance = (set.Images - x).flatten(1).norm(1);
        Assert.True(distance.max().item<float>() <= 1.0 + 1e-5);
        Assert.True(distance.min().item<float>() > 0.1);
        Assert.True(set.Images.min().item<float>() >= 0 && set.Images.max().item<float>() <= 1);
        // Not rounded to 8 bits: most pixels are off the k/255 grid.
        var scaled = set.Images * 255;
        Assert.True(Fraction((scaled - scaled.round()).abs() > 1e-3) > 0.5);
        var predicted = Evaluation.Predict(toy.Model, set.Images, CPU);
        Assert.True(set.Success.eq(predicted.eq(set.Targets)).all().item<bool>());
        Assert.False(Directory.Exists(Path.Combine(dir, "chunks")));

        using var loaded = AdversarialDataset.Load(dir);
        Assert.True(loaded.Images.eq(set.Images).all().item<bool>());
        Assert.True(loaded.Targets.eq(set.Targets).all().item<bool>());
        Assert.Equal(set.SuccessRate, loaded.SuccessRate, 12);
        Assert.Equal(3, (int)loaded.Settings["steps"]!);
        Assert.Equal(Fingerprint.Of(toy.Model), (string?)loaded.Settings["sourceModel"]);
    }

    [Fact]
    public void An_interrupted_d_rand_generation_resumed_gives_exactly_the_uninterrupted_data_set()
    {
        var x = toy.Images.narrow(0, 0, 60);
        var y = toy.Labels.narrow(0, 0, 60);
        var options = Quick with { RandomStart = true };
        using var reference = AdversarialDatasets.Build(AdversarialKind.Random, toy.Model, x, y, options, Path.Combine(root, "a"), CPU);

        var dir = Path.Combine(root, "b");
        using var cts = new CancellationTokenSource();
        var stop = new Probe(p => { if (p.ImagesDone >= 24) cts.Cancel(); });
        Assert.ThrowsAny<OperationCanceledException>(() =>
            AdversarialDatasets.Build(AdversarialKind.Random, toy.Model, x, y, options, dir, CPU, stop, cts.Token));
        Assert.True(File.Exists(Path.Combine(dir, "chunks", "chunk-00000", "metadata.json")));
        Assert.False(File.Exists(Path.Combine(dir, "chunks", "chunk-00001", "metadata.json")));

        var reports = new List<AdversarialProgress>();
        using var resumed = AdversarialDatasets.Build(AdversarialKind.Random, toy.Model, x, y, options, dir, CPU, new Probe(reports.Add));

        Assert.Equal(16, reports[0].ImagesDone);
        Assert.Equal(0, reports[0].ImagesPerSecond);
        Assert.True(resumed.Images.eq(reference.Images).all().item<bool>());
        Assert.True(resumed.Targets.eq(reference.Targets).all().item<bool>());
        Assert.True(resumed.Success.eq(reference.Success).all().item<bool>());
        Assert.True(resumed.Labels.eq(reference.Labels).all().item<bool>());
    }

    [Fact]
    public void A_sets_rule_draws_for_all_images_the_targets_its_attack_drew_chunk_by_chunk()
    {
        var x = toy.Images.narrow(0, 0, 40);  // chunks of 16, 16 and 8 images
        var y = toy.Labels.narrow(0, 0, 40);
        foreach (var set in AdversarialSet.All)
        {
            using var built = AdversarialDatasets.Build(set.Kind, toy.Model, x, y, Quick with { Steps = 1 }, Path.Combine(root, set.Folder), CPU);
            using var drawn = set.DrawTargets(y, Quick);
            Assert.True(drawn.eq(built.Targets).all().item<bool>(), $"{set}: the whole-set draw differs from the attack's targets");
            // Another seed: a fresh draw by the same rule, chunk by chunk (the leakage step's null over target draws).
            using var fresh = set.DrawTargets(y, Quick with { Seed = 99 });
            for (int c = 0; c < 3; c++)
            {
                using var part = set.DrawTargets(y.narrow(0, 16 * c, Math.Min(16, 40 - 16 * c)), Quick with { Seed = 99 }, chunk: c);
                Assert.True(fresh.narrow(0, 16 * c, part.shape[0]).eq(part).all().item<bool>(), $"{set}: chunk {c} of a fresh draw");
            }
            if (set.Kind != AdversarialKind.Deterministic) Assert.False(fresh.eq(built.Targets).all().item<bool>(), $"{set}: another seed drew the same targets");
        }
    }

    [Fact]
    public void A_data_set_made_with_other_settings_is_regenerated_and_the_log_says_why()
    {
        var x = toy.Images.narrow(0, 0, 20);
        var y = toy.Labels.narrow(0, 0, 20);
        var dir = Path.Combine(root, "settings");
        var messages = new List<string>();
        using (AdversarialDatasets.Build(AdversarialKind.Random, toy.Model, x, y, Quick, dir, CPU, log: messages.Add)) { }
        using (AdversarialDatasets.Build(AdversarialKind.Random, toy.Model, x, y, Quick, dir, CPU, log: messages.Add)) { }
        Assert.Contains(messages, m => m.StartsWith("Reusing"));

        messages.Clear();
        using var again = AdversarialDatasets.Build(AdversarialKind.Random, toy.Model, x, y, Quick with { Steps = 2 }, dir, CPU, log: messages.Add);
        Assert.Contains(messages, m => m.StartsWith("Regenerating") && m.Contains("steps: 3 -> 2"));
        Assert.Equal(2, (int)again.Settings["steps"]!);

        using var other = ModelFactory.Create("small-cnn", seed: 99, width: 8);
        messages.Clear();
        using var fromOtherModel = AdversarialDatasets.Build(AdversarialKind.Random, other, x, y, Quick with { Steps = 2 }, dir, CPU, log: messages.Add);
        Assert.Contains(messages, m => m.StartsWith("Regenerating") && m.Contains("sourceModel"));
    }

    [Fact]
    public void A_corrupt_data_set_file_is_refused()
    {
        var x = toy.Images.narrow(0, 0, 10);
        var y = toy.Labels.narrow(0, 0, 10);
        var dir = Path.Combine(root, "corrupt");
        using (AdversarialDatasets.Build(AdversarialKind.Deterministic, toy.Model, x, y, Quick, dir, CPU)) { }
        var path = Path.Combine(dir, "images.bin");
        var bytes = File.ReadAllBytes(path);
        bytes[^7] ^= 0x01;
        File.WriteAllBytes(path, bytes);

        var e = Assert.Throws<InvalidDataException>(() => AdversarialDataset.Load(dir));
        Assert.Contains("checksum", e.Message);
        var messages = new List<string>();
        using var rebuilt = AdversarialDatasets.Build(AdversarialKind.Deterministic, toy.Model, x, y, Quick, dir, CPU, log: messages.Add);
        Assert.Contains(messages, m => m.StartsWith("Regenerating") && m.Contains("checksum"));
    }

    [Fact]
    public void Transfer_training_on_correctly_labelled_images_reaches_high_clean_accuracy()
    {
        // The transfer step's own recipe and model cache (TransferStep.Options, ModelCache), on correct labels.
        using var dir = new TempDir();
        var settings = SettingsOverrides.Apply(Profiles.Get("quick"),
            ["device=cpu", "seed=1", "standard.width=8", "transfer.epochs=4", "transfer.batchSize=25", "transfer.lrRand=0.05", "transfer.augment=false"]);
        using var run = ExperimentRun.Open(settings, dir["no-data-needed"], dir["run"]);
        var training = TransferStep.Options(settings, AdversarialKind.Random);
        var job = new ModelJob("transfer_rand", "Transfer model on D_rand", "training", training, new JsonObject { ["data"] = "toy" }, StepCatalog.TransferRand.Key, "transfer.lrRand");
        var result = ModelCache.TrainOrLoad(run, job, toy.Images, toy.Labels, default);
        using var model = result.Model;
        double test = Evaluation.Accuracy(model, toy.TestImages, toy.TestLabels, CPU);
        Assert.True(test > 0.9, $"clean accuracy {test:P0}");
        Assert.True(Evaluation.Accuracy(model, toy.Images, toy.Labels, CPU) > 0.9);
        Assert.Equal(4, result.History.Count);
        Assert.False(result.Cached);

        var again = ModelCache.TrainOrLoad(run, job, toy.Images, toy.Labels, default);
        using var loaded = again.Model;
        Assert.True(again.Cached);
        Assert.Equal(4, again.History.Count);
        Assert.Equal(test, Evaluation.Accuracy(loaded, toy.TestImages, toy.TestLabels, CPU));
    }

    [Fact]
    public void Default_transfer_settings_separate_learning_rate_and_augmentation()
    {
        var defaults = new ExperimentSettings();
        var rand = TransferStep.Options(defaults, AdversarialKind.Random);
        var det = TransferStep.Options(defaults, AdversarialKind.Deterministic);
        Assert.Equal(0.01, rand.LearningRate);
        Assert.Equal(defaults.Transfer.LrDet, det.LearningRate);
        Assert.NotEqual(Augmentation.CropFlip, rand.Augmentation);
        Assert.Equal(Augmentation.None, det.Augmentation);
        Assert.Equal(defaults.Seed + 1, rand.Seed);
    }
}
