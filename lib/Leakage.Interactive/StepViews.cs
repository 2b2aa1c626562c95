using Leakage.Attacks;
using Leakage.Adversarial;
using Leakage.Data;
using Leakage.Experiment;
using Leakage.Robust;
using Leakage.Training;
using Plotly.NET;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Interactive;

/// <summary>Checks and summaries of the data and output folders (notebooks 00 and 01).</summary>
public static class DataChecks
{
    /// <summary>
    /// What a CIFAR-10 folder holds, in one line: its train/test class folders, else its first
    /// entries, else how to get the data.
    /// </summary>
    public static string FolderSummary(string dataDirectory)
    {
        var data = new DirectoryInfo(dataDirectory);
        if (!data.Exists) return "absent: get CIFAR-10 with the download command (README, Data) or point LEAKAGE_DATA at it";
        var splits = new[] { "train", "test" }.Where(s => Directory.Exists(Path.Combine(data.FullName, s))).ToList();
        if (splits.Count == 0)
            return string.Join(", ", data.EnumerateFileSystemInfos().Select(e => e.Name).Order().Take(10));
        return string.Join("; ", splits.Select(s => $"{s}: {Directory.GetDirectories(Path.Combine(data.FullName, s)).Length} class folders"));
    }

    /// <summary>
    /// One split of the run against the split in the folder: as many images as asked (all when
    /// <paramref name="wanted"/> is 0 or too large), 3 x 32 x 32 float32 pixels in [0, 1], labels
    /// 0..9, every class present in the folder, and each class's share kept within one image.
    /// </summary>
    public static void Split(string name, CifarSplit split, CifarSplit full, int wanted)
    {
        ArgumentNullException.ThrowIfNull(split);
        ArgumentNullException.ThrowIfNull(full);
        using var scope = NewDisposeScope();
        Check.Equal($"{name}: images used", split.Count, wanted > 0 && wanted < full.Count ? wanted : full.Count);
        Check.Equal($"{name}: image shape", string.Join(" x ", split.Images.shape.Skip(1)), "3 x 32 x 32");
        Check.That(split.Images.dtype == ScalarType.Float32, $"{name}: images are {split.Images.dtype}, expected float32.");
        Check.InRange($"{name}: smallest pixel value", split.Images.min().item<float>(), 0, 1);
        Check.InRange($"{name}: largest pixel value", split.Images.max().item<float>(), 0, 1);
        Check.InRange($"{name}: smallest label", split.Labels.min().item<long>(), 0, Cifar10.Classes - 1);
        Check.InRange($"{name}: largest label", split.Labels.max().item<long>(), 0, Cifar10.Classes - 1);
        var used = split.ClassCounts();
        var all = full.ClassCounts();
        for (int c = 0; c < Cifar10.Classes; c++)
        {
            Check.That(all[c] > 0, $"{name}: the data folder has no image of class {c} ({Cifar10.ClassNames[c]}).");
            Check.Close($"{name}: images of class {c} ({Cifar10.ClassNames[c]}) in the subset", used[c], (double)split.Count * all[c] / full.Count, 1.0);
        }
    }

    /// <summary>How the loader read the folder.</summary>
    public static string Layout(DataFormat format) => format == DataFormat.Binary
        ? "official binary release (cifar-10-batches-bin)"
        : "image folder (train/<class>/, test/<class>/)";
}

/// <summary>Mean and standard deviation of one colour channel beside the constants the models normalise with.</summary>
public sealed record ChannelStats(string Channel, double Mean, double Std, double ModelMean, double ModelStd)
{
    /// <summary>The three channels of <paramref name="images"/> (N x 3 x H x W, pixels in [0, 1]).</summary>
    public static IReadOnlyList<ChannelStats> Of(Tensor images)
    {
        ArgumentNullException.ThrowIfNull(images);
        return new[] { "red", "green", "blue" }.Select((name, c) =>
        {
            using var scope = NewDisposeScope();
            var x = images.select(1, c);
            double mean = x.mean().item<float>();
            double std = Math.Sqrt(Math.Max(0, x.square().mean().item<float>() - mean * mean));
            return new ChannelStats(name, mean, std, CifarNormalisation.Mean[c], CifarNormalisation.Std[c]);
        }).ToList();
    }
}

