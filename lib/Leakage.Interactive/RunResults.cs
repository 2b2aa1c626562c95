using Leakage.Experiment;

namespace Leakage.Interactive;

/// <summary>
/// A run's results for the notebooks' "at a glance" tables, read through <see cref="RunResultsRecord"/>
/// (the record the steps write): each value is null until the step that records it has run. A cell
/// that ends with the view shows the answer and the headline rows beside the published ones, the same
/// rows as the CLI summary and the report (<see cref="HeadlineRow"/>).
/// </summary>
public sealed class RunResults
{
    RunResults(RunResultsRecord record, string source)
    {
        Record = record;
        Source = source;
        // Runs recorded before the leakage step compared its probes with their nulls have no comparisons.
        if (record.Leakage?.Comparisons is not null) Leakage = LeakageView.Read(record, source);
    }

    /// <summary>Reads the results file of a run.</summary>
    /// <exception cref="InvalidDataException">A recorded value is malformed; the message names the file.</exception>
    public static RunResults Read(ResultsFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        return new RunResults(file.Record(), file.Path);
    }

    /// <summary>Reads a results.json file (e.g. a recorded run under docs/results).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">It is not a JSON object, or a recorded value is malformed; the message names the file.</exception>
    public static RunResults Load(string path) => new(ResultsFile.Load(path), path);

    /// <summary>The results as recorded.</summary>
    public RunResultsRecord Record { get; }
    /// <summary>The file read.</summary>
    public string Source { get; }
    /// <summary>Clean test accuracy of the standard model.</summary>
    public double? StandardAccuracy => Record.StandardModel?.TestAccuracy;
    /// <summary>Clean test accuracy of the model trained on D_rand.</summary>
    public double? TransferDRand => Record.Transfer?.Drand;
    /// <summary>Clean test accuracy of the model trained on D_det.</summary>
    public double? TransferDDet => Record.Transfer?.Ddet;
    /// <summary>C's Spec 2 at its certification radius.</summary>
    public double? Spec2 => Record.RobustModel?.Spec2;
    /// <summary>C's certification radius.</summary>
    public double? RobustRadius => Record.RobustModel?.Radius;
    /// <summary>The units of <see cref="RobustRadius"/>.</summary>
    public string? RobustUnits => Record.RobustModel?.RadiusUnits;
    /// <summary>Goh's probe on D_rand.</summary>
    public double? LeakageDRand => Record.Leakage?.Drand;
    /// <summary>Goh's probe on D_det.</summary>
    public double? LeakageDDet => Record.Leakage?.Ddet;
    /// <summary>The D_rand probe's matched null: the same labels on the clean originals.</summary>
    public double? NullDRand => Record.LeakageControls?.DrandClean?.Accuracy;
    /// <summary>The D_det probe's matched null.</summary>
    public double? NullDDet => Record.LeakageControls?.DdetClean?.Accuracy;
    /// <summary>Excess of the D_rand probe over its null.</summary>
    public double? ExcessDRand => Leakage?.Comparisons.DRand.Excess;
    /// <summary>Excess of the D_det probe over its null.</summary>
    public double? ExcessDDet => Leakage?.Comparisons.DDet.Excess;
    /// <summary>The leakage step in full, when it has run and recorded its comparisons with the nulls.</summary>
    public LeakageView? Leakage { get; }
    /// <summary>The extensions beyond Goh, when one has run.</summary>
    public BeyondSection? Beyond => Record.Beyond;

    /// <summary>The recorded compute time of a step (its <see cref="StepInfo.Key"/>, e.g. "dRand"), null when not recorded.</summary>
    public double? Seconds(string step) => Record.SecondsOf(step);

    /// <summary>What this run answers to "did it reproduce?": the same rows as the CLI summary and the report open with.</summary>
    public RunAnswer Answer => RunAnswer.Of(Record);

    /// <summary>This run's headline numbers (<see cref="HeadlineRow.Of"/>): the rows the CLI summary and the report show.</summary>
    public IReadOnlyList<HeadlineRow> Headlines => HeadlineRow.Of(Record);

