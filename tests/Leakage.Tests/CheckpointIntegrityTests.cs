using Leakage.Models;
using Leakage.Tests.Support;
using Leakage.Training;
using static TorchSharp.torch;

namespace Leakage.Tests;

/// <summary>A damaged checkpoint is detected by the checksums in its metadata and never resumed from.</summary>
public class CheckpointIntegrityTests
{
    static readonly TrainingOptions Quick = new() { Epochs = 3, BatchSize = 32, LearningRate = 0.05, Seed = 11 };

    sealed class Stopper(int epoch, CancellationTokenSource cts) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress p) { if (p.Epoch == epoch && p.Step == 1) cts.Cancel(); }
    }

    [Theory]
    [InlineData("model.bin", false)]
    [InlineData("optimizer.bin", true)]
    public void A_corrupt_or_truncated_checkpoint_is_not_resumed_and_training_starts_over_with_the_same_result(string file, bool truncate)
    {
        using var dir = new TempDir();
        var (x, y) = ToyCifar.Make(96, seed: 4);
        using var reference = ModelFactory.Create("small-cnn", 5, width: 8);
        Trainer.Train(reference, x, y, Quick, CPU);

        using (var cts = new CancellationTokenSource())
        using (var interrupted = ModelFactory.Create("small-cnn", 5, width: 8))
            Assert.ThrowsAny<OperationCanceledException>(() => Trainer.Train(interrupted, x, y, Quick, CPU, dir.Path, new Stopper(3, cts), cancellationToken: cts.Token));
        var checkpoint = Path.Combine(dir.Path, "epoch-0002");
        var path = Path.Combine(checkpoint, file);
        var bytes = File.ReadAllBytes(path);
        if (truncate) bytes = bytes[..^9]; else bytes[bytes.Length - 5] ^= 0x10;
        File.WriteAllBytes(path, bytes);

        var log = new List<string>();
        using var resumed = ModelFactory.Create("small-cnn", 5, width: 8);
        var result = Trainer.Train(resumed, x, y, Quick, CPU, dir.Path, log: log.Add);

        Assert.Equal(0, result.ResumedFromEpoch);
        Assert.Contains(log, m => m.Contains($"Not resuming from {checkpoint}") && m.Contains(truncate ? "(truncated or replaced)" : "fails its checksum (corrupt)"));
        Assert.Equal(Fingerprint.Of(reference), Fingerprint.Of(resumed));
        Assert.False(Directory.Exists(checkpoint), "the damaged checkpoint is replaced by this run's own");
    }
}
