using Leakage.Attacks;
using System.Globalization;
using System.Reflection;
using System.Text.Json.Serialization;

namespace Leakage.Experiment;

/// <summary>Data used by a run.</summary>
public sealed record DataSettings
{
    /// <summary>Training images used (class-stratified subset); 0 = all 50,000.</summary>
    public int TrainCount { get; init; }
    /// <summary>Test images used (class-stratified subset); 0 = all 10,000.</summary>
    public int TestCount { get; init; }
}

/// <summary>The standard (non-robust) classifier of step 1, and the training recipe shared by transfer models.</summary>
public sealed record StandardSettings
{
    /// <summary><c>small-cnn</c>, <c>resnet18</c> (GPU) or <c>airbench</c> (Keller Jordan's airbench94: 94% in 10 epochs; the cpu profile's).</summary>
    public string Arch { get; init; } = "small-cnn";
    /// <summary>Base width of the small CNN (channels of its first block).</summary>
    public int Width { get; init; } = 24;
    public int Epochs { get; init; } = 10;
    public int BatchSize { get; init; } = 256;
    public double Lr { get; init; } = 0.1;
    public double Momentum { get; init; } = 0.9;
    public double WeightDecay { get; init; } = 5e-4;
    /// <summary><c>onecycle</c>, <c>cosine</c> or <c>airbench</c> (from 0.2x to the peak over 23% of the steps, then down to 0.07x).</summary>
    public string Schedule { get; init; } = "onecycle";
    /// <summary><see cref="Schedule"/> parsed strictly (<see cref="Choices"/>).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public Training.LrSchedule LrSchedule => Choices.Parse<Training.LrSchedule>("standard.schedule", Schedule);
    /// <summary>Random crop (pad <see cref="CropPadding"/>, reflected) + horizontal flip.</summary>
    public bool Augment { get; init; } = true;
    /// <summary>Pixels of reflected padding before the random crop (airbench: 2).</summary>
    public int CropPadding { get; init; } = 4;
    /// <summary>airbench's alternating flip: a fixed half of the images is mirrored in even epochs, the other half in odd ones (instead of a coin per image).</summary>
    public bool AlternatingFlip { get; init; }
    /// <summary>Batch-norm parameters train at this multiple of the learning rate, with weight decay divided by it (airbench: 64); 0 trains them at the learning rate without weight decay.</summary>
    public double NormLrScale { get; init; }
    /// <summary>Label smoothing of the loss (airbench: 0.2; 0 here, because it weakens gradient attacks on the model).</summary>
    public double LabelSmoothing { get; init; }
    /// <summary>Lookahead every this many steps (airbench: 5); 0 for none.</summary>
    public int Lookahead { get; init; }
    /// <summary>
    /// A PyTorch checkpoint to attack instead of training the standard model (MadryLab robustness, a
    /// plain CIFAR ResNet state_dict, or our <c>export</c>'s standard_model.pt; docs/checkpoints.md);
    /// null trains it. <see cref="Arch"/> and <see cref="Width"/> keep describing the models the run
    /// trains (the transfer models).
    /// </summary>
    public string? Checkpoint { get; init; }
    /// <summary><c>auto</c> (recognised from the keys) or the architecture <see cref="Checkpoint"/> must hold.</summary>
    public string CheckpointArch { get; init; } = Checkpoints.CheckpointImport.AutoArch;
    /// <summary>Normalisation mean for a checkpoint that carries none (3 values; empty: the MadryLab CIFAR constants).</summary>
    public double[] CheckpointMean { get; init; } = [];
    /// <summary>Normalisation std for a checkpoint that carries none (3 values; empty: the MadryLab CIFAR constants).</summary>
    public double[] CheckpointStd { get; init; } = [];

    /// <summary>Value equality, including the values of the arrays (a record alone compares their references).</summary>
    public bool Equals(StandardSettings? other) => other is not null
        && string.Equals(IO.Artifacts.ToNode(this).ToJsonString(), IO.Artifacts.ToNode(other).ToJsonString(), StringComparison.Ordinal);

