using System.Text.Json.Nodes;
using Leakage.Adversarial;
using Leakage.Data;
using Leakage.Experiment;
using Leakage.IO;
using Leakage.Models;
using Leakage.Tests.Support;
using Leakage.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Tests;

/// <summary>
/// The leakage controls (issue 27): D_other's targets, the leakage-only sets, the successful-only
/// views, the controls' settings and their typed results.
/// </summary>
public sealed class ControlsTests(ToyModelFixture toy) : IClassFixture<ToyModelFixture>
{
    static readonly AdversarialOptions Quick = new() { Steps = 3, ChunkSize = 16, BatchSize = 8, Seed = 5 };

    static Tensor Labels(int n, long seed)
    {
        using var g = new Generator((ulong)seed, CPU);
        return randint(0, 10, [n], generator: g);
    }

    static double Fraction(Tensor mask) => mask.to_type(ScalarType.Float64).mean().item<double>();

    // ---- D_other

    [Fact]
    public void D_other_targets_are_never_the_label_and_uniform_over_the_nine_other_classes()
    {
        using var scope = NewDisposeScope();
        const int n = 45_000;
        var y = Labels(n, seed: 4);
        var t = AdversarialSet.Of(AdversarialKind.Other).DrawTargets(y, Quick, chunk: 0);
        Assert.False(t.eq(y).any().item<bool>());
        // Binomial(45000, 1/9): standard deviation 0.0015, so +-0.007 is more than 4 sigma.
        var offset = (t - y + 10).remainder(10);
        for (int d = 1; d < 10; d++) Assert.InRange(Fraction(offset.eq(d)), 1 / 9.0 - 0.007, 1 / 9.0 + 0.007);
        // Within each class as well: every other class is a target about equally often.
        var y0 = y.eq(0);
        var t0 = t.masked_select(y0);
        for (int k = 1; k < 10; k++) Assert.InRange(Fraction(t0.eq(k)), 1 / 9.0 - 0.025, 1 / 9.0 + 0.025);
        // Its own stream: not D_rand's draw with the source excluded, though the rule is the same.
        var drand = AdversarialSet.Of(AdversarialKind.Random).DrawTargets(y, Quick with { RandomTargetExcludesSource = true }, chunk: 0);
        Assert.InRange(Fraction(t.eq(drand)), 1 / 9.0 - 0.01, 1 / 9.0 + 0.01);
        Assert.Equal("D_other", AdversarialSet.Of(AdversarialKind.Other).Name);
        Assert.Equal("d_other", AdversarialSet.Of(AdversarialKind.Other).Folder);
        Assert.Equal("dother", AdversarialSet.Of(AdversarialKind.Other).ResultsKey);
    }

    [Fact]
    public void Every_data_set_descriptor_names_its_own_members_of_the_results_record_and_its_own_attack_step()
    {
        Assert.Equal(Enum.GetValues<AdversarialKind>().Order(), AdversarialSet.All.Select(s => s.Kind).Order());
        foreach (var set in AdversarialSet.All)
        {
            Assert.Same(set, AdversarialSet.Of(set.Kind));
            // The JSON name of the AdversarialSection member of the same name: the one results.json writes under adversarial.*.
            var member = Assert.Single(typeof(AdversarialSection).GetProperties(), p => p.Name.Equals(set.ResultsKey, StringComparison.OrdinalIgnoreCase));
            Assert.Equal(RunResultsRecord.PathOf(member.Name), set.ResultsKey);
            var step = StepCatalog.Find(set.StepKey);
            Assert.NotNull(step);
            Assert.Equal($"adversarial.{set.ResultsKey}", step.ResultsKey);
        }
        Assert.Equal(AdversarialSet.All.Count, AdversarialSet.All.Select(s => s.Folder).Distinct().Count());
        Assert.Equal(AdversarialSet.All.Count, AdversarialSet.All.Select(s => s.ExportFolder).Distinct().Count());
    }

