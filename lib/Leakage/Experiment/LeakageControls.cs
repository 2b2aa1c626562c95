using System.Text.Json.Nodes;
using Leakage.Adversarial;
using Leakage.Probes;
using static TorchSharp.torch;

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

/// <summary>Leakage controls that need the clean originals of the adversarial sets.</summary>
public static class LeakageControls
{
    /// <summary>Key of the controls in results.json.</summary>
    public const string ResultsKey = "leakageControls";

    /// <summary>
    /// Fits the probe of <see cref="ExperimentRun.Leakage"/> (same features, settings and seed) on the
    /// clean training images with the D_rand and D_det target labels, scores it on the clean test set,
    /// and records the entries in results.json under <see cref="ResultsKey"/>. Computes C and the
    /// adversarial sets first when the run folder does not hold them.
    /// </summary>
    /// <exception cref="InvalidDataException">An adversarial set's original labels do not match the training split, so its images are not the attacked versions of these originals.</exception>
    public static UnperturbedControls Unperturbed(ExperimentRun run, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(run);
        var robust = run.RobustModel(ct);
        var drand = run.AdversarialSet(AdversarialKind.Random, ct);
        var ddet = run.AdversarialSet(AdversarialKind.Deterministic, ct);
        var train = run.Train;
        EnsureOriginals(run, drand);
        EnsureOriginals(run, ddet);
        var probe = run.Probe();
        using var w = robust.Weights.detach().to(CPU);
        var testX = run.Test.Images;
        var testY = run.Test.Labels;
        var rand = probe.Run("clean images, D_rand labels", w, train.Images, drand.Targets, testX, testY);
        ProbeEntry notLabel;
        using (var keep = drand.Targets.ne(drand.Labels).nonzero().squeeze(1))
        using (var xs = train.Images.index_select(0, keep))
        using (var ys = drand.Targets.index_select(0, keep))
            notLabel = probe.Run("clean images, D_rand labels, target ≠ label", w, xs, ys, testX, testY);
        var det = probe.Run("clean images, D_det labels", w, train.Images, ddet.Targets, testX, testY);
        var result = new UnperturbedControls(rand, notLabel, det);
        run.Results.Set(ResultsKey, new JsonObject
        {
            ["drandClean"] = ExperimentRun.EntryJson(rand),
            ["drandTargetNotLabelClean"] = ExperimentRun.EntryJson(notLabel),
            ["ddetClean"] = ExperimentRun.EntryJson(det),
        });
        foreach (var e in result.All) run.Observer.Log($"Leakage control: {e}");
        return result;
    }

    /// <summary>
    /// Checks that <paramref name="set"/> holds attacked copies of the run's training images, in
    /// order (same count, same original labels), so that the training images are its clean originals.
    /// </summary>
    /// <exception cref="InvalidDataException">They are not; the message names the set's folder.</exception>
    public static void EnsureOriginals(ExperimentRun run, AdversarialDataset set)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(set);
        var train = run.Train;
        if (set.Count != train.Count)
            throw new InvalidDataException($"{set.Directory}: {set.Count} images but the training split in use has {train.Count}, so its images are not attacked copies of these training images.");
        using var same = set.Labels.eq(train.Labels).all();
        if (!same.item<bool>())
            throw new InvalidDataException($"{set.Directory}: its original labels differ from the training split in use, so its images are not attacked copies of these training images.");
    }
}
