using System.Text.Json.Nodes;
using Leakage.Adversarial;
using Leakage.Experiment;
using Leakage.IO;
using Leakage.Models;
using Leakage.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Tests;

/// <summary>
/// <c>--set standard.checkpoint=PATH</c> in a run: the checkpoint replaces the trained standard model,
/// its identity (SHA-256, layout) goes into <c>standard/metadata.json</c> and results.json, a changed
/// file is measured and attacked again, and a bad file is refused before the run folder exists.
/// </summary>
public class CheckpointRunTests
{
    static readonly string Fixtures = Path.Combine(AppContext.BaseDirectory, "Fixtures", "checkpoints");

    static ExperimentSettings Settings(string checkpoint, params string[] more) => SettingsOverrides.Apply(Profiles.Get("quick"),
        ["device=cpu", "seed=1", $"standard.checkpoint={checkpoint}", "attack.steps=2", "attack.chunkSize=20", "attack.batchSize=20", .. more]);

    static string Data(TempDir dir)
    {
        SyntheticCifar.WriteImageFolder(dir["data"], perClass: 4);
        return dir["data"];
    }

    [Fact]
    public void A_checkpoint_replaces_the_standard_model_and_a_changed_file_is_measured_and_attacked_again()
    {
        using var dir = new TempDir();
        var data = Data(dir);
        var checkpoint = dir["model.pt"];
        File.Copy(Path.Combine(Fixtures, "madry_resnet18.pt"), checkpoint);
        var settings = Settings(checkpoint);
        string firstSha, firstSourceModel;
        using (var run = ExperimentRun.Open(settings, data, dir["run"]))
        {
            var standard = run.StandardModel();
            Assert.False(standard.Cached);
            Assert.Equal("resnet18", standard.Checkpoint!.Arch);
            Assert.IsType<CifarResNet>(standard.Model);
            var record = run.Results.Read()["standardModel"]!;
            Assert.Equal("resnet18", (string?)record["arch"]);
            Assert.Equal(8, (int?)record["width"]);
            firstSha = (string)record["checkpoint"]!["sha256"]!;
            Assert.Equal(Artifacts.Sha256(checkpoint), firstSha);
            Assert.Equal("robustness", (string?)record["checkpoint"]!["layout"]);
            var meta = JsonFile.ReadObject(Path.Combine(dir["run"], "standard", Artifacts.MetadataFile));
            Assert.Equal(firstSha, (string?)meta["settings"]!["checkpoint"]!["sha256"]);
            Assert.Equal("robustness", (string?)meta["settings"]!["checkpoint"]!["layout"]);
            var set = run.AdversarialSet(AdversarialKind.Deterministic);
            firstSourceModel = (string)set.Settings["sourceModel"]!;
            Assert.Equal(Fingerprint.Of(standard.Model), firstSourceModel);
        }
        using (var run = ExperimentRun.Open(settings, data, dir["run"]))
            Assert.True(run.StandardModel().Cached); // same file, same data: the recorded accuracies
        var export = Assert.Throws<InvalidDataException>(() => Leakage.Export.PyTorchExport.LoadStandardModel(dir["run"]));
        Assert.Contains("checkpoint", export.Message);       // nothing to export: the user has the file

        File.Copy(Path.Combine(Fixtures, "tv_resnet18.pt"), checkpoint, overwrite: true); // same path, other content
        var log = new List<string>();
        using (var run = ExperimentRun.Open(settings, data, dir["run"], new RunObserver(log.Add, _ => { })))
        {
            Assert.Contains(log, m => m.Contains("another file") && m.Contains("starts over"));
            Assert.Null(run.Results.Read()["adversarial"]); // the first checkpoint's attack results are gone
            var standard = run.StandardModel();
            Assert.False(standard.Cached);
            var record = run.Results.Read()["standardModel"]!["checkpoint"]!;
            Assert.NotEqual(firstSha, (string?)record["sha256"]);
            Assert.Equal("state-dict", (string?)record["layout"]);
            var set = run.AdversarialSet(AdversarialKind.Deterministic);
            Assert.NotEqual(firstSourceModel, (string?)set.Settings["sourceModel"]);
        }
    }

