namespace Leakage.Adversarial;

/// <summary>
/// One relabelled data set's identity, wherever it is named: how its targets are drawn, the cache
/// folder inside a run folder, its key in results.json, its progress and timing key, its folder in an
/// export. Every place that tells D_rand, D_det and D_other apart reads it here, so a new set is one
/// more entry of <see cref="All"/>.
/// </summary>
/// <param name="Kind">The target rule it is built with (<see cref="AdversarialDatasets.DrawTargets"/>).</param>
/// <param name="Name">How people write it: <c>D_rand</c>.</param>
/// <param name="Folder">Its cache folder inside a run folder: <c>d_rand</c>.</param>
/// <param name="ResultsKey">How results.json names it (<c>adversarial.drand</c>, <c>transfer.drand</c>, ...): <c>drand</c>.</param>
/// <param name="StepKey">The progress and <c>seconds</c> key of the step that builds it: <c>dRand</c>.</param>
/// <param name="ExportFolder">Its folder under <c>release_datasets/</c> in an export, in Ilyas et al.'s naming: <c>drand_CIFAR</c>.</param>
/// <param name="TargetRule">The rule in words, for tables and logs.</param>
/// <param name="Control">A control beside the paper's two sets (built only with <c>controls.enabled</c>).</param>
public sealed record AdversarialSet(AdversarialKind Kind, string Name, string Folder, string ResultsKey, string StepKey, string ExportFolder,
    string TargetRule, bool Control)
{
    public static AdversarialSet DRand { get; } = new(AdversarialKind.Random, "D_rand", "d_rand", "drand", "dRand", "drand_CIFAR",
        "t uniform over the 10 classes", false);

    public static AdversarialSet DDet { get; } = new(AdversarialKind.Deterministic, "D_det", "d_det", "ddet", "dDet", "ddet_CIFAR",
        "t = (y + 1) mod 10", false);

    public static AdversarialSet DOther { get; } = new(AdversarialKind.Other, "D_other", "d_other", "dother", "dOther", "dother_CIFAR",
        "t uniform over the 9 classes other than y", true);

    /// <summary>Every set, the paper's two first.</summary>
    public static IReadOnlyList<AdversarialSet> All { get; } = [DRand, DDet, DOther];

    /// <summary>The paper's two sets, D_rand and D_det.</summary>
    public static IReadOnlyList<AdversarialSet> Paper { get; } = [DRand, DDet];

    /// <summary>The set built with target rule <paramref name="kind"/>.</summary>
    public static AdversarialSet Of(AdversarialKind kind) =>
        All.FirstOrDefault(s => s.Kind == kind) ?? throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown adversarial data set kind");

    public override string ToString() => Name;
}
