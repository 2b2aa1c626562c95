using System.Globalization;
using Leakage.Experiment;
using Leakage.Probes;

namespace Leakage.Notebooks.Tests;

/// <summary>README's and docs/results.md's leakage verdicts and p-values follow from the recorded cpu run's results.json.</summary>
public class RecordedClaimsTests
{
    static string Read(params string[] parts) => File.ReadAllText(Path.Combine([Repo.Root, .. parts]));

    /// <summary>The p-value of a recorded comparison as the readers take it: from the interval's own standard error.</summary>
    static double PValue(ComparisonResult c) => c.McnemarP is null
        ? ExcessUncertainty.FromFirstPass(c.ExcessOverNull, new ConfidenceInterval(c.ExcessInterval[0], c.ExcessInterval[1], 0.95),
            c.TrainingResamples ?? 0, c.IntervalCovers).PValue
        : c.PValue;

    static string Short(double p) => p.ToString(p < 0.001 ? "0E+0" : "0.00", CultureInfo.InvariantCulture).Replace("E-", "e-");

    [Fact]
    public void The_verdicts_and_p_values_quoted_for_the_recorded_cpu_run_are_the_ones_its_results_json_gives()
    {
        var results = ResultsFile.Load(Path.Combine(Repo.Root, "docs", "results", "cpu", "results.json"));
        var answer = RunAnswer.Of(results);
        var leakage = results.Leakage!;
        var rows = answer.Leakage.ToDictionary(r => r.Set);
        var readme = Read("README.md");
        var docs = Read("docs", "results.md");
        foreach (var (set, comparison) in new[] { ("D_rand", leakage.Comparisons.Drand), ("D_det", leakage.Comparisons.Ddet) })
        {
            var verdict = RunAnswer.Verdict(comparison);
            Assert.Equal(verdict, rows[set].Verdict);
            Assert.Contains(verdict, new[] { "above", "below", "undecided" });
            var quoted = $"p = {Short(PValue(comparison))}: {verdict}";
            Assert.Contains(quoted, readme);
            Assert.Contains(quoted, docs);
        }
        var notLabel = leakage.Comparisons.DrandTargetNotLabel;
        Assert.Contains($"p = {Short(PValue(notLabel))}: {RunAnswer.Verdict(notLabel)}", docs);
        // McNemar's p-values are quoted as such, never as the evidence.
        Assert.Contains($"McNemar, test points only: {Short(leakage.Comparisons.Drand.McnemarP ?? leakage.Comparisons.Drand.PValue)}", docs);
    }