    public override int GetHashCode() => IO.Artifacts.ToNode(this).ToJsonString().GetHashCode(StringComparison.Ordinal);
}

/// <summary>Targeted L2 PGD that builds D_rand and D_det (Ilyas et al.: eps 0.5, step 0.1, 100 steps).</summary>
public sealed record AttackSettings
{
    public double Eps { get; init; } = 0.5;
    public double Step { get; init; } = 0.1;
    public int Steps { get; init; } = 100;
    public int BatchSize { get; init; } = 256;
    /// <summary>Images per chunk written to disk (the unit of resumption).</summary>
    public int ChunkSize { get; init; } = 2_000;
    public bool RandomStart { get; init; }
    /// <summary>Draw D_rand targets from the 9 other classes (false: all 10, as in the paper).</summary>
    public bool RandomTargetExcludesSource { get; init; }
}

/// <summary>Models trained on D_rand / D_det and tested on clean data (Ilyas Table 1).</summary>
public sealed record TransferSettings
{
    /// <summary>Architecture of the transfer models; null trains <c>standard.arch</c> (with <c>standard.width</c>). The recipe is the standard model's either way.</summary>
    public string? Arch { get; init; }
    /// <summary>Width of the transfer models when <see cref="Arch"/> is set; 0 takes that architecture's default.</summary>
    public int Width { get; init; }
    public int Epochs { get; init; } = 10;
    public int BatchSize { get; init; } = 256;
    /// <summary>Learning rate for D_rand (reproductions report 0.01 works better than 0.1).</summary>
    public double LrRand { get; init; } = 0.01;
    public double LrDet { get; init; } = 0.1;
    /// <summary>Augmentation when training on D_rand / D_det (D_det is sensitive to it).</summary>
    public bool Augment { get; init; }
}

/// <summary>The robust linear classifier C whose weight vectors are the robust features.</summary>
public sealed record RobustSettings
{
    /// <summary>L2 radius used in training.</summary>
    public double TrainRadius { get; init; } = 0.25;
    /// <summary>L2 radius for the certificates (Spec 1 gamma, Spec 2 fraction, certified accuracy).</summary>
    public double CertRadius { get; init; } = 0.25;
    /// <summary>
    /// <c>normalised</c> (radius measured in the per-channel normalised input the model sees, the
    /// default: it is the reading under which Goh's gamma values and Spec 2 are reproduced) or
    /// <c>pixel</c> (radius in [0,1] pixel space, a ball about 5x larger). Certificates are always
    /// reported in both units.
    /// </summary>
    public string Units { get; init; } = "normalised";
    /// <summary><see cref="Units"/> parsed strictly (<see cref="Choices"/>).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public Attacks.RadiusUnits RadiusUnits => Choices.Parse<Attacks.RadiusUnits>("robust.units", Units);
    public int Epochs { get; init; } = 30;
    public int BatchSize { get; init; } = 512;
    public double Lr { get; init; } = 0.01;
    /// <summary>
    /// L2 penalty on C's weights. 0.01 brings C's ten gammas within 0.025 of Goh's table (Pearson r 0.98,
    /// Spec 2 91%), against 0.063 (r 0.88) without it; of every recipe tried it moved gamma most
    /// (docs/fidelity.md, "C's gamma table").
    /// </summary>
    public double WeightDecay { get; init; } = 0.01;
}

/// <summary>The leakage probe: multinomial logistic regression on the 10 robust features.</summary>
public sealed record ProbeSettings
{
    public double L2 { get; init; } = Probes.LogisticProbeOptions.DefaultL2;
    public int MaxIterations { get; init; } = Probes.LogisticProbeOptions.DefaultMaxIterations;
    /// <summary>Bootstrap resamples for the 95% intervals.</summary>
    public int Bootstrap { get; init; } = 1000;
    /// <summary>
    /// Fresh D_rand target draws (same rule as the attack's) for the null's distribution over draws;
    /// each is one probe fit on the clean originals.
    /// </summary>
    public int NullDraws { get; init; } = 20;
    /// <summary>
    /// Bootstrap resamples of the training images (within each class, with their targets) for the
    /// interval of the excess over the null (two probe refits each; the interval is normal, from their
    /// standard error, so a few dozen suffice); 0 turns it off (the interval then covers test points only).
    /// </summary>
    public int TrainingResamples { get; init; } = 30;
}

