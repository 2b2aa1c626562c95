using System.Globalization;
using Leakage.Experiment;

namespace Leakage.Interactive;

/// <summary>
/// The leakage controls of notebook 06 (<see cref="ControlsStep"/>), read back from results.json through
/// their typed records (<see cref="ControlsResult"/>): one table of every set beside D_rand and D_det,
/// and a reading of Goh's question, how much of D_rand's transfer needs the attack at all. A cell that
/// ends with the view shows the table; a run without controls shows how to switch them on.
/// </summary>
public sealed class ControlsView
{
    ControlsView(ControlsResult? result, string source)
    {
        Result = result;
        Source = source;
    }

    /// <summary>The controls as recorded, or null when the run has none.</summary>
    public ControlsResult? Result { get; }

    /// <summary>The results file read.</summary>
    public string Source { get; }

    /// <summary>The controls in a run's results.json (none until the controls step has run).</summary>
    /// <exception cref="InvalidDataException">The section is not a controls table of this version; the message names the file.</exception>
    public static ControlsView Read(ResultsFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        return new ControlsView(file.Record().Controls, file.Path);
    }

    /// <summary>The controls in a results.json file (e.g. a recorded run under docs/results).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">It is not a JSON object, or its controls are malformed; the message names the file.</exception>
    public static ControlsView Load(string path) => new(ResultsFile.Load(path).Controls, path);

    /// <summary>
    /// When there are controls: every control once, in the table's order; every share a fraction; the
    /// excess the probe minus its null; the successful-only views all successes; the leakage-only sets
    /// unattacked; the probes and transfer models scored on <paramref name="testPoints"/> clean images.
    /// </summary>
    public ControlsView Check(long testPoints)
    {
        if (Result is not { } r) return this;
        Interactive.Check.Equal("controls in the table", r.Rows.Count, Enum.GetValues<ControlKind>().Length);
        Interactive.Check.That(r.Rows.Select(x => x.Kind).SequenceEqual(Enum.GetValues<ControlKind>()), "The controls are not in the table's order (ControlKind).");
        Interactive.Check.Equal("test images of the controls", (long)r.TestImages, testPoints);
        foreach (var row in r.Rows)
        {
            Interactive.Check.Fraction($"{row.Set}: classified as its target", row.AttackSuccess);
            Interactive.Check.InRange($"{row.Set}: images", row.Images, 0, r.TrainImages);
            if (row.Probe is not { } p || row.TransferAccuracy is not double transfer)
            {
                Interactive.Check.That(row.NotMeasured is not null && row.Probe is null && row.TransferAccuracy is null,
                    $"{row.Set} lacks its transfer accuracy or probe without saying why.");
                Interactive.Check.That(row.Images < ControlsStep.MinImages, $"{row.Set} has {row.Images} images but was not measured.");
                continue;
            }
            Interactive.Check.Fraction($"{row.Set}: transfer accuracy", transfer);
            Interactive.Check.Fraction($"{row.Set}: probe", p.Accuracy);
            Interactive.Check.Fraction($"{row.Set}: null", p.NullAccuracy);
            Interactive.Check.Close($"{row.Set}: excess over the null", p.ExcessOverNull, p.Accuracy - p.NullAccuracy, 1e-9);
        }
        foreach (var kind in new[] { ControlKind.DRandSuccessful, ControlKind.DDetSuccessful })
            Interactive.Check.Equal($"{r.Row(kind)!.Set}: share of successful attacks", r.Row(kind)!.AttackSuccess, 1.0);
        foreach (var kind in new[] { ControlKind.DRandLeakageOnly, ControlKind.DDetLeakageOnly })
            Interactive.Check.That(!r.Row(kind)!.Attacked, $"{r.Row(kind)!.Set} is recorded as attacked.");
        return this;
    }

    /// <summary>
    /// One control as the table shows it, in percent (empty cells where it was not measured); <paramref name="KeptClean"/>,
    /// a leakage-only set's images left without a pattern (Keller Jordan's construction).
    /// </summary>
    public sealed record Row(string Set, long Images, long? KeptClean, double SuccessPercent, double? TransferPercent, double? ProbePercent, double? NullPercent, string ExcessPoints, string Verdict);