/// <summary>Checks and pictures of the adversarial data sets (notebook 03).</summary>
public static class AttackViews
{
    /// <summary>
    /// One attacked image per training image, with the training labels in order, pixels in [0, 1]
    /// and targets 0..9.
    /// </summary>
    public static void CheckSet(AdversarialDataset set, CifarSplit train)
    {
        ArgumentNullException.ThrowIfNull(set);
        ArgumentNullException.ThrowIfNull(train);
        var name = AdversarialSet.Of(set.Kind).Name;
        using var scope = NewDisposeScope();
        Check.Equal($"{name}: images", set.Count, (long)train.Count);
        Check.That(set.Labels.eq(train.Labels).all().item<bool>(), $"{name}: the original labels differ from the training labels (the set was built from other data).");
        Check.InRange($"{name}: smallest pixel value", set.Images.min().item<float>(), 0, 1);
        Check.InRange($"{name}: largest pixel value", set.Images.max().item<float>(), 0, 1);
        Check.InRange($"{name}: smallest target", set.Targets.min().item<long>(), 0, Cifar10.Classes - 1);
        Check.InRange($"{name}: largest target", set.Targets.max().item<long>(), 0, Cifar10.Classes - 1);
    }

    /// <summary>
    /// Original, attacked image and magnified perturbation for one training image of each of the
    /// first <paramref name="count"/> classes, captioned with class, target and whether the attack
    /// reached it.
    /// </summary>
    public static Html Examples(AdversarialDataset set, Tensor trainImages, int count = 6)
    {
        ArgumentNullException.ThrowIfNull(set);
        using var scope = NewDisposeScope();
        var labels = set.Labels.data<long>().ToArray();
        var picks = Enumerable.Range(0, Cifar10.Classes).Select(c => Array.IndexOf(labels, (long)c)).Where(i => i >= 0).Take(count).ToArray();
        Check.That(picks.Length > 0, "No training image to show.");
        var idx = tensor(picks.Select(i => (long)i).ToArray());
        var targets = set.Targets.data<long>().ToArray();
        var success = set.Success.data<bool>().ToArray();
        var captions = picks.Select(i => $"{Cifar10.ClassNames[(int)labels[i]]} → {Cifar10.ClassNames[(int)targets[i]]} ({(success[i] ? "reached" : "not reached")})").ToList();
        return Images.Perturbations(trainImages.index_select(0, idx), set.Images.index_select(0, idx), captions, scale: 3);
    }

    /// <summary>One row of the summary of both sets.</summary>
    public sealed record SetSummary(string Set, long Images, double AttackSuccessPercent, double TargetEqualsLabelPercent, double Eps, double StepSize, int Steps, double Seconds);

    /// <summary>Both sets with the attack's settings and their recorded compute time.</summary>
    public static Html Summary(AdversarialDataset drand, AdversarialDataset ddet, AttackSettings attack, RunResults results)
    {
        ArgumentNullException.ThrowIfNull(attack);
        ArgumentNullException.ThrowIfNull(results);
        SetSummary Row(string name, AdversarialDataset s, string step) =>
            new(name, s.Count, 100 * s.SuccessRate, 100 * s.TargetEqualsLabelRate, attack.Eps, attack.Step, attack.Steps, results.Seconds(step) ?? 0);
        return Tables.ToHtml(new[] { Row("D_rand", drand, StepCatalog.DRand.Key), Row("D_det", ddet, StepCatalog.DDet.Key) });
    }
}

/// <summary>One row of Ilyas et al.'s Table 1: a model's clean test accuracy with its 95% Wilson interval and the published value (percent).</summary>
public sealed record Table1Row(string TrainedOn, double Percent, double LowerPercent, double UpperPercent, double IlyasEtAlPercent)
{
    /// <summary>The row of a model with <paramref name="accuracy"/> on <paramref name="testPoints"/> test images; checks the accuracy lies in its interval.</summary>
    public static Table1Row Of(string name, double accuracy, long testPoints, PublishedValue published)
    {
        ArgumentNullException.ThrowIfNull(published);
        var (lo, hi) = Proportions.WilsonForShare(accuracy, testPoints);
        var row = new Table1Row(name, 100 * accuracy, 100 * lo, 100 * hi, 100 * published.Value);
        Check.InRange($"{name}: accuracy (%)", row.Percent, row.LowerPercent, row.UpperPercent);
        return row;
    }

