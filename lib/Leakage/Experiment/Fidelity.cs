using System.Text.Json.Nodes;

namespace Leakage.Experiment;

/// <summary>
/// How close a run comes to the published experiment, from its results.json: C's gammas against
/// Goh's table (largest absolute difference, Pearson r), the targeted attack's success on D_rand and
/// D_det, and the transfer accuracies minus Ilyas et al.'s Table 1 (<see cref="Published"/>).
/// </summary>
public static class Fidelity
{
    /// <summary>Key of the block in results.json.</summary>
    public const string ResultsKey = "fidelity";

    /// <summary>The block for <paramref name="results"/>; entries whose inputs are missing are left out.</summary>
    public static JsonObject Compute(JsonObject results)
    {
        var block = new JsonObject();
        if (results["robustModel"]?["radiusUnits"]?.GetValue<string>() is string units
            && GammaIn(results, units) is { Length: 10 } gamma)
        {
            var goh = Published.GohGamma;
            block["gammaUnits"] = "normalised";
            block["gammaMaxAbsDiff"] = gamma.Zip(goh, (a, b) => Math.Abs(a - b)).Max();
            block["gammaPearson"] = Pearson(gamma, goh);
            block["gammaSource"] = Published.GohGammaSource;
        }
        var success = new JsonObject();
        foreach (var key in new[] { "drand", "ddet" })
            if (SeedStudy.Value(results, $"adversarial.{key}.attackSuccess") is double s) success[key] = s;
        if (success.Count > 0) block["attackSuccess"] = success;
        var gap = new JsonObject();
        if (SeedStudy.Value(results, "transfer.drand") is double r) gap["drand"] = r - Published.TransferDRand.Value;
        if (SeedStudy.Value(results, "transfer.ddet") is double d) gap["ddet"] = d - Published.TransferDDet.Value;
        if (gap.Count > 0)
        {
            block["transferGap"] = gap;
            block["transferPublished"] = new JsonObject
            {
                ["drand"] = Published.TransferDRand.Value,
                ["ddet"] = Published.TransferDDet.Value,
                ["source"] = Published.TransferDRand.Source,
            };
        }
        return block;
    }

    static double[]? GammaIn(JsonObject results, string units)
    {
        // robustModel holds the configured units; robustModel.otherUnits the other ones. Goh's table
        // matches the normalised reading (docs/results.md), so that one is compared.
        var robust = results["robustModel"] as JsonObject;
        var node = units == "normalised" ? robust : robust?["otherUnits"];
        return (node?["gamma"] as JsonArray)?.Select(g => g!.GetValue<double>()).ToArray();
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