    [Fact]
    public void D_other_is_built_by_the_attack_with_its_own_identity()
    {
        using var dir = new TempDir();
        var x = toy.Images.narrow(0, 0, 32);
        var y = toy.Labels.narrow(0, 0, 32);
        using var set = AdversarialDatasets.Build(AdversarialKind.Other, toy.Model, x, y, Quick, dir["d_other"], CPU);
        Assert.Equal(AdversarialKind.Other, set.Kind);
        Assert.False(set.Targets.eq(y).any().item<bool>());
        Assert.Equal(0, set.TargetEqualsLabelRate);
        Assert.Equal("other", (string?)set.Settings["kind"]);
        Assert.True((set.Images - x).flatten(1).norm(1).max().item<float>() <= Quick.Eps + 1e-5);
        var predicted = Evaluation.Predict(toy.Model, set.Images, CPU);
        Assert.True(set.Success.eq(predicted.eq(set.Targets)).all().item<bool>());
        using var loaded = AdversarialDataset.Load(dir["d_other"]);
        Assert.Equal(AdversarialKind.Other, loaded.Kind);
        // The same folder asked for as D_rand is another data set: regenerated, not reused.
        var log = new List<string>();
        using var asRand = AdversarialDatasets.Build(AdversarialKind.Random, toy.Model, x, y, Quick, dir["d_other"], CPU, log: log.Add);
        Assert.Contains(log, m => m.StartsWith("Regenerating") && m.Contains("kind"));
    }

    // ---- leakage-only sets

    /// <summary>The construction's patterns for seed 3 at eps 0.5, after checking their shape, type and norms and that the seed fixes them.</summary>
    static Tensor TenPatternsOfNormEpsFixedByTheSeed(LeakageOnlyConstruction construction)
    {
        var p = LeakageOnlyDatasets.Patterns(construction, 0.5, seed: 3);
        Assert.Equal(new long[] { 10, 3, 32, 32 }, p.shape);
        Assert.Equal(ScalarType.Float32, p.dtype);
        foreach (var norm in p.flatten(1).norm(1).data<float>().ToArray()) Assert.Equal(0.5, norm, 5);
        Assert.True(p.eq(LeakageOnlyDatasets.Patterns(construction, 0.5, seed: 3)).all().item<bool>());
        Assert.False(p.eq(LeakageOnlyDatasets.Patterns(construction, 0.5, seed: 4)).all().item<bool>());
        return p;
    }

    [Fact]
    public void Each_class_has_one_pattern_of_norm_eps_fixed_by_the_seed()
    {
        using var scope = NewDisposeScope();
        var p = TenPatternsOfNormEpsFixedByTheSeed(LeakageOnlyConstruction.Gaussian);
        // Ten different directions, nearly orthogonal in 3,072 dimensions.
        var unit = p.flatten(1) / 0.5;
        var cos = unit.matmul(unit.t()) - eye(10);
        Assert.True(cos.abs().max().item<float>() < 0.15);
    }

    [Fact]
    public void A_leakage_only_image_is_the_clean_image_plus_its_targets_pattern_clamped_to_the_pixel_range()
    {
        using var scope = NewDisposeScope();
        const double eps = 0.5;
        using var g = new Generator(11, CPU);
        // Mid-grey images, which no pattern pushes out of [0, 1], and saturated ones, which the clamp cuts.
        var mid = 0.3f + 0.4f * rand([40, 3, 32, 32], generator: g);
        var saturated = (rand([40, 3, 32, 32], generator: g) > 0.5f).to_type(ScalarType.Float32);
        var x = cat([mid, saturated], 0);
        var y = Labels(80, seed: 5);
        var t = AdversarialSet.Of(AdversarialKind.Random).DrawTargets(y, Quick, chunk: 0);
        var p = LeakageOnlyDatasets.Patterns(LeakageOnlyConstruction.Gaussian, eps, seed: 2);
        var images = LeakageOnlyDatasets.Apply(x, t, p, batchSize: 7);

        Assert.True(images.eq((x + p.index_select(0, t)).clamp(0, 1)).all().item<bool>());
        Assert.True(images.min().item<float>() >= 0 && images.max().item<float>() <= 1);
        var delta = images - x;
        var norms = delta.flatten(1).norm(1);
        Assert.True(norms.max().item<float>() <= eps + 1e-5);
        // Unclamped, an image moves by exactly its target's pattern; every image of a class by the same one.
        var midDelta = delta.narrow(0, 0, 40);
        var midTargets = t.narrow(0, 0, 40);
        Assert.True((midDelta - p.index_select(0, midTargets)).abs().max().item<float>() < 1e-6);
        for (int k = 0; k < 10; k++)
        {
            var rows = midTargets.eq(k).nonzero().squeeze(1);
            if (rows.shape[0] < 2) continue;
            var same = midDelta.index_select(0, rows);
            Assert.True((same - same[0]).abs().max().item<float>() < 1e-6, $"images with target {k} moved by different patterns");
        }
        // Saturated pixels lose the part of the pattern that points out of the range.
        Assert.True(norms.narrow(0, 40, 40).max().item<float>() < eps - 0.05);
    }

