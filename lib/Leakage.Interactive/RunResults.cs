using System.Text.Json.Nodes;
using Leakage.Experiment;
using Leakage.Probes;

namespace Leakage.Interactive;

/// <summary>
/// A run's results.json read into typed members, for the notebooks' "at a glance" tables: each
/// value is null until the step that records it has run. The one place the notebooks read
/// results.json; a cell that ends with the view shows the main results beside the published ones.
/// </summary>
public sealed class RunResults
{
    readonly JsonObject _root;
    readonly ResultsReader _r;

    RunResults(JsonObject root, string source)
    {
        _root = root;
        _r = new ResultsReader(source);
        Source = source;
        var standard = root["standardModel"] as JsonObject;
        StandardAccuracy = standard is null ? null : _r.OptionalNumber(standard, "standardModel.testAccuracy");
        var transfer = root["transfer"] as JsonObject;
        TransferDRand = transfer is null ? null : _r.OptionalNumber(transfer, "transfer.drand");
        TransferDDet = transfer is null ? null : _r.OptionalNumber(transfer, "transfer.ddet");
        if (root["robustModel"] is JsonObject robust)
        {
            Spec2 = _r.Number(robust, "robustModel.spec2");
            RobustRadius = _r.Number(robust, "robustModel.radius");
            RobustUnits = _r.String(robust, "robustModel.radiusUnits");
        }
        if (root["leakage"] is JsonObject leakage)
        {
            LeakageDRand = _r.Number(leakage, "leakage.drand");
            LeakageDDet = _r.Number(leakage, "leakage.ddet");
            // Runs recorded before the leakage step compared its probes with their nulls have no comparisons.
            if (leakage["comparisons"] is JsonObject)
            {
                Leakage = LeakageView.Read(root, source);
                ExcessDRand = Leakage!.Comparisons.DRand.Excess;
                ExcessDDet = Leakage.Comparisons.DDet.Excess;
            }
        }
        if (root[LeakageControls.ResultsKey] is JsonObject nulls)
        {
            NullDRand = nulls["drandClean"] is JsonObject d ? _r.Number(d, $"{LeakageControls.ResultsKey}.drandClean.accuracy") : null;
            NullDDet = nulls["ddetClean"] is JsonObject e ? _r.Number(e, $"{LeakageControls.ResultsKey}.ddetClean.accuracy") : null;
        }
        Beyond = root[BeyondResults.Section] is JsonObject beyond ? new BeyondRecord(beyond, _r) : null;
    }

    /// <summary>Reads the results file of a run.</summary>
    public static RunResults Read(ResultsFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        return new RunResults(file.Read(), file.Path);
    }

    /// <summary>Reads a results.json file (e.g. a recorded run under docs/results).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">It is not a JSON object, or a recorded value is malformed; the message names the file.</exception>
    public static RunResults Load(string path)
    {
        return new RunResults(ResultsFile.Load(path), path);
    }

    /// <summary>The file read.</summary>
    public string Source { get; }
    /// <summary>Clean test accuracy of the standard model.</summary>
    public double? StandardAccuracy { get; }
    /// <summary>Clean test accuracy of the model trained on D_rand.</summary>
    public double? TransferDRand { get; }
    /// <summary>Clean test accuracy of the model trained on D_det.</summary>
    public double? TransferDDet { get; }
    /// <summary>C's Spec 2 at its certification radius.</summary>
    public double? Spec2 { get; }
    /// <summary>C's certification radius.</summary>
    public double? RobustRadius { get; }
    /// <summary>The units of <see cref="RobustRadius"/>.</summary>
    public string? RobustUnits { get; }
    /// <summary>Goh's probe on D_rand.</summary>
    public double? LeakageDRand { get; }
    /// <summary>Goh's probe on D_det.</summary>
    public double? LeakageDDet { get; }
    /// <summary>The D_rand probe's matched null: the same labels on the clean originals.</summary>
    public double? NullDRand { get; }
    /// <summary>The D_det probe's matched null.</summary>
    public double? NullDDet { get; }
    /// <summary>Excess of the D_rand probe over its null.</summary>
    public double? ExcessDRand { get; }
    /// <summary>Excess of the D_det probe over its null.</summary>
    public double? ExcessDDet { get; }
    /// <summary>The leakage step in full, when it has run and recorded its comparisons with the nulls.</summary>
    public LeakageView? Leakage { get; }
    /// <summary>The extensions beyond Goh, when one has run.</summary>
    public BeyondRecord? Beyond { get; }