    /// <summary>
    /// The answer, then every headline number beside its published value ("not run" for those not yet
    /// recorded), then the matched nulls: what a cell ending with the view shows.
    /// </summary>
    public Html ToHtml()
    {
        string P(double? v) => Readings.Percent(v);
        var answer = Answer;
        return Html.Concat(
        [
            Tables.KeyValue(
            [
                .. answer.Leakage.Select(row => ($"{row.Set}: Goh's probe / its null / excess, points (Goh: {Published.Percent(row.Goh)})",
                    $"{P(row.Probe)} / {P(row.Null)} / {row.ExcessText}: {row.Verdict}")),
                ("profile", answer.Setting),
                ("same labels on clean images: D_rand / D_det", $"{P(NullDRand)} / {P(NullDDet)}"),
                ("excess over the null: D_rand / D_det", $"{P(ExcessDRand)} / {P(ExcessDDet)}"),
                ("results file", DisplayPaths.Current?.Show(Source) ?? Source),
            ], "Did robust features leak? Goh's probe against its null"),
            Tables.ToHtml(Headlines.Select(r => new SummaryRow(r.Label, r.Text, r.Published)), "This run against the published numbers"),
        ]);
    }

    /// <summary>A row of the table of headline numbers: the same label, value and published value as the CLI summary and the report.</summary>
    public sealed record SummaryRow(string Measure, string ThisRun, string Published);

    /// <summary>What the extensions recorded, beside the main leakage figures.</summary>
    /// <exception cref="NotebookCheckException">No extension has recorded anything.</exception>
    public Html BeyondTable()
    {
        var b = Beyond ?? throw new NotebookCheckException($"{Source} has no results under beyond.");
        string P(double? v) => Readings.Percent(v);
        var rows = new List<(string, string)>
        {
            ($"leakage probe on D_rand / D_det, linear C (Goh: {Published.Percent(Published.LeakageDRand)} / {Published.Percent(Published.LeakageDDet)})",
                $"{P(LeakageDRand)} / {P(LeakageDDet)}"),
        };
        if (b.Nonlinear is { } n)
        {
            rows.Add(($"robust CNN: clean / under PGD at {n.Radius} ({StepCatalog.Nonlinear.ResultsKey})", $"{P(n.CleanAccuracyOnAttacked)} / {P(n.RobustAccuracy)}"));
            rows.Add(("probe on robust CNN logits, D_rand / D_det", $"{P(n.Probe(FeatureView.RobustLogits, ProbeSet.DRand)?.Accuracy)} / {P(n.Probe(FeatureView.RobustLogits, ProbeSet.DDet)?.Accuracy)}"));
            rows.Add(("probe on standard model logits, D_rand / D_det", $"{P(n.Probe(FeatureView.StandardLogits, ProbeSet.DRand)?.Accuracy)} / {P(n.Probe(FeatureView.StandardLogits, ProbeSet.DDet)?.Accuracy)}"));
        }
        foreach (var p in b.RadiusSweep ?? [])
            rows.Add(($"radius {p.Radius} ({p.Units}): Spec 2 / D_rand / D_det ({StepCatalog.RadiusSweep.ResultsKey})", $"{P(p.Spec2)} / {P(p.LeakageDrand.Accuracy)} / {P(p.LeakageDdet.Accuracy)}"));
        if (b.ProbeSeeds is { } s)
            rows.Add(($"D_rand / D_det over {s.Seeds.Count} seeds of C, mean ± sd ({StepCatalog.ProbeSeeds.ResultsKey})",
                $"{P(s.Drand.Mean)} ± {P(s.Drand.Sd)} / {P(s.Ddet.Mean)} ± {P(s.Ddet.Sd)}"));
        foreach (var set in b.Released ?? [])
            rows.Add(($"released {set.Set} ({StepCatalog.Released.ResultsKey})", P(set.Probe.Accuracy)));
        rows.Add(("results file", DisplayPaths.Current?.Show(Source) ?? Source));
        return Tables.KeyValue(rows, "Beyond Goh: this run");
    }
}