    [Fact]
    public void A_leakage_only_set_records_what_made_it_and_the_D_det_rule_targets_the_next_class()
    {
        using var dir = new TempDir();
        var x = toy.Images.narrow(0, 0, 50);
        var y = toy.Labels.narrow(0, 0, 50);
        using var next = AdversarialSet.Of(AdversarialKind.Deterministic).DrawTargets(y, Quick, chunk: 0);
        var options = new LeakageOnlyOptions { Construction = LeakageOnlyConstruction.Gaussian, Eps = 0.5, Seed = 9 };
        var log = new List<string>();
        using (var set = LeakageOnlyDatasets.Build(AdversarialKind.Deterministic, toy.Model, x, y, next, options, dir["det"], CPU, log.Add))
        {
            Assert.Equal(AdversarialKind.Deterministic, set.Rule);
            Assert.True(set.Targets.eq((y + 1).remainder(10)).all().item<bool>());
            Assert.True(set.Labels.eq(y).all().item<bool>());
            using var p = LeakageOnlyDatasets.Patterns(LeakageOnlyConstruction.Gaussian, 0.5, seed: 9);
            Assert.True(set.Patterns.eq(p).all().item<bool>());
            Assert.True(set.Images.eq(LeakageOnlyDatasets.Apply(x, next, p)).all().item<bool>());
            // Success is the attacks' measure: the source model classifies the image as its target.
            var predicted = Evaluation.Predict(toy.Model, set.Images, CPU);
            Assert.True(set.Success.eq(predicted.eq(set.Targets)).all().item<bool>());
            var meta = JsonFile.ReadObject(Path.Combine(dir["det"], Artifacts.MetadataFile))["settings"]!;
            Assert.Equal("deterministic", (string?)meta["rule"]);
            Assert.Equal(0.5, (double)meta["eps"]!);
            Assert.Equal(9, (long)meta["seed"]!);
            Assert.Equal("gaussian", (string?)meta["pattern"]);
            Assert.Null(meta["keepClassified"]);
            Assert.Equal(0, set.KeptClean);
            Assert.Equal(Fingerprint.Of(toy.Model), (string?)meta["sourceModel"]);
        }
        using (LeakageOnlyDatasets.Build(AdversarialKind.Deterministic, toy.Model, x, y, next, options, dir["det"], CPU, log.Add)) { }
        Assert.Contains(log, m => m.StartsWith("Reusing"));
        using (LeakageOnlyDatasets.Build(AdversarialKind.Deterministic, toy.Model, x, y, next, options with { Seed = 10 }, dir["det"], CPU, log.Add)) { }
        Assert.Contains(log, m => m.StartsWith("Rebuilding") && m.Contains("seed"));

        // Targets that break the rule are refused, naming it.
        using var same = y.clone();
        var e = Assert.Throws<ArgumentException>(() => LeakageOnlyDatasets.Build(AdversarialKind.Deterministic, toy.Model, x, y, same, options, dir["bad"], CPU));
        Assert.Contains("(label + 1) mod 10", e.Message);
        var o = Assert.Throws<ArgumentException>(() => LeakageOnlyDatasets.Build(AdversarialKind.Other, toy.Model, x, y, same, options, dir["bad"], CPU));
        Assert.Contains("differ from its label", o.Message);
        Assert.False(Directory.Exists(dir["bad"]));
    }