    [Fact]
    public void A_robust_checkpoint_replaces_the_robust_cnn_of_the_nonlinear_extension()
    {
        using var dir = new TempDir();
        var data = Data(dir);
        var robust = Path.Combine(Fixtures, "madry_resnet50.pt");
        var settings = Settings(Path.Combine(Fixtures, "madry_resnet18.pt"), "beyond.nonlinear=true", $"beyond.nonlinearCheckpoint={robust}",
            "probe.bootstrap=20", "probe.nullDraws=2", "probe.trainingResamples=0", "probe.maxIterations=50");
        using var run = ExperimentRun.Open(settings, data, dir["run"]);
        var outcome = run.NonlinearFeatures();
        Assert.IsType<CifarResNet>(outcome.Model);
        Assert.Equal(128, ((IFeatureModel)outcome.Model).FeatureCount); // ResNet-50 at width 4: 8 x 4 x 4 features
        var record = run.Results.Read()["beyond"]!["nonlinear"]!;
        Assert.Equal("resnet50", (string?)record["arch"]);
        Assert.Equal(0, (int?)record["epochs"]);
        Assert.Equal(Artifacts.Sha256(robust), (string?)record["checkpoint"]!["sha256"]);
        Assert.Equal([0.5f, 0.45f, 0.4f], outcome.Model is CifarResNet ? record["checkpoint"]!["mean"]!.AsArray().Select(v => (float)v!).ToArray() : []);
        Assert.False(Directory.Exists(Path.Combine(dir["run"], "robust_cnn"))); // nothing trained
        Assert.StartsWith("D_rand, robust CNN penultimate features", outcome.Probe(FeatureView.RobustPenultimate, ProbeSet.DRand).Name, StringComparison.Ordinal);
        // Every probe is addressed by its kind, in the outcome and in results.json alike.
        Assert.Equal(NonlinearProbeKind.All, outcome.Probes.Select(p => p.Kind));
        var recorded = ResultsFile.Load(run.Results.Path).Beyond!.Nonlinear!;
        Assert.Equal(NonlinearProbeKind.All, recorded.Probes.Select(p => p.Kind));
        foreach (var p in outcome.Probes) Assert.Equal(p.Entry.Accuracy, recorded.Probe(p.Kind.View, p.Kind.Set)!.Accuracy);
    }

    [Theory]
    [InlineData("runs_code.pt")]
    [InlineData("wrong_shape.pt")]
    [InlineData("storage_past_end.pt")]
    public void A_bad_checkpoint_is_refused_before_anything_is_written_to_the_run_folder(string file)
    {
        using var dir = new TempDir();
        var data = Data(dir);
        var path = Path.Combine(Fixtures, "bad", file);
        var e = Assert.Throws<InvalidDataException>(() => ExperimentRun.Open(Settings(path), data, dir["run"]));
        Assert.StartsWith(path + ":", e.Message);
        Assert.False(Directory.Exists(dir["run"]));
    }

    [Fact]
    public void Checkpoint_settings_are_validated_by_name()
    {
        var arch = Assert.Throws<ArgumentException>(() => Settings("x.pt", "standard.checkpointArch=vgg16"));
        Assert.Contains("standard.checkpointArch", arch.Message);
        Assert.Contains("resnet50", arch.Message);
        var mean = Assert.Throws<ArgumentException>(() => Settings("x.pt", "standard.checkpointMean=[0.5,0.5]"));
        Assert.Contains("standard.checkpointMean", mean.Message);
        var std = Assert.Throws<ArgumentException>(() => Settings("x.pt", "standard.checkpointStd=[0.2,0,0.2]"));
        Assert.Contains("standard.checkpointStd", std.Message);
        var ok = Settings("x.pt", "standard.checkpointArch=ResNet50", "standard.checkpointMean=[0.5,0.5,0.5]");
        Assert.Equal("resnet50", ok.Standard.CheckpointArch);
        Assert.Equal([0.5, 0.5, 0.5], ok.Standard.CheckpointMean);
    }
}
