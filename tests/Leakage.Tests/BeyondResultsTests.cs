using System.Text.Json.Nodes;
using Leakage.Experiment;
using Leakage.Tests.Support;

namespace Leakage.Tests;

/// <summary>
/// The extension settings (beyond.*) share results.json with the main steps: notebook 07 switches
/// them on in the run folder of notebooks 01-06 (see <see cref="BeyondResults"/>).
/// </summary>
public class BeyondResultsTests
{
    static readonly ExperimentSettings Main = Profiles.Get("quick") with { Device = "cpu" };

    /// <summary>Opens the run folder with <paramref name="settings"/> (no data is loaded) and returns the log.</summary>
    static List<string> Open(TempDir dir, ExperimentSettings settings, Action<ResultsFile>? write = null)
    {
        var log = new List<string>();
        using var run = ExperimentRun.Open(settings, dir["no-data-needed"], dir.Path, new RunObserver(log.Add));
        write?.Invoke(run.Results);
        return log;
    }

    static JsonObject Results(TempDir dir) => new ResultsFile(dir.Path).Read();

    static void WriteSweep(ResultsFile results)
    {
        results.Set("beyond.radiusSweep", new JsonArray(new JsonObject { ["radius"] = 0.1 }));
        results.Set("seconds.radiusSweep", 1.5);
    }

    [Fact]
    public void Switching_the_extensions_on_keeps_the_results_of_the_main_steps_and_records_the_extension_settings()
    {
        using var dir = new TempDir();
        Open(dir, Main, r => r.Set("standardModel", new JsonObject { ["testAccuracy"] = 0.5 }));

        var log = Open(dir, Main.WithExtensionsOn());

        var results = Results(dir);
        Assert.Equal(0.5, (double)results["standardModel"]!["testAccuracy"]!);
        Assert.DoesNotContain(log, l => l.Contains("starts over"));
        var beyond = results["settings"]!["beyond"]!;
        Assert.True((bool)beyond["nonlinear"]!);
        Assert.Equal(BeyondSettings.DefaultSweepRadii, beyond["sweepRadii"]!.AsArray().Select(v => (double)v!));
        Assert.Equal(BeyondSettings.DefaultSeeds, (int)beyond["seeds"]!);
    }

    [Fact]
    public void Opening_without_the_extensions_afterwards_keeps_their_results_and_the_settings_that_made_them()
    {
        using var dir = new TempDir();
        var on = Main.WithExtensionsOn();
        Open(dir, on, r =>
        {
            r.Set("standardModel", new JsonObject { ["testAccuracy"] = 0.5 });
            WriteSweep(r);
        });

        Open(dir, Main);

        var results = Results(dir);
        Assert.NotNull(results["standardModel"]);
        Assert.NotNull(results["beyond"]!["radiusSweep"]);
        Assert.Equal(1.5, (double)results["seconds"]!["radiusSweep"]!);
        Assert.Equal(on.Beyond.SweepRadii, results["settings"]!["beyond"]!["sweepRadii"]!.AsArray().Select(v => (double)v!));
        Assert.True((bool)results["settings"]!["beyond"]!["nonlinear"]!);
    }

    [Fact]
    public void An_extension_switched_on_with_other_settings_loses_its_stale_results_and_says_so()
    {
        using var dir = new TempDir();
        var first = Main with { Beyond = Main.Beyond with { SweepRadii = [0.1, 0.5], Nonlinear = true } };
        Open(dir, first, r =>
        {
            WriteSweep(r);
            r.Set("beyond.nonlinear", new JsonObject { ["cleanAccuracy"] = 0.4 });
            r.Set("standardModel", new JsonObject { ["testAccuracy"] = 0.5 });
        });

        var log = Open(dir, first with { Beyond = first.Beyond with { SweepRadii = [0.25] } });

        var results = Results(dir);
        Assert.Null(results["beyond"]!["radiusSweep"]);
        Assert.Null(results["seconds"]!["radiusSweep"]);
        Assert.Equal(0.4, (double)results["beyond"]!["nonlinear"]!["cleanAccuracy"]!);   // its settings did not change
        Assert.NotNull(results["standardModel"]);
        Assert.Equal([0.25], results["settings"]!["beyond"]!["sweepRadii"]!.AsArray().Select(v => (double)v!));
        Assert.Contains(log, l => l.StartsWith("beyond.radiusSweep: made with other settings (beyond.sweepRadii: [0.1,0.5] -> [0.25])"));
    }