    [Fact]
    public void Kellers_patterns_are_textures_of_period_two_of_norm_eps_fixed_by_the_seed()
    {
        using var scope = NewDisposeScope();
        var p = TenPatternsOfNormEpsFixedByTheSeed(LeakageOnlyConstruction.Keller);
        // A stride-2 transposed convolution of a constant image: every row and column but the last repeats
        // two further on (the last sees one kernel row fewer), so each channel is a 2 x 2 tile plus an edge.
        var inner = p.narrow(2, 0, 31).narrow(3, 0, 31);
        Assert.True((inner.narrow(2, 0, 29) - inner.narrow(2, 2, 29)).abs().max().item<float>() < 1e-6);
        Assert.True((inner.narrow(3, 0, 29) - inner.narrow(3, 2, 29)).abs().max().item<float>() < 1e-6);
        Assert.True((p.narrow(2, 31, 1) - p.narrow(2, 29, 1)).abs().max().item<float>() > 1e-4);
        // Ten different patterns: no two classes share one.
        var unit = p.flatten(1) / 0.5;
        var cos = unit.matmul(unit.t()) - eye(10);
        Assert.True(cos.abs().max().item<float>() < 0.99);
    }

    [Fact]
    public void Kellers_construction_leaves_clean_exactly_the_images_the_model_already_classifies_as_their_target()
    {
        using var dir = new TempDir();
        using var scope = NewDisposeScope();
        var x = toy.Images.narrow(0, 60, 60);
        var y = toy.Labels.narrow(0, 60, 60);
        var t = AdversarialSet.Of(AdversarialKind.Random).DrawTargets(y, Quick, chunk: 0);
        var options = new LeakageOnlyOptions { Eps = 0.5, Seed = 9 };
        Assert.Equal(LeakageOnlyConstruction.Keller, options.Construction);
        var classified = Evaluation.Predict(toy.Model, x, CPU).eq(t);
        long expectedClean = classified.sum().item<long>();
        Assert.InRange(expectedClean, 1, 59); // both kinds of image are present
        using (var set = LeakageOnlyDatasets.Build(AdversarialKind.Random, toy.Model, x, y, t, options, dir["rand"], CPU))
        {
            var patterned = LeakageOnlyDatasets.Apply(x, t, LeakageOnlyDatasets.Patterns(LeakageOnlyConstruction.Keller, 0.5, seed: 9));
            var expected = where(classified.view(-1, 1, 1, 1), x, patterned);
            Assert.True(set.Images.eq(expected).all().item<bool>());
            Assert.Equal(expectedClean, set.KeptClean);
            // A kept image is classified as its target by construction; success is still measured on the set's images.
            var predicted = Evaluation.Predict(toy.Model, set.Images, CPU);
            Assert.True(set.Success.eq(predicted.eq(t)).all().item<bool>());
            Assert.True(set.Success.masked_select(classified).all().item<bool>());
            var meta = JsonFile.ReadObject(Path.Combine(dir["rand"], Artifacts.MetadataFile))["settings"]!;
            Assert.Equal("tiled", (string?)meta["pattern"]);
            Assert.True((bool)meta["keepClassified"]!);
        }
        using (var again = LeakageOnlyDataset.Load(dir["rand"])) Assert.Equal(expectedClean, again.KeptClean);
        // The Gaussian construction is another set in the same folder: rebuilt, nothing kept clean.
        var log = new List<string>();
        using var gaussian = LeakageOnlyDatasets.Build(AdversarialKind.Random, toy.Model, x, y, t,
            options with { Construction = LeakageOnlyConstruction.Gaussian }, dir["rand"], CPU, log.Add);
        Assert.Contains(log, m => m.StartsWith("Rebuilding") && (m.Contains("pattern") || m.Contains("keepClassified")));
        Assert.Equal(0, gaussian.KeptClean);
    }

    [Fact]
    public void Every_profile_builds_Kellers_leakage_only_sets_and_a_results_file_without_the_setting_reads_as_gaussian()
    {
        foreach (var name in Profiles.Names) Assert.Equal(LeakageOnlyConstruction.Keller, Profiles.Get(name).Controls.LeakageOnlyConstruction);
        Assert.Equal(LeakageOnlyConstruction.Gaussian, new ControlsSettings().LeakageOnlyConstruction);
        var recorded = System.Text.Json.JsonSerializer.Deserialize<ControlsSettings>("{\"enabled\": true, \"trainCount\": 10000}", Artifacts.Json)!;
        Assert.Equal("gaussian", recorded.LeakageOnly);
        var gaussian = SettingsOverrides.Apply(Profiles.Get("cpu"), ["controls.leakageOnly=Gaussian"]);
        Assert.Equal("gaussian", gaussian.Controls.LeakageOnly);
    }