    /// <summary>The recorded compute time of a step (its key under <c>seconds</c>, e.g. "dRand"), null when not recorded.</summary>
    public double? Seconds(string step) =>
        _root["seconds"] is JsonObject s ? _r.OptionalNumber(s, $"seconds.{step}") : null;

    /// <summary>What this run answers to "did it reproduce?": the same rows as the CLI summary and the report open with.</summary>
    public RunAnswer Answer => RunAnswer.Of(_root);

    /// <summary>This run's headline numbers beside the published ones ("not run" for steps not yet recorded), led by <see cref="Answer"/>.</summary>
    public Html ToHtml()
    {
        string P(double? v) => Readings.Percent(v);
        var answer = Answer;
        return Tables.KeyValue(
        [
            .. answer.Leakage.Select(row => ($"{row.Set}: Goh's probe / its null / excess, points (Goh: {Published.Percent(row.Goh)})",
                $"{P(row.Probe)} / {P(row.Null)} / {row.ExcessText}: {row.Verdict}")),
            ("profile", answer.Setting),
            ($"standard model (Ilyas et al.: {Published.Percent(Published.StandardAccuracy)})", P(StandardAccuracy)),
            ($"trained on D_rand ({Published.Percent(Published.TransferDRand)})", P(TransferDRand)),
            ($"trained on D_det ({Published.Percent(Published.TransferDDet)})", P(TransferDDet)),
            ($"C: Spec 2 at {RobustRadius} {RobustUnits} (Goh: at least {Published.Percent(Published.Spec2Minimum)})", P(Spec2)),
            ($"leakage probe on D_rand (Goh: {Published.Percent(Published.LeakageDRand)})", P(LeakageDRand)),
            ($"leakage probe on D_det (Goh: {Published.Percent(Published.LeakageDDet)})", P(LeakageDDet)),
            ("same labels on clean images: D_rand / D_det", $"{P(NullDRand)} / {P(NullDDet)}"),
            ("excess over the null: D_rand / D_det", $"{P(ExcessDRand)} / {P(ExcessDDet)}"),
            ("results file", DisplayPaths.Current?.Show(Source) ?? Source),
        ], "This run against the published numbers");
    }

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
            rows.Add(($"robust CNN: clean / under PGD at {n.Radius} (beyond.nonlinear)", $"{P(n.CleanAccuracyOnAttacked)} / {P(n.RobustAccuracy)}"));
            rows.Add(("probe on robust CNN logits, D_rand / D_det", $"{P(n.Probe($"D_rand, {NonlinearStep.LogitsView}")?.Accuracy)} / {P(n.Probe($"D_det, {NonlinearStep.LogitsView}")?.Accuracy)}"));
            rows.Add(("probe on standard model logits, D_rand / D_det", $"{P(n.Probe("D_rand, standard model logits")?.Accuracy)} / {P(n.Probe("D_det, standard model logits")?.Accuracy)}"));
        }
        foreach (var p in b.RadiusSweep)
            rows.Add(($"radius {p.Radius} ({p.Units}): Spec 2 / D_rand / D_det (beyond.radiusSweep)", $"{P(p.Spec2)} / {P(p.DRand)} / {P(p.DDet)}"));
        if (b.ProbeSeeds is { } s)
            rows.Add(($"D_rand / D_det over {s.Seeds} seeds of C, mean ± sd (beyond.probeSeeds)",
                $"{P(s.DRandMean)} ± {P(s.DRandSd)} / {P(s.DDetMean)} ± {P(s.DDetSd)}"));
        foreach (var (kind, accuracy) in b.Released)
            rows.Add(($"released {kind} (beyond.released)", P(accuracy)));
        rows.Add(("results file", DisplayPaths.Current?.Show(Source) ?? Source));
        return Tables.KeyValue(rows, "Beyond Goh: this run");
    }
}

