using Leakage.Attacks;

namespace Leakage.Adversarial;

/// <summary>Which relabelled data set to build (Ilyas et al. 2019, section 3.2).</summary>
public enum AdversarialKind
{
    /// <summary>
    /// D_rand: each image is attacked towards a target t drawn at random and relabelled t. As written
    /// in the paper, t is uniform over all 10 classes, so about 10% of images have t = y (see
    /// <see cref="AdversarialOptions.RandomTargetExcludesSource"/>).
    /// </summary>
    Random,

    /// <summary>D_det: each image of class y is attacked towards t = (y + 1) mod 10 and relabelled t.</summary>
    Deterministic,

    /// <summary>
    /// D_other, a control of the public reproductions (e.g. Keller Jordan's cifar10-zoo): like D_rand,
    /// but t is uniform over the 9 classes other than y, so no image keeps its own label and the
    /// attack always has to move it away from its class. Built only with the leakage controls
    /// (<c>controls.enabled</c>), on the controls' training images.
    /// </summary>
    Other,
}

/// <summary>
/// Settings for building D_rand / D_det. All of them except <see cref="BatchSize"/> are part of the
/// data set's identity (a stored set made with other values is regenerated).
/// </summary>
public sealed record AdversarialOptions
{
    /// <summary>L2 radius in pixel space (Ilyas et al.: 0.5).</summary>
    public double Eps { get; init; } = 0.5;

    /// <summary>L2 step length (Ilyas et al.: 0.1).</summary>
    public double StepSize { get; init; } = 0.1;

    /// <summary>PGD steps (Ilyas et al.: 100; a quick CPU profile uses about 10).</summary>
    public int Steps { get; init; } = 100;

    /// <summary>Keep each image's best iterate (lowest target loss), robustness's default.</summary>
    public bool KeepBest { get; init; } = true;

    /// <summary>Random start on the eps-sphere; off, as in Ilyas et al.</summary>
    public bool RandomStart { get; init; }

    /// <summary>
    /// D_rand only (D_other always excludes the source class, D_det never draws). False (default, as written in Ilyas et al.): t is uniform over all 10 classes, so
    /// about 10% of images keep their own label; their attack pushes towards y, which strengthens the
    /// genuine (robust) features of y, and such images carry useful signal for the clean test set by
    /// construction, not through non-robust features. True: t is uniform over the 9 other classes,
    /// so every label is "wrong" for the original image and any clean accuracy must come from what the
    /// attack added. This matters for the leakage question (Goh 2019); report which one was used.
    /// </summary>
    public bool RandomTargetExcludesSource { get; init; }

    /// <summary>Base seed for targets and any attack randomness (chunk c uses seeds derived from (Seed, c)).</summary>
    public long Seed { get; init; }

    /// <summary>Images per chunk: each chunk is stored as soon as it is done, and a rerun resumes after the last complete one.</summary>
    public int ChunkSize { get; init; } = 2000;

    /// <summary>Images per PGD batch (an execution detail: not part of the data set's identity).</summary>
    public int BatchSize { get; init; } = 256;

    /// <summary>The attack these settings describe: targeted L2 PGD, pixels clamped to [0, 1].</summary>
    public L2PgdOptions Attack => new()
    {
        Eps = Eps,
        StepSize = StepSize,
        Steps = Steps,
        Targeted = true,
        RandomStart = RandomStart,
        KeepBest = KeepBest,
    };

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        Attack.Validate();
        if (ChunkSize < 1) throw new ArgumentException($"Adversarial option ChunkSize = {ChunkSize} is invalid: must be at least 1.");
        if (BatchSize < 1) throw new ArgumentException($"Adversarial option BatchSize = {BatchSize} is invalid: must be at least 1.");
    }
}

/// <summary>Progress of <see cref="AdversarialDatasets.Build"/>.</summary>
/// <param name="Chunk">1-based chunk being generated (or last checked).</param>
/// <param name="Chunks">Number of chunks.</param>
/// <param name="ImagesDone">Images attacked so far, including chunks restored from disk.</param>
/// <param name="Images">Total images.</param>
/// <param name="SuccessRate">Fraction of finished images that reached their target so far, in [0, 1] (NaN before the first chunk).</param>
/// <param name="ImagesPerSecond">Attack throughput of this session (images, not image-steps).</param>
public sealed record AdversarialProgress(int Chunk, int Chunks, long ImagesDone, long Images, double SuccessRate, double ImagesPerSecond);