    [SkippableFact]
    public void On_real_CIFAR_images_the_clamp_keeps_every_perturbation_within_eps()
    {
        var shared = Repo.SharedCifarJpg();
        Skip.If(shared is null, "../shared/data/cifar10-jpg is not present on this machine");
        using var data = CifarLoader.Load(shared!);
        using var part = data.Train.Subset(2_000, seed: 1);
        using var scope = NewDisposeScope();
        var t = AdversarialSet.Of(AdversarialKind.Deterministic).DrawTargets(part.Labels, Quick, chunk: 0);
        var p = LeakageOnlyDatasets.Patterns(LeakageOnlyConstruction.Gaussian, 0.5, seed: 0);
        var images = LeakageOnlyDatasets.Apply(part.Images, t, p);
        var norms = (images - part.Images).flatten(1).norm(1);
        Assert.True(norms.max().item<float>() <= 0.5 + 1e-5);
        Assert.True(images.min().item<float>() >= 0 && images.max().item<float>() <= 1);
        // Photographs have saturated pixels: some images lose part of their pattern to the clamp.
        Assert.True(norms.lt(0.5 - 1e-3).any().item<bool>());
    }

    // ---- successful attacks only

    [Fact]
    public void The_successful_only_view_holds_exactly_the_successful_attacks_in_order()
    {
        using var dir = new TempDir();
        var x = toy.Images.narrow(0, 0, 48);
        var y = toy.Labels.narrow(0, 0, 48);
        using var set = AdversarialDatasets.Build(AdversarialKind.Deterministic, toy.Model, x, y, Quick with { Eps = 3.0, StepSize = 1.0, Steps = 4 }, dir["det"], CPU);
        using var scope = NewDisposeScope();
        long successes = set.Success.sum().item<long>();
        Assert.InRange(successes, 1, set.Count - 1); // a view that leaves something out
        var rows = set.SuccessfulRows();
        Assert.Equal(successes, rows.shape[0]);
        Assert.True(set.Success.index_select(0, rows).all().item<bool>());
        var r = rows.data<long>().ToArray();
        Assert.Equal(r.OrderBy(v => v), r);
        // Restricted to some rows (a subset of the training images): the successes among them only.
        var within = tensor(new long[] { 0, 5, 9, 17, 30, 47 }, dtype: ScalarType.Int64);
        var some = set.SuccessfulRows(within).data<long>().ToArray();
        var expected = within.data<long>().ToArray().Where(i => set.Success[i].item<bool>()).ToArray();
        Assert.Equal(expected, some);
    }

    // ---- settings

