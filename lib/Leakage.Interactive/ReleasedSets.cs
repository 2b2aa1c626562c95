using Leakage.Experiment;
using Leakage.Probes;
using Leakage.Released;

namespace Leakage.Interactive;

/// <summary>The probe on Ilyas et al.'s released data sets (notebook 07, part d).</summary>
public static class ReleasedSets
{
    /// <summary>
    /// What the part shows when <c>beyond.releasedData</c> is not set: that it skipped, the layout the
    /// loader looks for (the library's own names), how to run it, and a probe an earlier run recorded.
    /// </summary>
    public static Html Skipped(RunResults recorded)
    {
        ArgumentNullException.ThrowIfNull(recorded);
        var kinds = Enum.GetValues<ReleasedDatasetKind>();
        Check.Equal("data sets in the release", kinds.Length, 4);
        var rows = new List<(string, string)>
        {
            ("status", "skipped: beyond.releasedData is not set"),
            ("layout looked for", $"<folder>/{ReleasedDatasets.ReleaseFolder}/{{{string.Join(", ", kinds.Select(ReleasedDatasets.FolderName))}}}/{{{ReleasedDatasets.ImagesFile}, {ReleasedDatasets.LabelsFile}}}"),
            ("to run it", "extract datasets.tar, then add --released <folder> to the run or experiment command, or set LEAKAGE_SETTINGS=beyond.releasedData=<folder>"),
        };
        if (recorded.Beyond?.Released is { Count: > 0 } released)
        {
            foreach (var r in released) Check.Fraction($"recorded probe on released {r.Set}", r.Probe.Accuracy);
            rows.Add(("recorded by an earlier run", $"{string.Join(", ", released.Select(r => $"{r.Set} {r.Probe.Accuracy:P1}"))} (sets under {recorded.Record.Settings?.Beyond.ReleasedData})"));
        }
        return Tables.KeyValue(rows, "(d) Released data sets");
    }

    /// <summary>How the tables name a released set.</summary>
    public static string Name(ReleasedProbe r)
    {
        ArgumentNullException.ThrowIfNull(r);
        return r.Kind switch
        {
            ReleasedDatasetKind.DRand => "D_rand (released)",
            ReleasedDatasetKind.DDet => "D_det (released)",
            ReleasedDatasetKind.Robust => "D_R (released)",
            ReleasedDatasetKind.NonRobust => "D_NR (released)",
            _ => Path.GetFileName(r.Folder),
        };
    }

    static string Goh(ReleasedProbe r) => r.Kind switch
    {
        ReleasedDatasetKind.DRand => $"{Published.Percent(Published.LeakageDRand)} (D_rand)",
        ReleasedDatasetKind.NonRobust => $"{Published.Percent(Published.LeakageDRand)}, if measured on D_NR",
        ReleasedDatasetKind.DDet => Published.Percent(Published.LeakageDDet),
        _ => "",
    };

    /// <summary>
    /// Checks every released probe (sound entry on its set's images and the test set, ten features,
    /// images present) and shows them beside this run's D_rand and D_det probes and Goh's figures.
    /// </summary>
    public static Html Table(IReadOnlyList<ReleasedProbe> released, LeakageView linear, string folder, long testPoints)
    {
        ArgumentNullException.ThrowIfNull(released);
        ArgumentNullException.ThrowIfNull(linear);
        Check.That(released.Count > 0, $"No released data set was probed under {folder}.");
        foreach (var r in released)
        {
            Check.Entry(r.Entry, r.Images, testPoints);
            Check.Equal($"{r.Entry.Name}: features", r.Entry.Features, 10);
            Check.That(r.Images > 0, $"{r.Folder}: no images.");
        }
        var ours = new Dictionary<ReleasedDatasetKind, ProbeEntry> { [ReleasedDatasetKind.DRand] = linear.DRand, [ReleasedDatasetKind.DDet] = linear.DDet };
        return Tables.ToHtml(released.Select(r => new
        {
            DataSet = Name(r),
            Images = r.Images,
            Percent = 100 * r.Entry.Accuracy,
            LowerPercent = 100 * r.Entry.Lo,
            UpperPercent = 100 * r.Entry.Hi,
            ThisRunsSetPercent = r.Kind is { } kind && ours.TryGetValue(kind, out var e) ? (double?)(100 * e.Accuracy) : null,
            Goh = Goh(r),
        }), $"Probe on C's ten features, trained on the released sets under {folder}, tested on this run's clean test set");
    }
}
