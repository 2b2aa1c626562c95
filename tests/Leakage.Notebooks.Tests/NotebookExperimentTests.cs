using System.Text.Json.Nodes;
using Leakage.Experiment;
using Leakage.Interactive;
using Leakage.IO;

namespace Leakage.Notebooks.Tests;

public class NotebookExperimentTests
{
    static NotebookSettings Read(IReadOnlyDictionary<string, string> variables) =>
        NotebookSettings.FromEnvironment(name => variables.GetValueOrDefault(name), Repo.Notebooks);

    [Fact]
    public void Notebook_settings_are_the_profile_with_device_threads_and_overrides_applied()
    {
        var s = Read(new Dictionary<string, string>
        {
            [NotebookSettings.ProfileVariable] = "quick",
            [NotebookSettings.DeviceVariable] = "cpu",
            [NotebookSettings.ThreadsVariable] = "1",
            [NotebookSettings.SettingsVariable] = "data.trainCount=500, attack.steps=3, robust.units=pixel",
        }).ExperimentSettings();
        var quick = Profiles.Get("quick");
        Assert.Equal("quick", s.Profile);
        Assert.Equal("cpu", s.Device);
        Assert.Equal(1, s.Threads);
        Assert.Equal(500, s.Data.TrainCount);
        Assert.Equal(quick.Data.TestCount, s.Data.TestCount);
        Assert.Equal(3, s.Attack.Steps);
        Assert.Equal(quick.Attack.Eps, s.Attack.Eps);
        Assert.Equal("pixel", s.Robust.Units);
    }

    [Fact]
    public void An_unknown_profile_or_setting_names_the_variable_and_what_is_valid()
    {
        var profile = Assert.Throws<ArgumentException>(() => Read(new Dictionary<string, string> { [NotebookSettings.ProfileVariable] = "test" }).ExperimentSettings());
        Assert.Contains(NotebookSettings.ProfileVariable, profile.Message);
        Assert.Contains("quick, cpu, cpu-small, paper", profile.Message);

        var key = Assert.Throws<ArgumentException>(() => Read(new Dictionary<string, string> { [NotebookSettings.SettingsVariable] = "attack.stepz=3" }).ExperimentSettings());
        Assert.Contains(NotebookSettings.SettingsVariable, key.Message);
        Assert.Contains("attack.stepz", key.Message);

        var range = Assert.Throws<ArgumentException>(() => Read(new Dictionary<string, string> { [NotebookSettings.SettingsVariable] = "attack.eps=-1" }).ExperimentSettings());
        Assert.Contains("attack.eps", range.Message);
    }

    [Fact]
    public void The_environment_given_to_notebooks_reproduces_the_settings_exactly()
    {
        var settings = SettingsOverrides.Apply(Profiles.Get("quick"),
            ["seed=7", "device=cpu", "threads=2", "data.trainCount=500", "standard.lr=0.02", "robust.units=pixel",
             "attack.randomStart=true", "beyond.sweepRadii=[0.1,0.2]", "beyond.releasedData=/some/folder"]);
        using var tmp = new TempDir();
        var env = NotebookExperiment.Environment(settings, Path.Combine(tmp.Path, "data"), Path.Combine(tmp.Path, "out"), Repo.Notebooks);

        Assert.Equal("quick", env[NotebookSettings.ProfileVariable]);
        Assert.Equal("cpu", env[NotebookSettings.DeviceVariable]);
        Assert.Equal("2", env[NotebookSettings.ThreadsVariable]);
        Assert.Equal("1", env[NotebookSettings.HeadlessVariable]);
        Assert.Equal(Path.Combine(tmp.Path, "out"), env[NotebookSettings.OutVariable]);
        // Only what differs from the profile travels in LEAKAGE_SETTINGS.
        var overrides = JsonNode.Parse(env[NotebookSettings.SettingsVariable])!.AsObject();
        Assert.Equal(["seed", "data", "standard", "attack", "robust", "beyond"], overrides.Select(kv => kv.Key));
        Assert.Equal(500, (int)overrides["data"]!["trainCount"]!);
        Assert.Single(overrides["data"]!.AsObject());

        var back = Read(env).ExperimentSettings();
        Assert.Null(Artifacts.Diff(Artifacts.ToNode(back), Artifacts.ToNode(settings), ""));
        Assert.Equal([0.1, 0.2], back.Beyond.SweepRadii);
    }

    [Fact]
    public void Differences_hold_only_the_changed_values_nested_by_section()
    {
        var quick = Profiles.Get("quick");
        Assert.Empty(NotebookExperiment.Differences(quick, quick));
        var diff = NotebookExperiment.Differences(quick, quick with { Seed = 3, Probe = quick.Probe with { Bootstrap = 50 } });
        Assert.Equal("{\"seed\":3,\"probe\":{\"bootstrap\":50}}", diff.ToJsonString());
    }

    [Fact]
    public void The_settings_table_shows_the_chosen_sections_and_refuses_unknown_ones()
    {
        var html = NotebookExperiment.SettingsTable(Profiles.Get("quick"), "attack").Markup;
        Assert.Contains("<th style=\"text-align:left\">attack.eps</th><td>0.5</td>", html);
        Assert.Contains("attack.randomStart", html);
        Assert.DoesNotContain("standard.", html);
        var e = Assert.Throws<ArgumentException>(() => NotebookExperiment.SettingsTable(Profiles.Get("quick"), "attacks"));
        Assert.Contains("Valid sections: data, standard, attack", e.Message);
    }

    [Fact]
    public void Checks_return_what_they_checked_and_name_the_quantity_when_they_fail()
    {
        Assert.Equal(0.25, Check.Fraction("accuracy", 0.25));
        Assert.Equal(3, Check.Equal("images", 3, 3));
        Assert.Equal(0.5, Check.AtMost("norm", 0.5, 0.5));
        Assert.Equal(1.0, Check.Close("gamma", 1.0, 1.0 + 1e-12, 1e-9));
        Assert.Contains("accuracy = 1.2 is outside its valid range [0, 1]", Assert.Throws<NotebookCheckException>(() => Check.Fraction("accuracy", 1.2)).Message);
        Assert.Contains("norm = NaN exceeds", Assert.Throws<NotebookCheckException>(() => Check.AtMost("norm", double.NaN, 1)).Message);
        Assert.Contains("images = 2 but 3 was expected", Assert.Throws<NotebookCheckException>(() => Check.Equal("images", 2, 3)).Message);
        Assert.IsAssignableFrom<InvalidOperationException>(Assert.Throws<NotebookCheckException>(() => Check.That(false, "no")));
    }

    [Fact]
    public void A_histogram_bins_every_value_once_over_shared_edges()
    {
        double[] a = [0, 0.1, 0.2, 0.5, 1.0];
        double[] b = [0.5, 0.5, 0.99];
        var (counts, centres) = Charts.Bin([a, b], bins: 4);
        Assert.Equal([3, 0, 1, 1], counts[0]);      // [0,.25) [.25,.5) [.5,.75) [.75,1] (the maximum goes in the last bin)
        Assert.Equal([0, 0, 2, 1], counts[1]);
        Assert.Equal([0.125, 0.375, 0.625, 0.875], centres);
        var html = Charts.ToNotebookHtml(Charts.Histogram("sizes", "norm", [("a", a), ("b", b)], bins: 4));
        Assert.Contains("\"type\":\"bar\"", html);
        Assert.Contains("\"barmode\":\"group\"", html);
        Assert.Throws<ArgumentException>(() => Charts.Histogram("x", "x", [("empty", Array.Empty<double>())]));
    }
}
