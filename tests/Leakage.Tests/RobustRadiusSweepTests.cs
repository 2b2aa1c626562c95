using Leakage.Robust;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Tests;

public class RobustRadiusSweepTests
{
    [Fact]
    public void Radius_sweep_trains_one_model_per_radius_and_certifies_it_there()
    {
        using var scope = NewDisposeScope();
        var means = RobustTestData.Means(10, seed: 8).to(ScalarType.Float32);
        var (trainX, trainY) = RobustTestData.Blobs(means, 300, 0.3, seed: 9);
        var (testX, testY) = RobustTestData.Blobs(means, 200, 0.3, seed: 10);
        var options = new RobustLinearOptions { Epochs = 3, WarmupEpochs = 1, BatchSize = 100, LearningRate = 3e-3, Units = RadiusUnits.Normalised };
        var messages = new List<string>();
        var points = RadiusSweep.Run(trainX, trainY, testX, testY, [0.5, 2.0], options, progress: new SyncProgress(messages.Add));
        try
        {
            Assert.Equal([0.5, 2.0], points.Select(p => p.Radius).ToArray());
            Assert.Equal(2, messages.Count);
            foreach (var p in points)
            {
                Assert.Equal(p.Radius, p.Training.Options.TrainRadius);
                Assert.Equal(p.Radius, p.Training.Options.CertifyRadius);
                Assert.Equal(RadiusUnits.Normalised, p.Own.Units);
                var direct = Certificates.Certify(p.Training.Model, testX, testY, p.Radius).Normalised;
                Assert.Equal(direct.Spec2Fraction, p.Spec2Fraction);
                Assert.Equal(direct.CertifiedAccuracy, p.CertifiedAccuracy);
                Assert.Equal(direct.CleanAccuracy, p.CleanAccuracy);
                Assert.Equal(direct.Features.Select(f => f.Gamma), p.Gammas);
            }
        }
        finally
        {
            foreach (var p in points) p.Dispose();
        }
    }

    [Fact]
    public void Radius_sweep_rejects_an_empty_or_negative_list()
    {
        using var scope = NewDisposeScope();
        var x = rand(4, 3, 32, 32); var y = zeros(4, dtype: ScalarType.Int64);
        Assert.Throws<ArgumentException>(() => RadiusSweep.Run(x, y, x, y, [], new RobustLinearOptions()));
        Assert.Contains("-0.1", Assert.Throws<ArgumentException>(() => RadiusSweep.Run(x, y, x, y, [0.1, -0.1], new RobustLinearOptions())).Message);
    }

    /// <summary>Reports synchronously (Progress&lt;T&gt; posts to the thread pool).</summary>
    sealed class SyncProgress(Action<string> report) : IProgress<string>
    {
        public void Report(string value) => report(value);
    }
}
