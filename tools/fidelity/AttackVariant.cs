using System.Globalization;
using Leakage.Attacks;

/// <summary>
/// The attack of a variant: STEPSxSTEP (a constant step size) or STEPSxFIRST>LAST (the step size falling from FIRST to
/// LAST on a cosine schedule), targeted L2 PGD within <c>eps</c>. The tool's one parser of that grammar.
/// </summary>
static class AttackVariant
{
    public static L2PgdOptions Parse(string spec, double eps)
    {
        var parts = spec.Split('x');
        if (parts.Length != 2) throw new ArgumentException($"attack variant '{spec}': expected STEPSxSTEP or STEPSxFIRST>LAST, e.g. 10x0.1");
        var sizes = parts[1].Split('>');
        double? finalStep = sizes.Length > 1 ? double.Parse(sizes[1], CultureInfo.InvariantCulture) : null;
        return new L2PgdOptions { Eps = eps, Steps = int.Parse(parts[0], CultureInfo.InvariantCulture), StepSize = double.Parse(sizes[0], CultureInfo.InvariantCulture), FinalStepSize = finalStep, Targeted = true };
    }
}
