namespace Leakage.Experiment;

/// <summary>
/// Numbers published by the work this project reproduces, for tables that set a run beside them.
/// The headline accuracies are in <see cref="SeedStudy.Headlines"/> (with the results.json key each
/// compares with); this class holds the per-feature values.
/// </summary>
public static class Published
{
    /// <summary>
    /// Goh (Distill 2019): gamma_i of the ten robust features (weight rows of his robust linear
    /// CIFAR-10 classifier, radius 0.25), class 0..9. His input scaling is not stated.
    /// </summary>
    public static IReadOnlyList<double> GohGamma { get; } = Array.AsReadOnly([0.214, 0.194, 0.126, 0.126, 0.143, 0.154, 0.172, 0.155, 0.231, 0.212]);
}