/// <summary>The extensions' results as results.json records them under <c>beyond</c>.</summary>
public sealed class BeyondRecord
{
    internal BeyondRecord(JsonObject beyond, ResultsReader r)
    {
        if (beyond["nonlinear"] is JsonObject n)
            Nonlinear = new NonlinearRecord(r.Number(n, "beyond.nonlinear.radius"), r.Number(n, "beyond.nonlinear.cleanAccuracyOnAttacked"),
                r.Number(n, "beyond.nonlinear.robustAccuracy"),
                r.Array(n, "beyond.nonlinear.probes").Select((p, i) => r.EntryOf(p as JsonObject ?? throw new InvalidDataException($"{r.Source}: beyond.nonlinear.probes[{i}] is not an object."), $"beyond.nonlinear.probes[{i}]")).ToList());
        if (beyond["radiusSweep"] is JsonArray sweep)
            RadiusSweep = sweep.Select((p, i) =>
            {
                var key = $"beyond.radiusSweep[{i}]";
                var o = p as JsonObject ?? throw new InvalidDataException($"{r.Source}: {key} is not an object.");
                return new SweepRecord(r.Number(o, $"{key}.radius"), r.String(o, $"{key}.units"), r.Number(o, $"{key}.spec2"),
                    r.Entry(o, $"{key}.leakageDrand").Accuracy, r.Entry(o, $"{key}.leakageDdet").Accuracy);
            }).ToList();
        if (beyond["probeSeeds"] is JsonObject s)
        {
            var drand = r.Object(s, "beyond.probeSeeds.drand");
            var ddet = r.Object(s, "beyond.probeSeeds.ddet");
            ProbeSeeds = new SeedsRecord(r.Array(s, "beyond.probeSeeds.seeds").Count, r.Number(drand, "beyond.probeSeeds.drand.mean"),
                r.OptionalNumber(drand, "beyond.probeSeeds.drand.sd"), r.Number(ddet, "beyond.probeSeeds.ddet.mean"), r.OptionalNumber(ddet, "beyond.probeSeeds.ddet.sd"));
        }
        if (beyond["released"] is JsonObject released)
        {
            ReleasedRoot = r.OptionalString(released, "beyond.released.root");
            Released = released.Where(kv => kv.Value is JsonObject)
                .Select(kv => (kv.Key, r.Number(kv.Value!.AsObject(), $"beyond.released.{kv.Key}.accuracy"))).ToList();
        }
    }

    /// <summary>The robust CNN (part a), when recorded.</summary>
    public NonlinearRecord? Nonlinear { get; }
    /// <summary>The radius sweep (part b), empty when not recorded.</summary>
    public IReadOnlyList<SweepRecord> RadiusSweep { get; } = [];
    /// <summary>The seed study (part c), when recorded.</summary>
    public SeedsRecord? ProbeSeeds { get; }
    /// <summary>The folder the released sets were read from, when recorded.</summary>
    public string? ReleasedRoot { get; }
    /// <summary>The probe's accuracy on each released set (part d), by kind; empty when not recorded.</summary>
    public IReadOnlyList<(string Kind, double Accuracy)> Released { get; } = [];
}

/// <summary>The robust CNN as recorded: PGD radius, accuracies on the attacked images, its probes.</summary>
public sealed record NonlinearRecord(double Radius, double CleanAccuracyOnAttacked, double RobustAccuracy, IReadOnlyList<ProbeEntry> Probes)
{
    /// <summary>The probe whose name starts with <paramref name="prefix"/>, null when none (or several) do.</summary>
    public ProbeEntry? Probe(string prefix)
    {
        var found = Probes.Where(e => e.Name.StartsWith(prefix, StringComparison.Ordinal)).ToList();
        return found.Count == 1 ? found[0] : null;
    }
}

/// <summary>One radius of the sweep as recorded.</summary>
public sealed record SweepRecord(double Radius, string Units, double Spec2, double DRand, double DDet);

/// <summary>The seed study as recorded: number of seeds, mean and sd of the probe on D_rand and D_det.</summary>
public sealed record SeedsRecord(int Seeds, double DRandMean, double? DRandSd, double DDetMean, double? DDetSd);
