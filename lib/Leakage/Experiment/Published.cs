namespace Leakage.Experiment;

/// <summary>A number from the literature with where it comes from.</summary>
/// <param name="Value">The value (accuracies and fractions in [0, 1]).</param>
/// <param name="Source">Paper and table or section.</param>
public sealed record PublishedValue(double Value, string Source);

/// <summary>
/// The published figures this project compares with, in one place (sources in
/// <c>docs/anchors.md</c>): <see cref="SeedStudy.Headlines"/>, the report's summary, the
/// <see cref="Fidelity"/> block and the notebooks read them from here. Accuracies are fractions in [0, 1].
/// </summary>
public static class Published
{
    const string IlyasTable1 = "Ilyas et al. 2019, Table 1 (ResNet-50, CIFAR-10 test accuracy)";
    const string Goh = "Goh 2019, Distill comment 'Robust Feature Leakage'";

    /// <summary>Standard model trained on D, clean test accuracy.</summary>
    public static PublishedValue StandardAccuracy { get; } = new(0.953, IlyasTable1);
    /// <summary>Model trained on D_rand, clean test accuracy.</summary>
    public static PublishedValue TransferDRand { get; } = new(0.633, IlyasTable1);
    /// <summary>Model trained on D_det, clean test accuracy.</summary>
    public static PublishedValue TransferDDet { get; } = new(0.437, IlyasTable1);
    /// <summary>Leakage probe on C's ten features trained on D_rand.</summary>
    public static PublishedValue LeakageDRand { get; } = new(0.235, Goh);
    /// <summary>Leakage probe on C's ten features trained on D_det.</summary>
    public static PublishedValue LeakageDDet { get; } = new(0.0681, Goh);
    /// <summary>Spec 2: the smallest share of test points whose prediction is certified within radius 0.25.</summary>
    public static PublishedValue Spec2Minimum { get; } = new(0.80, Goh);

    /// <summary>A published accuracy as a table shows it, e.g. "63.3%".</summary>
    public static string Percent(PublishedValue p) => (p.Value * 100).ToString("0.##", System.Globalization.CultureInfo.InvariantCulture) + "%";

    /// <summary>Goh's gamma_i of C's ten features (Spec 1, radius 0.25), classes 0..9.</summary>
    public static IReadOnlyList<double> GohGamma { get; } = Array.AsReadOnly(new[] {0.214, 0.194, 0.126, 0.126, 0.143, 0.154, 0.172, 0.155, 0.231, 0.212 });
    /// <summary>Where <see cref="GohGamma"/> comes from.</summary>
    public const string GohGammaSource = Goh;
}
