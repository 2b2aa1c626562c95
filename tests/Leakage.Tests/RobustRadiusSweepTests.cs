using Leakage.Attacks;
using Leakage.Experiment;
using Leakage.Robust;
using Leakage.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Tests;

/// <summary>The radius sweep (<see cref="RadiusSweepStep"/>): one C per radius, trained and certified there.</summary>
public class RobustRadiusSweepTests
{
    [Fact]
    public void Radius_sweep_trains_one_model_per_radius_and_certifies_it_there()
    {
        using var scope = NewDisposeScope();
        var means = RobustTestData.Means(10, seed: 8).to(ScalarType.Float32);
        var (trainX, trainY) = RobustTestData.Blobs(means, 300, 0.3, seed: 9);
        var (testX, testY) = RobustTestData.Blobs(means, 200, 0.3, seed: 10);
        var settings = SettingsOverrides.Apply(Profiles.Get("quick"),
            ["robust.units=normalised", "robust.epochs=6", "robust.batchSize=100", "robust.lr=0.003", "beyond.sweepRadii=0.5,2"]);
        foreach (var r in settings.Beyond.SweepRadii)
        {
            // What the sweep step does at each radius: the run's recipe at that radius, certified there.
            var options = RobustStep.Options(settings, trainRadius: r) with { Epochs = 3, WarmupEpochs = 1 };
            using var trained = RobustLinearTrainer.Train(trainX, trainY, options);
            var own = trained.Certify(testX, testY)[options.Units];
            Assert.Equal(r, trained.Options.TrainRadius);
            Assert.Equal(r, trained.Options.CertifyRadius);
            Assert.Equal(RadiusUnits.Normalised, own.Units);
            var direct = Certificates.Certify(trained.Model, testX, testY, r).Normalised;
            Assert.Equal(direct.Spec2Fraction, own.Spec2Fraction);
            Assert.Equal(direct.CertifiedAccuracy, own.CertifiedAccuracy);
            Assert.Equal(direct.CleanAccuracy, own.CleanAccuracy);
            Assert.Equal(direct.Features.Select(f => f.Gamma), own.Features.Select(f => f.Gamma));
        }
        Assert.Equal([0.5, 2.0], settings.Beyond.SweepRadii);
        Assert.Equal(Path.Combine("sweep", "radius-0.5"), RadiusSweepStep.Folder(0.5));
    }

    [Fact]
    public void Radius_sweep_rejects_an_empty_or_negative_list()
    {
        using var dir = new TempDir();
        using var run = ExperimentRun.Open(Profiles.Get("quick") with { Device = "cpu" }, dir["no-data-needed"], dir["run"]);
        Assert.Contains("beyond.sweepRadii", Assert.Throws<ArgumentException>(() => run.RadiusSweep()).Message);
        Assert.Contains("-0.1", Assert.Throws<ArgumentException>(() => SettingsOverrides.Apply(Profiles.Get("quick"), ["beyond.sweepRadii=0.1,-0.1"])).Message);
    }
}