    [Fact]
    public void The_leakage_only_and_own_class_transfers_quoted_are_the_recorded_measurements()
    {
        // tools/fidelity rows: one JSON object per variant, keyed by its transfer recipe.
        var rows = File.ReadAllLines(Path.Combine(Repo.Root, "docs", "results", "fidelity", "controls-keller.jsonl"))
            .Select(l => System.Text.Json.Nodes.JsonNode.Parse(l)!.AsObject())
            .ToDictionary(o => (string)o["recipe"]!);
        string Percent(string recipe, string key) => (100 * (double)rows[recipe][key]!).ToString("0.0", CultureInfo.InvariantCulture) + "%";
        var (attacked, own, keller) = (Percent("run's", "transfer_drand"), Percent("ownClean=true,only=drand", "transfer_drand"), Percent("leak=keller", "transfer_drand"));
        Assert.True((double)rows["ownClean=true,only=drand"]["transfer_drand"]! > (double)rows["run's"]["transfer_drand"]!);
        foreach (var text in new[] { Read("README.md"), Read("docs", "results.md"), Read("notebooks", "06-leakage.ipynb"), Read("notebooks", "04-transfer.ipynb") })
        {
            Assert.Contains(attacked, text);
            Assert.Contains(own, text);
            Assert.Contains(keller, text);
        }
        Assert.Contains($"{(long)rows["leak=keller"]["leakKeptClean_drand"]!:N0}", Read("docs", "results.md"));
        Assert.Contains(Percent("leak=keller", "transfer_ddet"), Read("docs", "results.md"));
        Assert.Contains(Percent("leak=gaussian", "transfer_drand"), Read("docs", "results.md"));

        // The 50-step row of the same measurement, beside the 10-step one in docs/fidelity.md.
        var fifty = File.ReadAllLines(Path.Combine(Repo.Root, "docs", "results", "fidelity", "transfer-levers-airbench.jsonl"))
            .Select(l => System.Text.Json.Nodes.JsonNode.Parse(l)!.AsObject()).Single(o => (int?)o["steps"] == 50 && (int?)o["images"] == 10_000);
        var fidelity = Read("docs", "fidelity.md");
        Assert.Contains($"| 10 steps of 0.1 (the profile's) | {Percent("run's", "success_drand")} / {Percent("run's", "success_ddet")} |", fidelity);
        Assert.Contains($"{attacked} / {Percent("run's", "transfer_ddet")}", fidelity);
        Assert.Contains($"**{(100 * (double)fifty["transfer_drand"]!).ToString("0.0", CultureInfo.InvariantCulture)}%** / {(100 * (double)fifty["transfer_ddet"]!).ToString("0.0", CultureInfo.InvariantCulture)}%", fidelity);
        // 40 transfer epochs on all 50,000 of the recorded run's D_rand, against the recorded 20.
        var forty = File.ReadAllLines(Path.Combine(Repo.Root, "docs", "results", "fidelity", "transfer-levers-airbench.jsonl"))
            .Select(l => System.Text.Json.Nodes.JsonNode.Parse(l)!.AsObject()).Single(o => (int?)o["images"] == 50_000 && (int?)o["transferEpochs_drand"] == 40);
        var recorded = ResultsFile.Load(Path.Combine(Repo.Root, "docs", "results", "cpu", "results.json")).Transfer!.Drand!.Value;
        Assert.Contains($"**{HeadlineRow.Percent((double)forty["transfer_drand"]!)}**", fidelity);
        Assert.Contains($"against the recorded {HeadlineRow.Percent(recorded)} with 20 epochs", fidelity);
    }

    [Fact]
    public void The_whitening_diagnostics_quoted_are_the_recorded_rows()
    {
        var rows = File.ReadAllLines(Path.Combine(Repo.Root, "docs", "results", "fidelity", "transfer-levers-airbench.jsonl"))
            .Select(l => System.Text.Json.Nodes.JsonNode.Parse(l)!.AsObject())
            .Where(o => (int?)o["images"] == 10_000 && (string?)o["attack"] == "the run's" && (string?)o["transferArch_drand"] == "airbench w32")
            .GroupBy(o => (string)o["recipe"]!).ToDictionary(g => g.Key, g => g.Last());
        string P(string recipe, string key) => HeadlineRow.Percent((double)rows[recipe][key]!);
        string Cell(string recipe, string set) => $"{P(recipe, $"transfer_{set}")} ({P(recipe, $"transferFit_{set}")})";
        var fidelity = Read("docs", "fidelity.md");
        // The profile's whitening, rerun with the same binary as the diagnostics: the recorded row to the last digit.
        Assert.Equal((double)rows["run's"]["transfer_drand"]!, (double)rows["only=drand"]["transfer_drand"]!);
        Assert.Contains($"| airbench's: per direction, eps 5e-4 (the profile's; rerun today, identical) | {Cell("only=drand", "drand")} | {Cell("run's", "ddet")} |", fidelity);
        Assert.Contains($"| **flat**: the same directions, one common scale | **{Cell("whiten=flat", "drand")}** | **{Cell("whiten=flat", "ddet")}** |", fidelity);
        foreach (var eps in new[] { "5e-6", "5e-5", "5e-3" })
            Assert.Contains($"| per direction, eps {eps} | {Cell($"whitenEps={eps},only=drand", "drand")} |", fidelity);
        Assert.Contains($"| the same, seed 11 | {Cell("whitenEps=5e-3,seed=11,only=drand", "drand")} |", fidelity);
        // What the reading rests on: flat whitening fits a minority of D_rand's labels where airbench's fits nearly all.
        Assert.InRange((double)rows["whiten=flat"]["transferFit_drand"]!, 0, 0.5);
        Assert.InRange((double)rows["only=drand"]["transferFit_drand"]!, 0.99, 1);
    }

    static List<System.Text.Json.Nodes.JsonObject> FidelityRows(string file) =>
        File.ReadAllLines(Path.Combine(Repo.Root, "docs", "results", "fidelity", file)).Select(l => System.Text.Json.Nodes.JsonNode.Parse(l)!.AsObject()).ToList();

    [Fact]
    public void The_attacked_models_training_length_and_the_success_curve_quoted_are_the_recorded_rows()
    {
        static string P(System.Text.Json.Nodes.JsonObject o, string key) => HeadlineRow.Percent((double)o[key]!);
        var fidelity = Read("docs", "fidelity.md");
        // The same tools/fidelity measurement (10,000 images, the same subset and targets) on the 10- and the 20-epoch model.
        var e10 = FidelityRows("controls-keller.jsonl").First(o => (string?)o["recipe"] == "run's");
        var e20 = FidelityRows("transfer-levers-airbench.jsonl").Single(o => ((string)o["model"]!).Contains(" e20 ", StringComparison.Ordinal));
        Assert.Equal((int)e10["images"]!, (int)e20["images"]!);
        string Row(System.Text.Json.Nodes.JsonObject o, bool bold) =>
            $"| {P(o, "testAccuracy")} / {P(o, "trainAccuracy")} | {P(o, "success_drand")} / {P(o, "success_ddet")} | " +
            $"{(bold ? "**" : "")}{P(o, "transfer_drand")}{(bold ? "**" : "")} / {P(o, "transfer_ddet")} ({P(o, "transferFit_drand")} / {P(o, "transferFit_ddet")}) |";
        Assert.Contains($"| airbench94, 10 epochs (the profile's) {Row(e10, false)}", fidelity);
        Assert.Contains($"| airbench94, 20 epochs {Row(e20, true)}", fidelity);
        Assert.True((double)e20["transfer_drand"]! > (double)e10["transfer_drand"]! + 0.1);
        // Fit without the generalisation: the no-augmentation model fits its attacked images better than the 20-epoch one and transfers far less.
        var noAug = FidelityRows("transfer-levers-airbench.jsonl").Single(o => ((string)o["model"]!).EndsWith(" augFalse", StringComparison.Ordinal));
        Assert.Equal((int)e10["images"]!, (int)noAug["images"]!);
        Assert.Contains($"| airbench94, 6 epochs without augmentation (Zen 3, float32 attack) {Row(noAug, false)}", fidelity);
        Assert.True((double)noAug["trainAccuracy"]! > (double)e20["trainAccuracy"]! && (double)noAug["transfer_drand"]! < (double)e20["transfer_drand"]! - 0.1);
        foreach (var text in new[] { fidelity, Read("README.md"), Read("docs", "results.md") })
            Assert.Contains($"from {P(e10, "transfer_drand")} to {P(e20, "transfer_drand")}", text);

        // Every model of the success curve, with its 10- and 20-step rows.
        foreach (var model in FidelityRows("attack-curve.jsonl").GroupBy(o => ((int)o["scheduleEpochs"]!, (int)o["epoch"]!)))
        {
            var (ten, twenty) = (model.Single(o => (int)o["steps"]! == 10), model.Single(o => (int)o["steps"]! == 20));
            var label = $"{model.Key.Item2} of {model.Key.Item1}{(model.Key.Item1 == model.Key.Item2 ? " (finished)" : "")}";
            Assert.Contains($"| {label} | {P(ten, "testAccuracy")} | {P(ten, "attackedImagesAccuracy")} | {P(ten, "success_drand")} / {P(ten, "success_ddet")} | " +
                $"{P(twenty, "success_drand")} / {P(twenty, "success_ddet")} |", fidelity);
        }
    }

    /// <summary>One row of docs/results.md's recorded controls table, as the recorded run's results.json gives it.</summary>
    static string ControlsTableRow(ControlRow row)
    {
        static string P(double? f) => f is { } v ? HeadlineRow.Percent(v) : "-";
        var transfer = row.TransferAccuracy is null ? "-" : $"{P(row.TransferAccuracy)} ({P(row.TransferTrainAccuracy)})";
        var clean = row.KeptClean is { } k ? k.ToString("N0", CultureInfo.InvariantCulture) : "-";
        return $"| {row.Set} | {row.Images.ToString("N0", CultureInfo.InvariantCulture)} | {clean} | {P(row.AttackSuccess)} | {transfer} | " +
               $"{P(row.Probe?.Accuracy)} | {P(row.Probe?.NullAccuracy)} | {row.ExcessText} | {row.Verdict} |";
    }

    [Fact]
    public void The_recorded_controls_table_is_the_recorded_runs_and_its_sets_are_Keller_Jordans()
    {
        var results = ResultsFile.Load(Path.Combine(Repo.Root, "docs", "results", "cpu", "results.json"));
        var controls = results.Controls!;
        Assert.Equal("tiled", controls.Pattern);
        Assert.Equal(Enum.GetValues<ControlKind>().Length, controls.Rows.Count);
        var docs = Read("docs", "results.md");
        foreach (var row in controls.Rows)
        {
            Assert.Equal(row.Kind is ControlKind.DRandLeakageOnly or ControlKind.DDetLeakageOnly, row.KeptClean is not null);
            Assert.Contains(ControlsTableRow(row), docs);
        }
        // README and notebook 06 quote the leakage-only D_rand rule against D_rand on the same images.
        var (drand, leakageOnly) = (controls.Row(ControlKind.DRand)!, controls.Row(ControlKind.DRandLeakageOnly)!);
        foreach (var text in new[] { Read("README.md"), Read("notebooks", "06-leakage.ipynb") })
            Assert.Contains($"{HeadlineRow.Percent(leakageOnly.TransferAccuracy!.Value)} against D_rand's {HeadlineRow.Percent(drand.TransferAccuracy!.Value)}", text);
        Assert.Contains($"{leakageOnly.KeptClean:N0}", Read("notebooks", "06-leakage.ipynb"));
        // The Gaussian controls of the run before stay beside it as history, with their own table.
        var gaussian = ResultsFile.Load(Path.Combine(Repo.Root, "docs", "results", "cpu-2026-12-07-gaussian", "results.json")).Controls!;
        Assert.Equal("gaussian", gaussian.Pattern);
        foreach (var row in gaussian.Rows) Assert.Contains(ControlsTableRow(row), docs);
    }

    [Fact]
    public void The_airbench_performance_figures_quoted_are_the_recorded_bench_runs()
    {
        var bench = System.Text.Json.Nodes.JsonNode.Parse(Read("docs", "results", "bench-2026-12-07-zen3", "bench.json"))!;
        var workers = System.Text.Json.Nodes.JsonNode.Parse(Read("docs", "results", "bench-workers-2026-12-07-zen3", "bench.json"))!["workers"]!;
        static string F(System.Text.Json.Nodes.JsonNode n) => ((double)n).ToString("0.00", CultureInfo.InvariantCulture);
        static string Spread(System.Text.Json.Nodes.JsonNode s) => $"**{F(s["median"]!)}** [{F(s["min"]!)}, {F(s["max"]!)}]";
        string Share(string step) => ((double)bench["kernels"]![step]!["convolutionShare"]!).ToString("P0", CultureInfo.InvariantCulture).Replace(" ", "");
        // Both sides in float32 on that CPU: the PGD ratio is like for like.
        Assert.DoesNotContain("avx512_bf16", bench["machine"]!["vectorExtensions"]!.AsArray().Select(v => (string)v!));
        var readme = Read("README.md");
        Assert.Contains($"PGD ran {F(bench["pyTorch"]!["ratios"]!["pgd"]!)}x", readme);
        Assert.Contains($"training {F(bench["pyTorch"]!["ratios"]!["training"]!)}x as fast", readme);
        Assert.Contains($"convolutions {Share("training")} of a training", readme);
        Assert.Contains($"and {Share("pgd")} of a PGD step", readme);
        var performance = Read("docs", "performance.md");
        Assert.Contains(Spread(bench["pyTorch"]!["ratioSpread"]!["pgd"]!), performance);
        Assert.Contains(Spread(bench["pyTorch"]!["ratioSpread"]!["training"]!), performance);
        Assert.Contains($"({Share("training")}) in convolutions", performance);
        Assert.Contains($"ratio {Spread(workers["ratio"]!)}", performance);
    }

    [Fact]
    public void The_cross_class_training_difference_quoted_is_the_two_recorded_models_of_the_same_settings()
    {
        // The profile's 10-epoch airbench94, one row key, two trainings: fidelity.md names the Zen 3 one by its 5,007 s.
        var models = File.ReadAllLines(Path.Combine(Repo.Root, "docs", "results", "fidelity", "airbench-levers.jsonl"))
            .Select(l => System.Text.Json.Nodes.JsonNode.Parse(l)!.AsObject())
            .Where(o => (string?)o["model"] == "airbench w64 e10 lr1.5 wd0.00133 augTrue")
            .Select(o => (Test: (double)o["testAccuracy"]!, Train: (double)o["trainAccuracy"]!, Seconds: (double)o["trainSeconds"]!))
            .Distinct().ToList();
        Assert.Equal(2, models.Count);
        var (zen3, zen5) = models[0].Seconds > models[1].Seconds ? (models[0], models[1]) : (models[1], models[0]);
        Assert.Contains(zen3.Seconds.ToString("N0", CultureInfo.InvariantCulture) + " s", Read("docs", "fidelity.md"));
        Assert.NotEqual(zen3.Test, zen5.Test);
        static string P(double v) => (100 * v).ToString("0.00", CultureInfo.InvariantCulture) + "%";
        Assert.Contains($"{P(zen3.Test)} on a Zen 3 against {P(zen5.Test)}", Read("README.md"));
        var docs = Read("docs", "results.md");
        Assert.Contains($"{P(zen3.Test)} test / {P(zen3.Train)} on its training images on a Zen 3", docs);
        Assert.Contains($"{P(zen5.Test)} / {P(zen5.Train)} on a Zen 5", docs);
    }

    public static TheoryData<string> RecordedResults => new(Directory.EnumerateFiles(Path.Combine(Repo.Root, "docs", "results"), "results.json", SearchOption.AllDirectories)
        .Select(f => Path.GetRelativePath(Repo.Root, f)).OrderBy(f => f, StringComparer.Ordinal));

    [Theory]
    [MemberData(nameof(RecordedResults))]
    public void No_recorded_results_json_holds_a_machine_path(string file)
    {
        var strings = new List<string>();
        void Walk(System.Text.Json.Nodes.JsonNode? n)
        {
            switch (n)
            {
                case System.Text.Json.Nodes.JsonObject o: foreach (var (_, v) in o) Walk(v); break;
                case System.Text.Json.Nodes.JsonArray a: foreach (var v in a) Walk(v); break;
                case System.Text.Json.Nodes.JsonValue v when v.TryGetValue<string>(out var text): strings.Add(text); break;
            }
        }
        Walk(System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(Repo.Root, file))));
        Assert.NotEmpty(strings);
        Assert.DoesNotContain(strings, t => Path.IsPathRooted(t) || t.StartsWith('~') || System.Text.RegularExpressions.Regex.IsMatch(t, @"^[A-Za-z]:\\"));
    }
}
