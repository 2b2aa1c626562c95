using System.Text.Json.Serialization;

namespace Leakage.Training;

/// <summary>Learning-rate schedule over the whole run, evaluated per iteration.</summary>
public enum LrSchedule
{
    /// <summary>Linear warm-up to the peak, then a linear decay to zero (D. Page's fast CIFAR schedule).</summary>
    OneCycle,
    /// <summary>Linear warm-up to the peak, then a half-cosine decay to zero.</summary>
    Cosine,
    /// <summary>
    /// airbench94's: linear from 0.2 x peak to the peak over the first 23% of iterations, then linear
    /// down to 0.07 x peak (<see cref="TrainingOptions.WarmupFraction"/> is not used).
    /// </summary>
    Airbench,
}

/// <summary>Data augmentation applied to each training batch.</summary>
public enum Augmentation
{
    /// <summary>Images are used as given.</summary>
    None,
    /// <summary>Random horizontal flip (probability 1/2).</summary>
    Flip,
    /// <summary>Random crop from the padded image (<see cref="TrainingOptions.CropPadding"/>) and random horizontal flip.</summary>
    CropFlip,
    /// <summary>
    /// Random crop as <see cref="CropFlip"/>, with airbench's alternating flip instead of a random one:
    /// a fixed random half of the images is flipped in even epochs and the other half in odd epochs,
    /// so every pair of epochs shows each image both ways.
    /// </summary>
    CropAlternatingFlip,
}

/// <summary>How the image border is extended before a random crop.</summary>
public enum PadMode
{
    /// <summary>Mirror the image at its border (no artificial black frame).</summary>
    Reflect,
    /// <summary>Pad with zeros (black), as torchvision's RandomCrop(32, padding=4).</summary>
    Zero,
}

/// <summary>
/// Settings of one training run. Everything here is part of a checkpoint's identity: a checkpoint made
/// with other options is never resumed from.
/// <para>
/// Optimiser: SGD with (Nesterov) momentum; weight decay (L2, coupled as in torch.optim.SGD) applies to
/// conv and linear weights only, not to batch-norm parameters or biases, whose scale carries no
/// capacity and whose decay only fights the normalisation.
/// </para>
/// </summary>
public sealed record TrainingOptions
{
    /// <summary>Passes over the training set (12: <see cref="Models.SmallCnn"/> reaches about 82% CIFAR-10 test accuracy).</summary>
    public int Epochs { get; init; } = 12;

    /// <summary>Images per SGD step. An incomplete last batch of an epoch is dropped (its images are seen in other epochs).</summary>
    public int BatchSize { get; init; } = 256;

    /// <summary>Peak learning rate of the schedule.</summary>
    public double LearningRate { get; init; } = 0.2;

    /// <summary>SGD momentum.</summary>
    public double Momentum { get; init; } = 0.9;

    /// <summary>Use Nesterov momentum.</summary>
    public bool Nesterov { get; init; } = true;

    /// <summary>L2 weight decay on conv and linear weights.</summary>
    public double WeightDecay { get; init; } = 5e-4;

    /// <summary>Learning-rate schedule.</summary>
    public LrSchedule Schedule { get; init; } = LrSchedule.OneCycle;

    /// <summary>Fraction of all iterations spent in the linear warm-up (0 = none), in [0, 1).</summary>
    public double WarmupFraction { get; init; } = 0.2;

    /// <summary>Augmentation of training batches.</summary>
    public Augmentation Augmentation { get; init; } = Augmentation.CropFlip;

    /// <summary>Pixels of padding on each side before a random crop (<see cref="Augmentation.CropFlip"/>).</summary>
    public int CropPadding { get; init; } = 4;

    /// <summary>How the border is padded before cropping.</summary>
    public PadMode PadMode { get; init; } = PadMode.Reflect;

    /// <summary>Seed for data order and augmentation (the model's initial weights come from <see cref="Models.ModelFactory"/>'s seed).</summary>
    public long Seed { get; init; }

    /// <summary>
    /// Adversarial training (Madry et al. 2018) when set: every (augmented) batch is replaced by
    /// untargeted L2 PGD examples against the current model (attacked in eval mode, then trained on
    /// in train mode), with the given radius, step size and steps; a random start, when on, is seeded
    /// from (<see cref="Seed"/>, epoch). Null (the default) trains on the clean batches.
    /// </summary>
    public Attacks.L2PgdOptions? Adversary { get; init; }

