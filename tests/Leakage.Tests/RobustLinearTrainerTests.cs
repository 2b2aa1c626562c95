using Leakage.Attacks;
using Leakage.IO;
using Leakage.Robust;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Tests;

public class RobustLinearTrainerTests
{
    const double Eps = 0.3;
    static readonly RadiusGeometry Geometry = RadiusGeometry.Pixel(150);

    /// <summary>Robust and fragile signal (see <see cref="RobustTestData.RobustAndFragile"/>): a train and a held-out set.</summary>
    static (Tensor TrainX, Tensor TrainY, Tensor TestX, Tensor TestY) Data(int nTrain = 1000)
    {
        var (trainX, trainY) = RobustTestData.RobustAndFragile(nTrain, seed: 6);
        var (testX, testY) = RobustTestData.RobustAndFragile(400, seed: 7);
        return (trainX, trainY, testX, testY);
    }

    static readonly RobustLinearOptions Fast = new()
    {
        Epochs = 20, BatchSize = 100, LearningRate = 1e-2, WarmupEpochs = 0, TrainRadius = Eps, CertifyRadius = Eps,
    };

    [Fact]
    public void Robust_training_loss_falls_and_certified_accuracy_beats_plain_training()
    {
        using var scope = NewDisposeScope();
        var (trainX, trainY, testX, testY) = Data();
        using var robust = RobustLinearTrainer.Train(trainX, trainY, Fast);
        using var plain = RobustLinearTrainer.Train(trainX, trainY, Fast with { TrainRadius = 0 });

        var first = robust.History[0].RobustLoss;
        var last = robust.History[^1].RobustLoss;
        Assert.True(last < 0.8 * first, $"robust loss did not fall: {first:0.0000} -> {last:0.0000}");
        Assert.All(robust.History, e => Assert.Equal(Eps, e.Radius));

        var robustCert = robust.Certify(testX, testY, Geometry);
        var plainCert = plain.Certify(testX, testY, Geometry);
        Assert.True(robustCert.CertifiedAccuracy > plainCert.CertifiedAccuracy + 0.05,
            $"held-out certified accuracy at {Eps}: robust {robustCert.CertifiedAccuracy:P1} vs plain {plainCert.CertifiedAccuracy:P1}");
        // The price: the plain model also uses the fragile pixels, which the robust one must give up.
        Assert.True(plainCert.CleanAccuracy >= robustCert.CleanAccuracy,
            $"clean accuracy: robust {robustCert.CleanAccuracy:P1} vs plain {plainCert.CleanAccuracy:P1}");
    }

    [Fact]
    public void Pgd_adversarial_training_also_beats_plain_training_on_certified_accuracy()
    {
        using var scope = NewDisposeScope();
        var (trainX, trainY, testX, testY) = Data();
        using var pgd = RobustLinearTrainer.Train(trainX, trainY, Fast with { Mode = RobustTrainingMode.Pgd, PgdSteps = 5 });
        using var plain = RobustLinearTrainer.Train(trainX, trainY, Fast with { TrainRadius = 0 });
        var pgdCert = pgd.Certify(testX, testY, Geometry);
        var plainCert = plain.Certify(testX, testY, Geometry);
        Assert.True(pgdCert.CertifiedAccuracy > plainCert.CertifiedAccuracy + 0.05,
            $"held-out certified accuracy at {Eps}: PGD-trained {pgdCert.CertifiedAccuracy:P1} vs plain {plainCert.CertifiedAccuracy:P1}");
    }

    [Fact]
    public void Training_is_reproducible_for_a_seed_and_differs_across_seeds()
    {
        using var scope = NewDisposeScope();
        var (trainX, trainY, _, _) = Data(nTrain: 300);
        var options = Fast with { Epochs = 3 };
        using var a = RobustLinearTrainer.Train(trainX, trainY, options);
        using var b = RobustLinearTrainer.Train(trainX, trainY, options);
        using var c = RobustLinearTrainer.Train(trainX, trainY, options with { Seed = 1 });
        Assert.True(a.Model.weight.eq(b.Model.weight).all().item<bool>());
        Assert.True(a.Model.bias.eq(b.Model.bias).all().item<bool>());
        Assert.False(a.Model.weight.eq(c.Model.weight).all().item<bool>());
    }