    [Fact]
    public void A_change_of_a_main_setting_still_starts_results_json_over()
    {
        using var dir = new TempDir();
        Open(dir, Main.WithExtensionsOn(), r =>
        {
            r.Set("standardModel", new JsonObject { ["testAccuracy"] = 0.5 });
            WriteSweep(r);
        });

        var log = Open(dir, Main.WithExtensionsOn() with { Attack = Main.Attack with { Steps = Main.Attack.Steps + 1 } });

        var results = Results(dir);
        Assert.Null(results["standardModel"]);
        Assert.Null(results["beyond"]);
        Assert.Contains(log, l => l.Contains("attack.steps") && l.Contains("results.json starts over"));
    }

    [Fact]
    public void A_tool_that_opens_a_run_under_other_settings_with_its_own_results_file_leaves_the_runs_results_json_as_it_was()
    {
        using var dir = new TempDir();
        Open(dir, Main, r => r.Set("standardModel", new JsonObject { ["testAccuracy"] = 0.5 }));
        var before = File.ReadAllText(Path.Combine(dir.Path, ResultsFile.FileName));

        var other = Main with { Compute = Main.Compute with { Precision = "bf16" }, Attack = Main.Attack with { Steps = 1 } };
        using (var tool = ExperimentRun.Open(other, dir["no-data-needed"], dir.Path, resultsFileName: "fidelity-results.json"))
            tool.Results.Set("standardModel", new JsonObject { ["testAccuracy"] = 0.25 });

        Assert.Equal(before, File.ReadAllText(Path.Combine(dir.Path, ResultsFile.FileName)));
        Assert.Equal(0.25, (double)new ResultsFile(dir.Path, "fidelity-results.json").Read()["standardModel"]!["testAccuracy"]!);
    }

    [Fact]
    public void Extensions_switched_on_for_notebook_07_keep_every_value_the_user_chose()
    {
        var chosen = Main with
        {
            Beyond = Main.Beyond with { SweepRadii = [0.3], Seeds = 2, NonlinearEpochs = 7, NonlinearRadius = 0.5, ReleasedData = "/data/release" },
        };
        var on = chosen.WithExtensionsOn().Beyond;
        Assert.True(on.Nonlinear);
        Assert.Equal([0.3], on.SweepRadii);
        Assert.Equal(2, on.Seeds);
        Assert.Equal(7, on.NonlinearEpochs);
        Assert.Equal(0.5, on.NonlinearRadius);
        Assert.Equal("/data/release", on.ReleasedData);

        var defaults = Main.WithExtensionsOn().Beyond;
        Assert.Null(defaults.ReleasedData);                              // only the user knows where the release is
        Assert.Equal(Main.Beyond.NonlinearEpochs, defaults.NonlinearEpochs); // the profile's size
        Assert.Equal(BeyondSettings.DefaultSeeds, defaults.Seeds);
        Assert.Equal(Artifacts(Main with { Beyond = new() }), Artifacts(Main.WithExtensionsOn() with { Beyond = new() })); // nothing else changes
    }

    static string Artifacts(ExperimentSettings s) => Leakage.IO.Artifacts.ToNode(s).ToJsonString();

    [Fact]
    public void Every_extension_setting_belongs_to_an_extension_so_that_the_recorded_settings_describe_its_results()
    {
        var keys = Leakage.IO.Artifacts.ToNode(new BeyondSettings()).AsObject().Select(kv => kv.Key).Order();
        Assert.Equal(keys, StepCatalog.Extensions.SelectMany(e => e.BeyondSettings).Order());
    }
}