    /// <summary>
    /// Batch-norm parameters train with this multiple of the learning rate and weight decay divided by
    /// it (so their decay per step is the same as everyone else's): airbench's bias scaler, 64. Null:
    /// batch-norm parameters and biases train at the learning rate without weight decay. Null-valued
    /// recipe settings are left out of checkpoint identities, so checkpoints made before they existed
    /// still resume.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? NormLrScale { get; init; }

    /// <summary>Label smoothing of the cross-entropy loss, in [0, 1); null for none. It is known to weaken gradient attacks on the model.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? LabelSmoothing { get; init; }

    /// <summary>
    /// Lookahead (airbench): every this many iterations the weights and batch-norm statistics move to an
    /// exponential average of themselves with decay 0.95^5 (t/T)^3 at iteration t of T, and the last
    /// iteration leaves the average. Null for none.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? LookaheadEvery { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        static void Check(bool ok, string setting, object value, string rule)
        {
            if (!ok) throw new ArgumentException($"Training option {setting} = {value} is invalid: {rule}.");
        }
        Check(Epochs >= 1, nameof(Epochs), Epochs, "need at least 1 epoch");
        Check(BatchSize >= 2, nameof(BatchSize), BatchSize, "batch norm needs batches of at least 2 images");
        Check(double.IsFinite(LearningRate) && LearningRate > 0, nameof(LearningRate), LearningRate, "must be a positive number");
        Check(Momentum is >= 0 and < 1, nameof(Momentum), Momentum, "must be in [0, 1)");
        Check(!Nesterov || Momentum > 0, nameof(Nesterov), Nesterov, "Nesterov momentum needs Momentum > 0");
        Check(WeightDecay >= 0 && double.IsFinite(WeightDecay), nameof(WeightDecay), WeightDecay, "must be >= 0");
        Check(WarmupFraction is >= 0 and < 1, nameof(WarmupFraction), WarmupFraction, "must be in [0, 1)");
        Check(Enum.IsDefined(Schedule), nameof(Schedule), Schedule, "unknown schedule");
        Check(Enum.IsDefined(Augmentation), nameof(Augmentation), Augmentation, "unknown augmentation");
        Check(Enum.IsDefined(PadMode), nameof(PadMode), PadMode, "unknown pad mode");
        Check(CropPadding is >= 0 and <= 16, nameof(CropPadding), CropPadding, "must be in [0, 16] pixels");
        Check(NormLrScale is null || NormLrScale > 0 && double.IsFinite(NormLrScale.Value), nameof(NormLrScale), NormLrScale!, "must be a positive number");
        Check(LabelSmoothing is null || LabelSmoothing is >= 0 and < 1, nameof(LabelSmoothing), LabelSmoothing!, "must be in [0, 1)");
        Check(LookaheadEvery is null || LookaheadEvery >= 1, nameof(LookaheadEvery), LookaheadEvery!, "must be at least 1 iteration");
        Check(Adversary is null || !Adversary.Targeted, nameof(Adversary), "targeted", "adversarial training uses an untargeted attack");
        Adversary?.Validate();
    }

    /// <summary>The learning rate at 0-based iteration <paramref name="step"/> of <paramref name="totalSteps"/>.</summary>
    public double LearningRateAt(long step, long totalSteps)
    {
        if (totalSteps <= 0) throw new ArgumentOutOfRangeException(nameof(totalSteps), totalSteps, "must be positive");
        if (step < 0 || step >= totalSteps) throw new ArgumentOutOfRangeException(nameof(step), step, $"must be in [0, {totalSteps})");
        if (Schedule == LrSchedule.Airbench)
        {
            long rise = (long)(totalSteps * 0.23);
            if (step < rise) return LearningRate * (0.2 + 0.8 * step / rise);
            return LearningRate * (1 - 0.93 * (step - rise) / (totalSteps - rise));
        }
        long warm = (long)Math.Round(WarmupFraction * totalSteps);
        if (step < warm) return LearningRate * (step + 1) / warm;
        double p = (double)(step - warm) / (totalSteps - warm);
        return Schedule switch
        {
            LrSchedule.OneCycle => LearningRate * (1 - p),
            LrSchedule.Cosine => LearningRate * 0.5 * (1 + Math.Cos(Math.PI * p)),
            _ => throw new InvalidOperationException($"Unknown schedule {Schedule}"),
        };
    }
}