/// <summary>
/// The leakage controls beside D_rand and D_det (<see cref="ControlsStep"/>): D_other, the
/// leakage-only sets (no attack) with D_rand's and D_det's target rules, and D_rand / D_det restricted
/// to their successful attacks, each with its attack success, a transfer model and Goh's probe
/// against its matched null. Off by default: every control trains one more transfer model.
/// </summary>
public sealed record ControlsSettings
{
    /// <summary>Build the controls, train their transfer models and probe them (also D_other's attack).</summary>
    public bool Enabled { get; init; }
    /// <summary>
    /// Training images the controls use: a class-stratified subset of the run's training split, the
    /// same for every control (D_other attacks only these; the other sets are restricted to them); 0
    /// (or at least the split's size) takes all. With a subset, D_rand and D_det are also retrained on it,
    /// so that every row of the table is measured on the same images.
    /// </summary>
    public int TrainCount { get; init; }
    /// <summary>
    /// How the leakage-only sets are made: <c>keller</c>, Keller Jordan's construction (tiled patterns;
    /// images the standard model already classifies as their target stay clean), which every profile
    /// sets; <c>gaussian</c>, a Gaussian pattern on every image, the default only so that a results.json
    /// written before the setting existed reads as what made it.
    /// </summary>
    public string LeakageOnly { get; init; } = "gaussian";
    /// <summary><see cref="LeakageOnly"/> parsed strictly (<see cref="Choices"/>).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public Adversarial.LeakageOnlyConstruction LeakageOnlyConstruction => Choices.Parse<Adversarial.LeakageOnlyConstruction>("controls.leakageOnly", LeakageOnly);
}

/// <summary>Extensions beyond Goh's comment (issue "Beyond Goh"); all off unless asked for.</summary>
public sealed record BeyondSettings
{
    /// <summary>Adversarially train a small CNN and probe with its features.</summary>
    public bool Nonlinear { get; init; }
    public double NonlinearRadius { get; init; } = 0.25;
    public int NonlinearEpochs { get; init; } = 10;
    public int NonlinearPgdSteps { get; init; } = 5;
    /// <summary>
    /// A PyTorch checkpoint of a robust classifier (e.g. MadryLab's <c>cifar_l2_0_5.pt</c>) to probe with
    /// instead of training the robust CNN; null trains it. Read like <c>standard.checkpoint</c> (any
    /// architecture; <c>standard.checkpointMean/Std</c> for a file without normalisation).
    /// </summary>
    public string? NonlinearCheckpoint { get; init; }
    /// <summary>Radii for the linear-feature sweep; empty = no sweep.</summary>
    public double[] SweepRadii { get; init; } = [];
    /// <summary>Number of seeds for the probe-spread study; 0 or 1 = none.</summary>
    public int Seeds { get; init; }
    /// <summary>Folder with the authors' released data sets (release_datasets/...); null = skip.</summary>
    public string? ReleasedData { get; init; }

    /// <summary>Radii of the sweep when <see cref="ExperimentSettings.WithExtensionsOn"/> switches it on (in <c>robust.units</c>; Goh's 0.25 among them).</summary>
    public static IReadOnlyList<double> DefaultSweepRadii { get; } = [0.1, 0.25, 0.5, 1.0];

    /// <summary>Seeds of C when <see cref="ExperimentSettings.WithExtensionsOn"/> switches the seed study on.</summary>
    public const int DefaultSeeds = 5;
}

