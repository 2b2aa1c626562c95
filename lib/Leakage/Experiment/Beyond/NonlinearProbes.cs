using System.Text.Json.Serialization;
using Leakage.Probes;

namespace Leakage.Experiment;

/// <summary>The features a probe of the nonlinear extension reads (<c>beyond.nonlinear.probes[].view</c>).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<FeatureView>))]
public enum FeatureView
{
    /// <summary>The robust CNN's ten logits.</summary>
    [JsonStringEnumMemberName("robustLogits")] RobustLogits,
    /// <summary>The robust CNN's penultimate features.</summary>
    [JsonStringEnumMemberName("robustPenultimate")] RobustPenultimate,
    /// <summary>The (non-robust) standard model's logits, for contrast.</summary>
    [JsonStringEnumMemberName("standardLogits")] StandardLogits,
}

/// <summary>The training images and labels of a probe of the nonlinear extension (<c>beyond.nonlinear.probes[].set</c>).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ProbeSet>))]
public enum ProbeSet
{
    /// <summary>D_rand's images with their targets.</summary>
    [JsonStringEnumMemberName("drand")] DRand,
    /// <summary>D_det's images with their targets.</summary>
    [JsonStringEnumMemberName("ddet")] DDet,
    /// <summary>The clean training images with their true labels: the ceiling.</summary>
    [JsonStringEnumMemberName("cleanD")] CleanD,
    /// <summary>D_rand's matched null: the clean originals with D_rand's targets.</summary>
    [JsonStringEnumMemberName("drandNull")] DRandNull,
    /// <summary>D_det's matched null: the clean originals with D_det's targets.</summary>
    [JsonStringEnumMemberName("ddetNull")] DDetNull,
}

/// <summary>
/// Which probe of the nonlinear extension: the features it reads and the images and labels it is
/// trained on. Readers address the probes by it, never by their display names (<see cref="Name"/>,
/// which it makes) or their position.
/// </summary>
public readonly record struct NonlinearProbeKind(FeatureView View, ProbeSet Set)
{
    /// <summary>Every probe the extension fits, in the order it fits them: per robust view the two sets, the ceiling and the two nulls; then the standard model's logits on the two sets.</summary>
    public static IReadOnlyList<NonlinearProbeKind> All { get; } =
    [
        .. new[] { FeatureView.RobustLogits, FeatureView.RobustPenultimate }.SelectMany(v => Enum.GetValues<ProbeSet>().Select(s => new NonlinearProbeKind(v, s))),
        new(FeatureView.StandardLogits, ProbeSet.DRand),
        new(FeatureView.StandardLogits, ProbeSet.DDet),
    ];

    /// <summary>The matched null of a probe on D_rand or D_det (the clean originals with the same labels), or null.</summary>
    public NonlinearProbeKind? Null => View == FeatureView.StandardLogits ? null : Set switch
    {
        ProbeSet.DRand => this with { Set = ProbeSet.DRandNull },
        ProbeSet.DDet => this with { Set = ProbeSet.DDetNull },
        _ => null,
    };

    /// <summary>How tables and logs name a view: "robust CNN logits".</summary>
    public static string ViewName(FeatureView view) => view switch
    {
        FeatureView.RobustLogits => "robust CNN logits",
        FeatureView.RobustPenultimate => "robust CNN penultimate features",
        FeatureView.StandardLogits => "standard model logits (non-robust)",
        _ => throw new ArgumentOutOfRangeException(nameof(view), view, "unknown feature view"),
    };

    /// <summary>How tables and logs name a set: "D_rand", "clean images, D_rand labels".</summary>
    public static string SetName(ProbeSet set) => set switch
    {
        ProbeSet.DRand => "D_rand",
        ProbeSet.DDet => "D_det",
        ProbeSet.CleanD => "clean D",
        ProbeSet.DRandNull => "clean images, D_rand labels",
        ProbeSet.DDetNull => "clean images, D_det labels",
        _ => throw new ArgumentOutOfRangeException(nameof(set), set, "unknown probe set"),
    };

    /// <summary>The probe's display name, e.g. "D_rand, robust CNN logits" (the entry's <see cref="ProbeEntry.Name"/>).</summary>
    public string Name => $"{SetName(Set)}, {ViewName(View)}";

    public override string ToString() => Name;
}

/// <summary>One probe of the nonlinear extension: which one, and its entry.</summary>
public sealed record NonlinearProbe(NonlinearProbeKind Kind, ProbeEntry Entry);

/// <summary>
/// One entry of <c>beyond.nonlinear.probes</c>: which probe (<see cref="View"/>, <see cref="Set"/>)
/// beside the members of its entry (<see cref="EntryResult"/>). Files written before the entries
/// carried their kind are given it by <see cref="ResultsUpgrade"/>.
/// </summary>
public sealed record NonlinearProbeResult(FeatureView View, ProbeSet Set, string Name, [property: Fraction] double Accuracy, [property: Fraction] double Lo, [property: Fraction] double Hi,
    int NTrain, int NTest, int Features, bool? Converged, int? Iterations)
{
    /// <summary>Which probe.</summary>
    [JsonIgnore] public NonlinearProbeKind Kind => new(View, Set);

    /// <summary>The entry alone.</summary>
    [JsonIgnore] public EntryResult Entry => new(Name, Accuracy, Lo, Hi, NTrain, NTest, Features, Converged, Iterations);

    public static NonlinearProbeResult Of(NonlinearProbe p)
    {
        var e = EntryResult.Of(p.Entry);
        return new(p.Kind.View, p.Kind.Set, e.Name, e.Accuracy, e.Lo, e.Hi, e.NTrain, e.NTest, e.Features, e.Converged, e.Iterations);
    }
}
