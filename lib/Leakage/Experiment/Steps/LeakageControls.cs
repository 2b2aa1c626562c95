using Leakage.Probes;

namespace Leakage.Experiment;

/// <summary>
/// The leakage probes repeated on the clean originals of the D_rand and D_det images, with the same
/// target labels: what each probe scores when the attack has changed nothing. They are the matched
/// null hypotheses of Goh's probes, and they differ from chance:
/// <list type="bullet">
/// <item>D_rand: targets are drawn independently of the image, so the null is chance (1/10) up to noise.</item>
/// <item>D_rand with target ≠ label: dropping the images whose target equals their label leaves labels
/// that are never the true class, so a probe learns to avoid the class the features point to and
/// falls below chance with no leakage at all.</item>
/// <item>D_det: the labels are the true class shifted by one; a probe learns the shift and scores far
/// below chance.</item>
/// </list>
/// A probe on attacked images above its null means the attack moved the robust features towards
/// the targets: leakage, whatever its position relative to chance.
/// </summary>
/// <param name="DRand">Clean originals, D_rand targets.</param>
/// <param name="DRandTargetNotLabel">Clean originals of the D_rand images whose target differs from the label, with those targets.</param>
/// <param name="DDet">Clean originals, D_det targets.</param>
public sealed record UnperturbedControls(ProbeEntry DRand, ProbeEntry DRandTargetNotLabel, ProbeEntry DDet)
{
    /// <summary>The three entries in order.</summary>
    public IReadOnlyList<ProbeEntry> All => [DRand, DRandTargetNotLabel, DDet];
}

/// <summary>The matched nulls of the leakage step, as <see cref="UnperturbedControls"/>.</summary>
public static class LeakageControls
{
    /// <summary>Key of the controls in results.json.</summary>
    public static string ResultsKey { get; } = RunResultsRecord.PathOf(nameof(RunResultsRecord.LeakageControls));

    /// <summary>
    /// The matched nulls of <see cref="ExperimentRun.Leakage"/>: the same probe (features, settings, seed)
    /// fitted on the clean training images with the D_rand and D_det target labels and scored on the
    /// clean test set; the leakage step fits them beside its probes and records them in results.json
    /// under <see cref="ResultsKey"/>. Runs that step when it has not run yet.
    /// </summary>
    /// <exception cref="InvalidDataException">An adversarial set's original labels do not match the training split, so its images are not the attacked versions of these originals.</exception>
    public static UnperturbedControls Unperturbed(ExperimentRun run, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(run);
        var c = run.Leakage(ct).Comparisons ?? throw new InvalidOperationException("The leakage step returned no comparisons with its nulls.");
        return new UnperturbedControls(c.DRand.Null, c.DRandTargetNotLabel.Null, c.DDet.Null);
    }
}