    /// <summary>The rows of the table, empty without controls.</summary>
    public IReadOnlyList<Row> Rows() => Result?.Rows.Select(r => new Row(r.Set, r.Images, r.KeptClean, 100 * r.AttackSuccess, 100 * r.TransferAccuracy,
        100 * r.Probe?.Accuracy, 100 * r.Probe?.NullAccuracy, r.ExcessText, r.Verdict)).ToList() ?? [];

    /// <summary>The table, or a note saying how to run the controls.</summary>
    public Html ToHtml() => Result is { } r
        ? Tables.ToHtml(Rows(), $"Leakage controls on {r.TrainImages.ToString("N0", CultureInfo.InvariantCulture)} training images: share classified as the target, " +
            "transfer and probe on the clean test set (percent), probe against the same probe on the clean originals (excess in points, 95% interval)")
        : Tables.KeyValue([("leakage controls", "not run: they are off by default because each trains one more transfer model; " +
            "set controls.enabled=true (and controls.trainCount for a subset) in LEAKAGE_SETTINGS or with --set, then run this notebook again")], "Leakage controls");

    /// <summary>
    /// Goh's question in this run's numbers: the leakage-only set's transfer (no attack) beside its attacked
    /// set's for each rule, as a share of the attacked set's accuracy above chance; the successful-only
    /// views and D_other beside them; and each probe's verdict.
    /// </summary>
    public Html Reading()
    {
        if (Result is not { } r) return Html.Empty;
        const double chance = 0.1;
        string P(double? v) => v is double d ? (100 * d).ToString("0.0", CultureInfo.InvariantCulture) + "%" : "not measured";
        var rows = new List<(string, string)>();
        foreach (var (attacked, leakageOnly) in new[] { (ControlKind.DRand, ControlKind.DRandLeakageOnly), (ControlKind.DDet, ControlKind.DDetLeakageOnly) })
        {
            var (a, l) = (r.Row(attacked)!, r.Row(leakageOnly)!);
            string kept = l.KeptClean is long k ? $" ({k:N0} of its images left clean: the standard model already classifies them as their target)" : "";
            rows.Add(($"{a.Set}'s transfer without the attack", $"{l.Set}{kept}: {P(l.TransferAccuracy)} against {a.Set}'s {P(a.TransferAccuracy)}; " +
                (a.TransferAccuracy is not double ta || l.TransferAccuracy is not double tl ? "one of the two was not measured"
                    : ta - chance > 0
                        ? $"the set without an attack reaches {(100 * (tl - chance) / (ta - chance)).ToString("0", CultureInfo.InvariantCulture)}% of {a.Set}'s accuracy above chance (10%)"
                        : $"{a.Set}'s transfer model is not above chance (10%) here, so there is no transfer to explain")));
        }
        foreach (var (set, successful) in new[] { (ControlKind.DRand, ControlKind.DRandSuccessful), (ControlKind.DDet, ControlKind.DDetSuccessful) })
        {
            var (a, s) = (r.Row(set)!, r.Row(successful)!);
            rows.Add(($"{a.Set}, failed attacks left out", $"{s.Images:N0} of {a.Images:N0} images: transfer {P(s.TransferAccuracy)} against {P(a.TransferAccuracy)}"));
        }
        var other = r.Row(ControlKind.DOther)!;
        rows.Add(("D_other (target never the label)", $"{P(other.AttackSuccess)} reach the target; transfer {P(other.TransferAccuracy)}"));
        rows.Add(("Goh's probe against its null", string.Join("; ", r.Rows.Select(x => $"{x.Set}: {x.Verdict}"))));
        rows.Add(("results file", DisplayPaths.Current?.Show(Source) ?? Source));
        return Tables.KeyValue(rows, "Reading: how much of the transfer needs the attack?");
    }
}