    /// <summary>Against chance (10%) by the interval: above, below or not distinguishable.</summary>
    public string Verdict => LowerPercent > 10 ? "above chance" : UpperPercent < 10 ? "below chance" : "not distinguishable from chance";

    /// <summary>The bar of the Table 1 chart.</summary>
    public IntervalBar Bar => new(TrainedOn, Percent, LowerPercent, UpperPercent, IlyasEtAlPercent);
}

/// <summary>Curves of a training history.</summary>
public static class TrainingCurves
{
    /// <summary>Training accuracy per epoch as a line.</summary>
    public static Series Accuracy(string name, IReadOnlyList<EpochSummary> history)
    {
        ArgumentNullException.ThrowIfNull(history);
        return new(name, history.Select(e => (double)e.Epoch).ToList(), history.Select(e => e.Accuracy).ToList());
    }
}

/// <summary>Spec 2 and certified accuracy of C against the radius (notebook 05).</summary>
public static class CertificateCurves
{
    /// <summary>
    /// The curve of <paramref name="c"/> on a grid up to twice its radius (or the 95th percentile of
    /// the certified radii), checked: Spec 2 at each radius equals the share of stored radii above
    /// it, the curve meets the certificate at the certification radius, and neither curve rises.
    /// </summary>
    public static IReadOnlyList<CertifiedPoint> Curve(UnitCertificate c, LinearClassifier model, Tensor images, Tensor labels)
    {
        ArgumentNullException.ThrowIfNull(c);
        var finite = c.CertifiedRadii.Where(double.IsFinite).Order().ToArray();
        var upper = Math.Max(2 * c.Radius, finite.Length == 0 ? 1 : finite[(int)(0.95 * (finite.Length - 1))]);
        var grid = CertificateChecks.Grid(upper, 41).Append(c.Radius).Distinct().Order();
        var curve = CertificateChecks.Curve(c, model, images, labels, grid);
        var u = c.Units.Label();
        foreach (var p in curve)
            Check.Close($"Spec 2 at {p.Radius:0.###} ({u}) against the stored radii", p.Spec2Fraction, c.Spec2At(p.Radius), 1e-12);
        var at = curve.Single(p => p.Radius == c.Radius);
        Check.Close($"Spec 2 on the curve at the certification radius ({u})", at.Spec2Fraction, c.Spec2Fraction, 1e-12);
        Check.Close($"certified accuracy on the curve at the certification radius ({u})", at.CertifiedAccuracy, c.CertifiedAccuracy, 1e-12);
        for (int i = 1; i < curve.Count; i++)
        {
            Check.AtMost($"Spec 2 at {curve[i].Radius:0.###} ({u})", curve[i].Spec2Fraction, curve[i - 1].Spec2Fraction);
            Check.AtMost($"certified accuracy at {curve[i].Radius:0.###} ({u})", curve[i].CertifiedAccuracy, curve[i - 1].CertifiedAccuracy);
        }
        return curve;
    }

    /// <summary>The checked curve (<see cref="Curve"/>) as a chart with the 80% threshold.</summary>
    public static GenericChart Chart(UnitCertificate c, LinearClassifier model, Tensor images, Tensor labels)
    {
        var curve = Curve(c, model, images, labels);
        var x = curve.Select(p => p.Radius).ToList();
        return Charts.Lines($"Certificates of C in {c.Units.Label()} units", $"radius ε ({c.Units.Label()} units)", "share of test points", new[]
        {
            new Series("Spec 2 (prediction certified)", x, curve.Select(p => p.Spec2Fraction).ToList()),
            new Series("certified accuracy", x, curve.Select(p => p.CertifiedAccuracy).ToList()),
            new Series("80% (Spec 2 threshold)", new[] { x[0], x[^1] }, new[] { 0.8, 0.8 }),
        });
    }
}
