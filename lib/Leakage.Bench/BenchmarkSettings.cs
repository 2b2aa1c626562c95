using Leakage.Adversarial;
using Leakage.Experiment;
using Leakage.Robust;
using Leakage.Training;

namespace Leakage.Benchmarks;

/// <summary>
/// What <see cref="Benchmark.Run"/> measures and how much work each measurement does. Build it with
/// <see cref="For"/> from an experiment profile: the model, batch sizes, PGD settings, augmentation and
/// robust-linear settings are the profile's, so the figures say how fast that profile's steps run.
/// </summary>
public sealed record BenchmarkSettings
{
    /// <summary>Name of the profile the settings come from (for the report).</summary>
    public required string Profile { get; init; }

    /// <summary>True for the seconds-long smoke configuration (<see cref="For"/> with quick).</summary>
    public bool Quick { get; init; }

    /// <summary>Model architecture (<see cref="Models.ModelFactory.Architectures"/>).</summary>
    public required string Arch { get; init; }

    /// <summary>Model base width.</summary>
    public required int Width { get; init; }

    /// <summary>Side of the square float32 matrices multiplied to measure the machine's matmul rate.</summary>
    public int MatmulSize { get; init; } = 2048;

    /// <summary>Timed products (the best one counts), after two untimed ones.</summary>
    public int MatmulRepeats { get; init; } = 5;

    /// <summary>The attack: the profile's D_rand/D_det settings (targeted L2 PGD, its steps, chunking and batch size).</summary>
    public required AdversarialOptions Attack { get; init; }

    /// <summary>
    /// Rounds of the alternating protocol: each measures TorchSharp's PGD and training, then (with the
    /// PyTorch reference) PyTorch's, so both sides see the same neighbours; ratios are taken per round.
    /// </summary>
    public int Rounds { get; init; } = 5;

    /// <summary>Timed PGD batches per round (each runs all <see cref="AdversarialOptions.Steps"/>), after one untimed 2-step batch.</summary>
    public int PgdRepeats { get; init; } = 2;

    /// <summary>The profile's standard-model training recipe (batch size, augmentation, optimiser).</summary>
    public required TrainingOptions Training { get; init; }

    /// <summary>Untimed training steps before the timed ones.</summary>
    public int TrainWarmupSteps { get; init; } = 3;

    /// <summary>Timed training steps per round (at the cpu profile's batch of 256, several seconds).</summary>
    public int TrainSteps { get; init; } = 30;

    /// <summary>The profile's robust linear settings.</summary>
    public required RobustLinearOptions Robust { get; init; }

    /// <summary>Images the robust linear classifier is trained on (CIFAR-10's training set has 50,000).</summary>
    public int RobustImages { get; init; } = 50_000;

    /// <summary>Images attacked while generating D_rand for the memory profile.</summary>
    public int DrandImages { get; init; } = 10_000;

    /// <summary>PGD batch after which the reference resident size for the drift is taken (1-based).</summary>
    public int DriftReferenceBatch { get; init; } = 10;

    /// <summary>Seed of the synthetic data and the models' initial weights.</summary>
    public long Seed { get; init; }

    /// <summary>
    /// The benchmark of <paramref name="profile"/>. <paramref name="quick"/> shrinks every measurement
    /// to well under a second of work (tiny batches, 2 PGD steps, 1,000 robust-linear images, 96 D_rand
    /// images in 12 batches) for smoke tests; the figures are then not meaningful, only present.
    /// <paramref name="drandImages"/> overrides the number of D_rand images of the memory profile.
    /// </summary>
    public static BenchmarkSettings For(ExperimentSettings profile, bool quick = false, int? drandImages = null)
    {
        ArgumentNullException.ThrowIfNull(profile);
        SettingsOverrides.Validate(profile);
        if (drandImages is < 1) throw new ArgumentOutOfRangeException(nameof(drandImages), drandImages, "the D_rand memory profile needs at least 1 image");
        var settings = new BenchmarkSettings
        {
            Profile = profile.Profile,
            Arch = profile.Standard.Arch,
            Width = profile.Standard.Width,
            Attack = ExperimentRun.AttackOptions(profile),
            Training = ExperimentRun.StandardTraining(profile) with { Epochs = 1 },
            Robust = ExperimentRun.RobustOptions(profile),
            Seed = profile.Seed,
        };
        if (quick)
        {
            settings = settings with
            {
                Quick = true,
                MatmulSize = 256,
                MatmulRepeats = 3,
                Attack = settings.Attack with { Steps = 2, BatchSize = 8, ChunkSize = 48 },
                PgdRepeats = 2,
                Rounds = 2,
                Training = settings.Training with { BatchSize = 16 },
                TrainWarmupSteps = 1,
                TrainSteps = 3,
                Robust = settings.Robust with { Epochs = 2, WarmupEpochs = 1, BatchSize = 250 },
                RobustImages = 1_000,
                DrandImages = 96,
            };
        }
        return drandImages is int n ? settings with { DrandImages = n } : settings;
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        static void Check(bool ok, string setting, object value, string rule)
        {
            if (!ok) throw new ArgumentException($"Benchmark setting {setting} = {value} is invalid: {rule}.");
        }
        Models.ModelFactory.Canonical(Arch);
        Check(Width >= 1, nameof(Width), Width, "must be at least 1");
        Check(MatmulSize >= 16, nameof(MatmulSize), MatmulSize, "must be at least 16");
        Check(MatmulRepeats >= 1, nameof(MatmulRepeats), MatmulRepeats, "must be at least 1");
        Attack.Validate();
        Check(Attack.Steps >= 1, "Attack.Steps", Attack.Steps, "PGD throughput needs at least 1 step");
        Check(PgdRepeats >= 1, nameof(PgdRepeats), PgdRepeats, "must be at least 1");
        Check(Rounds >= 1, nameof(Rounds), Rounds, "must be at least 1");
        Training.Validate();
        Check(TrainWarmupSteps >= 1, nameof(TrainWarmupSteps), TrainWarmupSteps, "the first step is always excluded, so at least 1");
        Check(TrainSteps >= 1, nameof(TrainSteps), TrainSteps, "must be at least 1");
        Robust.Validate();
        Check(RobustImages >= 2, nameof(RobustImages), RobustImages, "must be at least 2");
        Check(DrandImages >= 1, nameof(DrandImages), DrandImages, "must be at least 1");
        Check(DriftReferenceBatch >= 1, nameof(DriftReferenceBatch), DriftReferenceBatch, "must be at least 1");
    }
}