    [Theory]
    [InlineData("controls.trainCount=-1", "Setting 'controls.trainCount' = -1 must be zero or positive")]
    [InlineData("controls.trainCount=50", "Setting 'controls.trainCount' = 50 must be 0 (all training images) or at least 100")]
    [InlineData("controls.trainCount=1.5", "controls.trainCount")]
    [InlineData("controls.enabled=maybe", "Setting 'controls.enabled' = 'maybe' is not true or false")]
    [InlineData("controls.enable=true", "controls.enabled, controls.trainCount, controls.leakageOnly")]
    [InlineData("controls.leakageOnly=uniform", "Setting 'controls.leakageOnly' = 'uniform' is not valid. Valid choices: keller, gaussian")]
    public void A_bad_controls_setting_is_refused_naming_it(string setting, string expected)
    {
        var e = Assert.Throws<ArgumentException>(() => SettingsOverrides.Apply(Profiles.Get("quick"), [setting]));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void The_controls_are_off_by_default_and_their_steps_run_only_when_switched_on()
    {
        foreach (var name in Profiles.Names) Assert.False(Profiles.Get(name).Controls.Enabled);
        var on = SettingsOverrides.Apply(Profiles.Get("quick"), ["controls.enabled=true", "controls.trainCount=500"]);
        Assert.Equal(500, on.Controls.TrainCount);
        Assert.Equal(["standardModel", "dRand", "dDet", "transferRand", "transferDet", "robustModel", "leakage", "dOther", "controls"], StepCatalog.For(on).Select(s => s.Key));
        Assert.DoesNotContain(StepCatalog.Controls, StepCatalog.For(Profiles.Get("quick")));
        Assert.DoesNotContain(StepCatalog.Controls, StepCatalog.Extensions);
        Assert.Equal("adversarial.dother", StepCatalog.DOther.ResultsKey);
        Assert.Equal(ControlsStep.ResultsKey, StepCatalog.Controls.ResultsKey);
    }

    [Fact]
    public void Switching_the_controls_on_keeps_the_main_results_and_resizing_them_drops_only_theirs()
    {
        using var dir = new TempDir();
        var main = Profiles.Get("quick") with { Device = "cpu" };
        var on = SettingsOverrides.Apply(main, ["controls.enabled=true", "controls.trainCount=200"]);
        List<string> Open(ExperimentSettings settings, Action<ResultsFile>? write = null)
        {
            var log = new List<string>();
            using var run = ExperimentRun.Open(settings, dir["no-data-needed"], dir.Path, new RunObserver(log.Add));
            write?.Invoke(run.Results);
            return log;
        }
        Open(main, r => r.Set("standardModel", new JsonObject { ["testAccuracy"] = 0.5 }));
        var log = Open(on, r =>
        {
            r.Set(ControlsStep.ResultsKey, new JsonObject { ["trainImages"] = 200 });
            r.Set("adversarial.dother", new JsonObject { ["images"] = 200 });
            r.Set("seconds.controls", 3.0);
        });
        Assert.DoesNotContain(log, l => l.Contains("starts over"));
        var results = new ResultsFile(dir.Path).Read();
        Assert.Equal(0.5, (double)results["standardModel"]!["testAccuracy"]!);
        Assert.Equal(200, (int)results["settings"]!["controls"]!["trainCount"]!);

        // Off again: the controls' results stay with the settings that made them.
        Open(main);
        results = new ResultsFile(dir.Path).Read();
        Assert.NotNull(results[ControlsStep.ResultsKey]);
        Assert.True((bool)results["settings"]!["controls"]!["enabled"]!);

        // On with another size: their results no longer match and are removed; the main ones stay.
        log = Open(on with { Controls = on.Controls with { TrainCount = 300 } });
        results = new ResultsFile(dir.Path).Read();
        Assert.Null(results[ControlsStep.ResultsKey]);
        Assert.Null(results["adversarial"]!["dother"]);
        Assert.Null(results["seconds"]!["controls"]);
        Assert.Equal(0.5, (double)results["standardModel"]!["testAccuracy"]!);
        Assert.Contains(log, l => l.Contains("controls: made with other settings") && l.Contains("\"trainCount\":300"));
    }

    [Fact]
    public void The_controls_images_are_a_class_stratified_subset_whose_rows_select_them_from_the_split()
    {
        using var split = CifarSplit.FromBytes("train", new byte[300 * Cifar10.ImageSize].Select((_, i) => (byte)(i * 7)).ToArray(),
            [.. Enumerable.Range(0, 300).Select(i => (long)(i % 10))]);
        using var subset = ControlImages.Of(split, 120, seed: 2);
        Assert.False(subset.All);
        Assert.Equal(120, subset.Count);
        Assert.All(subset.Split.ClassCounts(), c => Assert.Equal(12, c));
        Assert.True(subset.Split.Images.eq(split.Images.index_select(0, subset.Rows)).all().item<bool>());
        using var again = split.Subset(120, seed: 2);
        Assert.True(again.Images.eq(subset.Split.Images).all().item<bool>());
        using var all = ControlImages.Of(split, 0, seed: 2);
        Assert.True(all.All);
        Assert.Same(split, all.Split);
    }

    // ---- typed results

    static ComparisonResult Comparison(string name, double probe, double @null, double lo, double hi, string verdict) =>
        new(name, probe, $"clean images, {name} labels", @null, probe - @null, [lo, hi], "fresh target draws (20, emulated) and test points", 0.01,
            ComparisonResult.SameVarianceTest, new Discordant(40, 20), [lo, hi], verdict == "above", true, 12, true, 10)
        { Verdict = verdict, McnemarP = 0.02, ExcessSe = (hi - lo) / 3.92, ExcessDf = 19 };

    static ControlsResult Table()
    {
        ControlRow Row(ControlKind kind, string set, string rule, bool attacked, double success, double transfer, double probe, double @null, string verdict) =>
            new(kind, set, rule, attacked, 400, success, transfer, 0.99, Comparison(set, probe, @null, probe - @null - 0.02, probe - @null + 0.02, verdict));
        return new ControlsResult(500, 600, 300, 0.5, "gaussian",
        [
            Row(ControlKind.DRand, "D_rand", "random", true, 0.7, 0.3, 0.2, 0.15, "above"),
            Row(ControlKind.DRandLeakageOnly, "leakage-only D_rand rule", "random", false, 0.05, 0.25, 0.12, 0.11, "undecided"),
            Row(ControlKind.DRandSuccessful, "D_rand, successful attacks only", "random", true, 1.0, 0.35, 0.21, 0.15, "above"),
            Row(ControlKind.DOther, "D_other", "other", true, 0.6, 0.2, 0.08, 0.05, "above"),
            Row(ControlKind.DDet, "D_det", "deterministic", true, 0.68, 0.1, 0.06, 0.06, "undecided"),
            Row(ControlKind.DDetLeakageOnly, "leakage-only D_det rule", "deterministic", false, 0.02, 0.05, 0.06, 0.07, "below"),
            Row(ControlKind.DDetSuccessful, "D_det, successful attacks only", "deterministic", true, 1.0, 0.12, 0.06, 0.06, "undecided"),
        ]) ;
    }

    [Fact]
    public void The_controls_table_reads_back_through_the_records_that_wrote_it()
    {
        var table = Table();
        var results = new JsonObject { [ControlsStep.ResultsKey] = ResultsJson.Node(table) };
        // Round trip through the file's text, as every reader sees it.
        var text = results.ToJsonString();
        var read = ResultsUpgrade.Read(JsonNode.Parse(text)!.AsObject()).Controls!;
        Assert.Equal(ResultsJson.Node(table).ToJsonString(), ResultsJson.Node(read).ToJsonString());
        Assert.Equal(Enum.GetValues<ControlKind>(), read.Rows.Select(r => r.Kind));
        Assert.Equal("dother", (string?)results[ControlsStep.ResultsKey]!["rows"]![3]!["kind"]);
        Assert.Equal(0.25, read.Row(ControlKind.DRandLeakageOnly)!.TransferAccuracy);
        Assert.Equal("below", read.Row(ControlKind.DDetLeakageOnly)!.Verdict);
        Assert.Equal("+5.0 [+3.0, +7.0]", read.Row(ControlKind.DRand)!.ExcessText);
        Assert.False(read.Row(ControlKind.DRand)!.FromMainSteps);

        Assert.Null(ResultsUpgrade.Read(new JsonObject()).Controls);
        var broken = new JsonObject { [ControlsStep.ResultsKey] = new JsonObject { ["rows"] = "none" } };
        var e = Assert.Throws<InvalidDataException>(() => ResultsUpgrade.Read(broken, "runs/x/results.json"));
        Assert.Contains("runs/x/results.json", e.Message);
        Assert.Contains("controls.rows is not an array", e.Message);
    }
}

/// <summary>The controls step in a run on tiny synthetic data, with the controls on a subset of the training images.</summary>
public sealed class ControlsRunTests
{
    [Fact]
    public void A_run_with_controls_on_a_subset_records_one_typed_table_and_reuses_every_artifact_when_run_again()
    {
        using var dir = new TempDir();
        SyntheticCifar.WriteImageFolder(dir["data"], perClass: 30);
        var settings = SettingsOverrides.Apply(Profiles.Get("quick"),
        [
            "device=cpu", "threads=1", "data.trainCount=0", "data.testCount=0",
            "standard.width=8", "standard.epochs=2", "standard.batchSize=50",
            // A radius at which most attacks succeed, so that the successful-only views have images to train on.
            "attack.eps=2", "attack.step=1", "attack.steps=3", "attack.chunkSize=100", "attack.batchSize=100",
            "transfer.epochs=1", "transfer.batchSize=50", "robust.epochs=6", "robust.batchSize=100",
            "probe.bootstrap=20", "probe.nullDraws=3", "probe.trainingResamples=3", "probe.maxIterations=40",
            "controls.enabled=true", "controls.trainCount=200",
        ]);
        ControlsResult table;
        using (var run = ExperimentRun.Open(settings, dir["data"], dir["run"]))
        {
            var results = run.RunAll();
            table = results.Controls!;
            Assert.NotNull(table);
            Assert.Equal(200, table.TrainImages);
            Assert.Equal(300, table.TrainSplit);
            Assert.Equal(300, table.TestImages);
            Assert.Equal(settings.Attack.Eps, table.PatternNorm);
            Assert.Equal(Enum.GetValues<ControlKind>(), table.Rows.Select(r => r.Kind));
            // A subset: D_rand and D_det are measured again on it, not taken from the main steps.
            Assert.All(table.Rows, r => Assert.False(r.FromMainSteps));
            foreach (var kind in new[] { ControlKind.DRand, ControlKind.DRandLeakageOnly, ControlKind.DOther, ControlKind.DDet, ControlKind.DDetLeakageOnly })
                Assert.Equal(200, table.Row(kind)!.Images);
            Assert.False(table.Row(ControlKind.DRandLeakageOnly)!.Attacked);
            // The profiles' construction: Keller Jordan's, with the images kept clean counted on the leakage-only rows only.
            Assert.Equal("tiled", table.Pattern);
            Assert.InRange(table.Row(ControlKind.DRandLeakageOnly)!.KeptClean!.Value, 0, 200);
            Assert.NotNull(table.Row(ControlKind.DDetLeakageOnly)!.KeptClean);
            Assert.Null(table.Row(ControlKind.DRand)!.KeptClean);
            Assert.True(table.Row(ControlKind.DOther)!.Attacked);
            Assert.Equal("other", table.Row(ControlKind.DOther)!.Rule);
            // The successful-only view: as many images as D_rand has successes on the subset, all of them successes.
            var drand = table.Row(ControlKind.DRand)!;
            var successful = table.Row(ControlKind.DRandSuccessful)!;
            Assert.Equal(1.0, successful.AttackSuccess);
            Assert.Equal(Math.Round(drand.AttackSuccess * drand.Images), successful.Images);
            foreach (var row in table.Rows)
            {
                Assert.True(row.Images >= ControlsStep.MinImages && row.NotMeasured is null, $"{row.Set}: {row.Images} images, {row.NotMeasured}");
                Assert.InRange(row.TransferAccuracy!.Value, 0, 1);
                Assert.InRange(row.TransferTrainAccuracy!.Value, 0, 1);
                var probe = row.Probe!;
                Assert.Equal(probe.Accuracy - probe.NullAccuracy, probe.ExcessOverNull, 12);
                Assert.Contains(row.Verdict, new[] { "above", "below", "undecided" });
                Assert.NotNull(probe.FeatureShift);
            }
            // The random rules' nulls over fresh draws of their rule; D_det's from the training bootstrap.
            Assert.Equal(3, table.Row(ControlKind.DOther)!.Probe!.NullDraws!.K);
            Assert.Null(table.Row(ControlKind.DDetLeakageOnly)!.Probe!.NullDraws);
            // D_other: the attack's results under its own key, on the controls' images.
            var dother = results.Adversarial!.Dother!;
            Assert.Equal(200, dother.Images);
            Assert.Equal(0, dother.TargetEqualsLabel);
            Assert.True(results.SecondsOf("controls") is not null && results.SecondsOf("dOther") is not null);
            // Each leakage-only set's metadata says what made it.
            var meta = JsonFile.ReadObject(Path.Combine(dir["run"], "controls", "leakage_only_ddet", Artifacts.MetadataFile))["settings"]!;
            Assert.Equal("deterministic", (string?)meta["rule"]);
            Assert.Equal(settings.Attack.Eps, (double)meta["eps"]!);
            Assert.Equal(settings.Seed, (long)meta["seed"]!);
            Assert.Equal(200, (long)meta["count"]!);
        }

        var log = new List<string>();
        using (var again = ExperimentRun.Open(settings, dir["data"], dir["run"], new RunObserver(log.Add)))
        {
            var outcome = again.Controls();
            Assert.Equal(ResultsJson.Node(table).ToJsonString(), ResultsJson.Node(outcome.Result).ToJsonString());
        }
        Assert.Contains(log, l => l.StartsWith("Reusing the D_other data set"));
        Assert.Contains(log, l => l.StartsWith("Reusing the leakage-only D_rand rule set"));
        Assert.Contains(log, l => l.StartsWith("Control probes: reusing"));
        Assert.Equal(7, log.Count(l => l.StartsWith("Transfer model on") && l.Contains(": reusing")));
        Assert.DoesNotContain(log, l => l.Contains(": training ("));
    }
}