/// <summary>How the heavy steps compute.</summary>
public sealed record ComputeSettings
{
    /// <summary>
    /// <c>fp32</c>, <c>bf16</c> or <c>auto</c> (bf16 where the CPU has AVX512_BF16 or AMX): the arithmetic
    /// of the PGD attacks (training is always float32); see <see cref="Compute.Precisions"/>. The default
    /// is fp32 so that a run's data sets do not depend on which CPU it lands on; auto makes the attack
    /// about 1.7x faster on such CPUs.
    /// </summary>
    public string Precision { get; init; } = "fp32";
    /// <summary><see cref="Precision"/> parsed strictly (<see cref="Choices"/>).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public Compute.Precision PrecisionKind => Choices.Parse<Compute.Precision>("compute.precision", Precision);
    /// <summary>
    /// Attack a copy of the standard model whose batch norms are folded into the convolutions before
    /// them (<see cref="Models.BatchNormFold"/>; float32 attacks on the library's SmallCnn and ResNet-18):
    /// the same function up to float rounding, one memory-bound pass less per layer. Off by default, so
    /// that a rerun reproduces a recorded run's data sets bit for bit; the folded copy has its own
    /// fingerprint, so its data sets are cached apart.
    /// </summary>
    public bool FoldBatchNorm { get; init; }
}

/// <summary>
/// Every setting of a run. A profile supplies defaults; any value can be overridden with
/// <c>--set section.name=value</c> (see <see cref="SettingsOverrides"/>).
/// </summary>
public sealed record ExperimentSettings
{
    public string Profile { get; init; } = "quick";
    public long Seed { get; init; } = 0;

    /// <summary><see cref="Seed"/> for the parts that take 32-bit seeds (C, the probe); <see cref="SettingsOverrides.Validate"/> keeps it in range.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public int IntSeed => Seed is >= 0 and <= int.MaxValue ? (int)Seed
        : throw new ArgumentException($"Setting 'seed' = {Seed} must be between 0 and {int.MaxValue} (C and the probe take 32-bit seeds).");
    /// <summary><c>auto</c>, <c>cpu</c> or <c>cuda</c>.</summary>
    public string Device { get; init; } = "auto";
    /// <summary><see cref="Device"/> parsed strictly (<see cref="Choices"/>).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public Compute.DeviceKind DeviceKind => Choices.Parse<Compute.DeviceKind>("device", Device);
    /// <summary>libtorch CPU threads; 0 = all cores.</summary>
    public int Threads { get; init; }
    public DataSettings Data { get; init; } = new();
    public StandardSettings Standard { get; init; } = new();
    public AttackSettings Attack { get; init; } = new();
    public TransferSettings Transfer { get; init; } = new();
    public RobustSettings Robust { get; init; } = new();
    public ProbeSettings Probe { get; init; } = new();
    public ControlsSettings Controls { get; init; } = new();
    public BeyondSettings Beyond { get; init; } = new();
    public ComputeSettings Compute { get; init; } = new();

    /// <summary>
    /// These settings with every extension that needs no extra data switched on, for a run that shows
    /// them all (notebook 07): the robust CNN (with the <c>beyond.nonlinear*</c> sizes of these
    /// settings), the radius sweep (<see cref="BeyondSettings.DefaultSweepRadii"/> unless radii are
    /// set) and the seed study (<see cref="BeyondSettings.DefaultSeeds"/> unless more than one seed is
    /// set). Extensions already on keep their settings; <c>beyond.releasedData</c> is left as it is,
    /// since only the user knows where the released data sets are. Changing only <c>beyond.*</c>
    /// keeps the results of the main steps in results.json (<see cref="BeyondResults"/>).
    /// </summary>
    public ExperimentSettings WithExtensionsOn() => this with
    {
        Beyond = Beyond with
        {
            Nonlinear = true,
            SweepRadii = Beyond.SweepRadii.Length > 0 ? Beyond.SweepRadii : [.. BeyondSettings.DefaultSweepRadii],
            Seeds = Beyond.Seeds > 1 ? Beyond.Seeds : BeyondSettings.DefaultSeeds,
        },
    };
}
