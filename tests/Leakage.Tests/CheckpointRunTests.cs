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
        {
            Assert.True(run.StandardModel().Cached); // same file, same data: the recorded accuracies
            // The checkpoint is named by file and content, the absolute data folder by its name: no machine path at all.
            Assert.Empty(ResultsRecordTests.MachinePaths(run.Results.Read()));
            Assert.Equal(Path.GetFileName(data), ResultsFile.Load(run.Results.Path).Data!.Source);
        }
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

    [Fact]
    public void No_file_or_folder_the_user_gave_is_recorded_by_its_machine_path()
    {
        using var dir = new TempDir();
        // The data folder named relatively, as a user in the repository does: data.source records it as named (CifarLoader.AsNamed).
        var data = Path.GetRelativePath(Environment.CurrentDirectory, Data(dir));
        var standard = dir["model.pt"];
        File.Copy(Path.Combine(Fixtures, "madry_resnet18.pt"), standard);
        var robust = Path.Combine(Fixtures, "madry_resnet50.pt");
        var released = Path.Combine(AppContext.BaseDirectory, "Fixtures", "released", "zip");
        var settings = Settings(standard, "beyond.nonlinear=true", $"beyond.nonlinearCheckpoint={robust}", $"beyond.releasedData={released}",
            "probe.bootstrap=20", "probe.nullDraws=2", "probe.trainingResamples=0", "probe.maxIterations=50");
        Assert.True(Path.IsPathRooted(standard) && Path.IsPathRooted(robust) && Path.IsPathRooted(released));
        using (var run = ExperimentRun.Open(settings, data, dir["run"]))
        {
            run.StandardModel();
            run.NonlinearFeatures();
            Assert.NotEmpty(run.ReleasedLeakage());
            var raw = run.Results.Read();
            Assert.Empty(ResultsRecordTests.MachinePaths(raw));
            var text = raw.ToJsonString();
            foreach (var given in new[] { standard, robust, released, dir["run"], AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar) })
                Assert.DoesNotContain(given, text);
            // Named by file name and content: a moved file is the same input, a changed one another.
            var recorded = ResultsFile.Load(run.Results.Path);
            Assert.Equal($"model.pt sha256:{Artifacts.Sha256(standard)}", recorded.Settings!.Standard.Checkpoint);
            Assert.Equal($"madry_resnet50.pt sha256:{Artifacts.Sha256(robust)}", recorded.Settings.Beyond.NonlinearCheckpoint);
            Assert.Matches("^zip sha256:[0-9a-f]{64}$", recorded.Settings.Beyond.ReleasedData);
            Assert.Equal("model.pt", recorded.StandardModel!.Checkpoint!.Path);
            Assert.Equal("madry_resnet50.pt", recorded.Beyond!.Nonlinear!.Checkpoint!.Path);
            Assert.NotNull(recorded.Beyond.Released);
        }
        // The same settings again: recorded alike, so nothing starts over and nothing is removed.
        var log = new List<string>();
        using (var run = ExperimentRun.Open(settings, data, dir["run"], new RunObserver(log.Add, _ => { })))
        {
            Assert.DoesNotContain(log, l => l.Contains("starts over") || l.Contains("removed from results.json"));
            Assert.NotNull(run.Results.Record().Beyond?.Released);
        }
        // Another robust checkpoint: its results go, the recorded setting names the new file, the other extensions' results stay.
        var otherRobust = Path.Combine(Fixtures, "madry_resnet18.pt");
        var withOther = Settings(standard, "beyond.nonlinear=true", $"beyond.nonlinearCheckpoint={otherRobust}", $"beyond.releasedData={released}",
            "probe.bootstrap=20", "probe.nullDraws=2", "probe.trainingResamples=0", "probe.maxIterations=50");
        using (var run = ExperimentRun.Open(withOther, data, dir["run"]))
        {
            var recorded = run.Results.Record();
            Assert.Equal($"madry_resnet18.pt sha256:{Artifacts.Sha256(otherRobust)}", recorded.Settings!.Beyond.NonlinearCheckpoint);
            Assert.Null(recorded.Beyond!.Nonlinear);
            Assert.NotNull(recorded.Beyond.Released);
            Assert.NotNull(recorded.StandardModel);
        }
        // A checkpoint inside the run folder is recorded by its path relative to the run folder.
        var inside = Path.Combine(dir["run"], "imports", "model.pt");
        Directory.CreateDirectory(Path.GetDirectoryName(inside)!);
        File.Copy(standard, inside);
        using (var run = ExperimentRun.Open(Settings(inside), data, dir["run"]))
        {
            run.StandardModel();
            var recorded = run.Results.Record();
            Assert.Equal("imports/model.pt", recorded.Settings!.Standard.Checkpoint);
            Assert.Equal("imports/model.pt", recorded.StandardModel!.Checkpoint!.Path);
            Assert.Empty(ResultsRecordTests.MachinePaths(run.Results.Read()));
        }
    }

    [Fact]
    public void A_recorded_path_is_relative_inside_the_run_folder_and_a_name_with_its_fingerprint_outside()
    {
        var run = Path.Combine(Path.GetTempPath(), "runs", "quick");
        Assert.Equal("imports/model.pt", RecordedPaths.Of(Path.Combine(run, "imports", "model.pt"), run, () => throw new InvalidOperationException("not asked for inside")));
        Assert.Equal("model.pt sha256:abc", RecordedPaths.Of(Path.Combine(Path.GetTempPath(), "runs", "model.pt"), run, () => "abc"));
        Assert.Equal("quick-other sha256:abc", RecordedPaths.Of(run + "-other", run, () => "abc")); // a sibling sharing the prefix is outside
        Assert.Equal("gone.pt (not found)", RecordedPaths.Of(Path.Combine(Path.GetTempPath(), "gone.pt"), run, () => null));
        Assert.Equal("release", RecordedPaths.Name(Path.Combine(Path.GetTempPath(), "release") + Path.DirectorySeparatorChar, run));
        var settings = Profiles.Get("quick");
        Assert.Same(settings.Standard, RecordedPaths.Settings(settings, run).Standard); // nothing to rename: the settings as they are
        Assert.Equal(Artifacts.ToNode(settings).ToJsonString(), Artifacts.ToNode(RecordedPaths.Settings(settings, run)).ToJsonString());
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
