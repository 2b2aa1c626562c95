using System.Text.Json.Serialization;

namespace Leakage.Experiment;

/// <summary>A number per main set, each left out when not measured.</summary>
public sealed record PerSetNumber
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public double? Drand { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public double? Ddet { get; init; }
}

/// <summary><c>fidelity.transferPublished</c>: Ilyas et al.'s Table 1 transfer accuracies and where they come from.</summary>
public sealed record TransferPublishedResult([property: Fraction] double Drand, [property: Fraction] double Ddet, string Source);

/// <summary>
/// <c>fidelity</c>: C's gammas against Goh's table (in normalised units), the attack's success on D_rand
/// and D_det, and the transfer accuracies minus Table 1; an entry whose inputs are missing is left out.
/// </summary>
public sealed record FidelityResult
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull), ChoiceOf("robust.units")] public string? GammaUnits { get; init; }
    /// <summary>Largest absolute difference of C's ten gammas from Goh's.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public double? GammaMaxAbsDiff { get; init; }
    /// <summary>Pearson's r of C's ten gammas with Goh's.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public double? GammaPearson { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? GammaSource { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public PerSetNumber? AttackSuccess { get; init; }
    /// <summary>Our transfer accuracy minus Table 1's.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public PerSetNumber? TransferGap { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public TransferPublishedResult? TransferPublished { get; init; }
}

/// <summary>
/// How close a run comes to the published experiment, from its results: C's gammas against
/// Goh's table (largest absolute difference, Pearson r), the targeted attack's success on D_rand and
/// D_det, and the transfer accuracies minus Ilyas et al.'s Table 1 (<see cref="Published"/>).
/// </summary>
public static class Fidelity
{
    /// <summary>Path of the block in results.json.</summary>
    public static string ResultsKey { get; } = RunResultsRecord.PathOf(nameof(RunResultsRecord.Fidelity));

    /// <summary>The results.json sections <see cref="Compute"/> reads: attack success, transfer and C.</summary>
    static readonly string[] Inputs =
        [.. new[] { nameof(RunResultsRecord.Adversarial), nameof(RunResultsRecord.Transfer), nameof(RunResultsRecord.RobustModel) }.Select(m => RunResultsRecord.PathOf(m))];

    /// <summary>Whether writing results.json key <paramref name="key"/> (a dotted path) can change the block.</summary>
    public static bool DependsOn(string key) => Inputs.Any(i => key == i || key.StartsWith(i + ".", StringComparison.Ordinal));

    /// <summary>The block for <paramref name="results"/>; entries whose inputs are missing are left out.</summary>
    public static FidelityResult Compute(RunResultsRecord results)
    {
        ArgumentNullException.ThrowIfNull(results);
        var block = new FidelityResult();
        if (GammaIn(results.RobustModel) is { Count: 10 } gamma)
        {
            var goh = Published.GohGamma;
            block = block with
            {
                GammaUnits = ResultsJson.UnitsName(Attacks.RadiusUnits.Normalised),
                GammaMaxAbsDiff = gamma.Zip(goh, (a, b) => Math.Abs(a - b)).Max(),
                GammaPearson = Pearson(gamma, goh),
                GammaSource = Published.GohGammaSource,
            };
        }
        var a = results.Adversarial;
        if (a?.Drand is not null || a?.Ddet is not null)
            block = block with { AttackSuccess = new PerSetNumber { Drand = a.Drand?.AttackSuccess, Ddet = a.Ddet?.AttackSuccess } };
        var t = results.Transfer;
        if (t?.Drand is not null || t?.Ddet is not null)
            block = block with
            {
                TransferGap = new PerSetNumber { Drand = t.Drand - Published.TransferDRand.Value, Ddet = t.Ddet - Published.TransferDDet.Value },
                TransferPublished = new TransferPublishedResult(Published.TransferDRand.Value, Published.TransferDDet.Value, Published.TransferDRand.Source),
            };
        return block;
    }

    /// <summary>
    /// C's gammas in normalised units: <c>robustModel</c> holds the configured units, <c>otherUnits</c> the
    /// other ones; Goh's table matches the normalised reading (docs/results.md), so that one is compared.
    /// </summary>
    static IReadOnlyList<double>? GammaIn(CertificateResult? robust)
    {
        var normalised = ResultsJson.UnitsName(Attacks.RadiusUnits.Normalised);
        if (robust?.RadiusUnits is not { } units) return null;
        return units == normalised ? robust.Gamma : robust.OtherUnits?.Gamma;
    }

    /// <summary>Pearson's correlation of two equally long series.</summary>
    public static double Pearson(IReadOnlyList<double> a, IReadOnlyList<double> b)
    {
        if (a.Count != b.Count || a.Count < 2) throw new ArgumentException($"Pearson's r needs two series of the same length >= 2, got {a.Count} and {b.Count}.");
        double ma = a.Average(), mb = b.Average();
        double sab = 0, saa = 0, sbb = 0;
        for (int i = 0; i < a.Count; i++)
        {
            sab += (a[i] - ma) * (b[i] - mb);
            saa += (a[i] - ma) * (a[i] - ma);
            sbb += (b[i] - mb) * (b[i] - mb);
        }
        return sab / Math.Sqrt(saa * sbb);
    }
}