    [Fact]
    public void Radius_warm_up_ramps_linearly_to_the_training_radius()
    {
        using var scope = NewDisposeScope();
        var (trainX, trainY, _, _) = Data(nTrain: 300);
        using var result = RobustLinearTrainer.Train(trainX, trainY, Fast with { Epochs = 4, WarmupEpochs = 2 });
        Assert.Equal([Eps / 2, Eps, Eps, Eps], result.History.Select(e => e.Radius).ToArray());
    }

    [Fact]
    public void Clean_loss_weight_one_is_exactly_plain_training()
    {
        using var scope = NewDisposeScope();
        var (trainX, trainY, _, _) = Data(nTrain: 300);
        using var mixed = RobustLinearTrainer.Train(trainX, trainY, Fast with { Epochs = 3, CleanLossWeight = 1 });
        using var plain = RobustLinearTrainer.Train(trainX, trainY, Fast with { Epochs = 3, TrainRadius = 0 });
        Assert.True(mixed.Model.weight.allclose(plain.Model.weight, rtol: 0, atol: 1e-6));
    }

    [Fact]
    public void Trained_classifier_is_saved_and_reloaded_only_for_the_same_settings()
    {
        using var scope = NewDisposeScope();
        var (trainX, trainY, _, _) = Data(nTrain: 200);
        var dir = Path.Combine(Path.GetTempPath(), "leakage-robust-" + Guid.NewGuid().ToString("N"));
        try
        {
            var options = Fast with { Epochs = 2 };
            var log = new List<string>();
            using var trained = RobustLinearTrainer.TrainOrLoad(dir, "blobs-v1", trainX, trainY, options, log: log.Add);
            Assert.False(trained.Loaded);
            Assert.True(File.Exists(Path.Combine(dir, Artifacts.MetadataFile)));

            using var loaded = RobustLinearTrainer.TrainOrLoad(dir, "blobs-v1", trainX, trainY, options, log: log.Add);
            Assert.True(loaded.Loaded);
            Assert.True(loaded.Model.weight.eq(trained.Model.weight).all().item<bool>());
            Assert.True(loaded.Model.bias.eq(trained.Model.bias).all().item<bool>());
            Assert.Equal(trained.History, loaded.History);

            using var retrained = RobustLinearTrainer.TrainOrLoad(dir, "blobs-v1", trainX, trainY, options with { TrainRadius = 0.1 }, log: log.Add);
            Assert.False(retrained.Loaded);
            Assert.Contains(log, line => line.Contains("settings differ") && line.Contains("trainRadius"));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Invalid_settings_and_labels_are_rejected_with_a_clear_message()
    {
        using var scope = NewDisposeScope();
        var (x, y, _, _) = Data(nTrain: 50);
        Assert.Contains("TrainRadius", Assert.Throws<ArgumentException>(() => RobustLinearTrainer.Train(x, y, Fast with { TrainRadius = -1 })).Message);
        Assert.Contains("WarmupEpochs", Assert.Throws<ArgumentException>(() => RobustLinearTrainer.Train(x, y, Fast with { Epochs = 2, WarmupEpochs = 5 })).Message);
        Assert.Contains("CleanLossWeight", Assert.Throws<ArgumentException>(() => RobustLinearTrainer.Train(x, y, Fast with { CleanLossWeight = 2 })).Message);
        Assert.Contains("[0, 9]", Assert.Throws<ArgumentException>(() => RobustLinearTrainer.Train(x, y + 5, Fast)).Message);
        Assert.Contains("one label per image", Assert.Throws<ArgumentException>(() => RobustLinearTrainer.Train(x, y.narrow(0, 0, 10), Fast)).Message);
        Assert.Contains("Normalised", Assert.Throws<ArgumentException>(() => RobustLinearTrainer.Train(x, y, Fast with { Units = RadiusUnits.Normalised })).Message);
    }
}
